"""Key ceremonies (KEY-6): dual control, split knowledge, every component checked by its KCV."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sscard.api.refusals import refusals_audited
from sscard.audit import Actor, Channel
from sscard.audit.models import AuditEntry
from sscard.key_register.ceremony import add_component, cancel_ceremony, complete_ceremony, start_ceremony
from sscard.key_register.models.module_keys import KeyCeremony, KeyCeremonyComponent
from sscard.security_module.errors import (
    CeremonyError,
    CeremonyIncomplete,
    CeremonyNotFound,
    CeremonyNotOpen,
    CeremonySameCustodian,
    KcvMismatch,
    KeyInputInvalid,
    NotCustodian,
)
from sscard.security_module.hsm import HierarchyModule
from tests.security_module import reference as ref
from tests.security_module.conftest import staff

ALICE, BOB, CAROL = staff("alice"), staff("bob"), staff("carol")
OFFICER = staff("officer", role="security_officer")


def kcv(module: HierarchyModule, component: bytes) -> str:
    return ref.kcv(module.suite, component)


# rule KEY-6: two custodians' components, each KCV-checked, form the root; components are wiped
def test_two_custodians_form_the_root(uow, installed: HierarchyModule) -> None:
    ceremony = start_ceremony(uow, label="ROOT", purpose="root", actor=OFFICER)
    assert add_component(uow, ceremony_id=ceremony.id, component_hex=ref.C1.hex(), kcv=kcv(installed, ref.C1),
                         actor=ALICE) == 1  # fmt: skip
    sealed = uow.session.scalar(select(KeyCeremonyComponent.component_enc))
    assert sealed is not None and ref.C1 not in sealed  # kept only sealed while open
    assert not installed.has_root()  # nothing usable exists yet
    add_component(
        uow, ceremony_id=ceremony.id, component_hex=ref.C2.hex().upper(), kcv=kcv(installed, ref.C2), actor=BOB
    )
    done = complete_ceremony(uow, ceremony_id=ceremony.id, kcv=ref.kcv(installed.suite, ref.ROOT), actor=BOB)
    assert (done.state, done.key_version, done.kcv) == ("completed", 1, ref.kcv(installed.suite, ref.ROOT))
    assert installed.describe("ROOT").versions[1].origin == "ceremony"
    # components are wiped once the key is formed
    assert (
        uow.session.scalar(select(KeyCeremonyComponent).where(KeyCeremonyComponent.ceremony_id == ceremony.id)) is None
    )
    expected = ref.chain(installed.suite, ref.ROOT, "440304", "T1")
    assert installed.terminal_key_check_values(terminal_id="T1", region_code="440304", key_version=1) == (
        ref.kcv(installed.suite, expected["TMAC"]),
        ref.kcv(installed.suite, expected["TPIN"]),
    )
    audit = [
        e.action
        for e in uow.session.scalars(
            select(AuditEntry).where(AuditEntry.subject == f"ceremony:{done.id}").order_by(AuditEntry.id)
        )
    ]
    assert audit == ["key.ceremony.start", "key.ceremony.component", "key.ceremony.component", "key.ceremony.complete"]


# rule KEY-6: one custodian alone can never complete; the same custodian twice is refused
def test_one_custodian_cannot_complete(uow, installed: HierarchyModule) -> None:
    ceremony = start_ceremony(uow, label="KTK/HANDOVER", purpose="transport", region_code="440300", actor=ALICE)
    add_component(uow, ceremony_id=ceremony.id, component_hex=ref.C1.hex(), kcv=kcv(installed, ref.C1), actor=ALICE)
    with pytest.raises(CeremonySameCustodian):
        add_component(uow, ceremony_id=ceremony.id, component_hex=ref.C2.hex(), kcv=kcv(installed, ref.C2), actor=ALICE)
    with pytest.raises(CeremonyIncomplete):
        complete_ceremony(uow, ceremony_id=ceremony.id, kcv=None, actor=ALICE)
    with pytest.raises(NotCustodian):  # an officer cannot enter a component or complete
        add_component(
            uow, ceremony_id=ceremony.id, component_hex=ref.C2.hex(), kcv=kcv(installed, ref.C2), actor=OFFICER
        )
    assert "KTK/HANDOVER" not in {e.label for e in installed.entries()}
    # three required: two are not enough either
    three = start_ceremony(uow, label="ZPK/BANK9", purpose="zone_pin", components=3, actor=OFFICER)
    for who, part in ((ALICE, ref.C1), (BOB, ref.C2)):
        add_component(uow, ceremony_id=three.id, component_hex=part.hex(), kcv=kcv(installed, part), actor=who)
    with pytest.raises(CeremonyIncomplete):
        complete_ceremony(uow, ceremony_id=three.id, kcv=None, actor=BOB)
    add_component(uow, ceremony_id=three.id, component_hex=bytes(16).hex(), kcv=kcv(installed, bytes(16)), actor=CAROL)
    assert complete_ceremony(uow, ceremony_id=three.id, kcv=None, actor=CAROL).kcv == ref.kcv(installed.suite, ref.ROOT)


# rule KEY-6: a component with a wrong KCV is refused, audited, and nothing is stored
def test_wrong_kcv_is_refused_and_audited(uow, installed: HierarchyModule) -> None:
    ceremony = start_ceremony(uow, label="ROOT", purpose="root", actor=OFFICER)
    uow.commit()
    with pytest.raises(KcvMismatch), refusals_audited(uow, actor=ALICE, action="key.ceremony.component",
                                                       subject=f"ceremony:{ceremony.id}"):  # fmt: skip
        add_component(uow, ceremony_id=ceremony.id, component_hex=ref.C1.hex(), kcv="ABCDEF", actor=ALICE)
    assert (
        uow.session.scalar(select(KeyCeremonyComponent).where(KeyCeremonyComponent.ceremony_id == ceremony.id)) is None
    )
    refused = uow.session.scalar(
        select(AuditEntry).where(AuditEntry.result == "refused", AuditEntry.subject == f"ceremony:{ceremony.id}")
    )
    assert refused is not None and "KCV_MISMATCH" in refused.details and ref.C1.hex() not in refused.details.lower()
    with pytest.raises(KeyInputInvalid):
        add_component(uow, ceremony_id=ceremony.id, component_hex="12", kcv="ABCDEF", actor=ALICE)
    # a wrong final KCV refuses the completion and leaves the ceremony open
    add_component(uow, ceremony_id=ceremony.id, component_hex=ref.C1.hex(), kcv=kcv(installed, ref.C1), actor=ALICE)
    add_component(uow, ceremony_id=ceremony.id, component_hex=ref.C2.hex(), kcv=kcv(installed, ref.C2), actor=BOB)
    with pytest.raises(KcvMismatch):
        complete_ceremony(uow, ceremony_id=ceremony.id, kcv="000000", actor=ALICE)
    assert uow.session.get(KeyCeremony, ceremony.id).state == "open" and not installed.has_root()
    cancel_ceremony(uow, ceremony_id=ceremony.id, actor=OFFICER)
    with pytest.raises(CeremonyNotOpen):
        complete_ceremony(uow, ceremony_id=ceremony.id, kcv=None, actor=ALICE)


def _refusal(error: type[Exception], call, **kwargs) -> str:
    with pytest.raises(error) as info:
        call(**kwargs)
    return info.value.detail  # type: ignore[attr-defined]


# rule KEY-6: who may start, what a ceremony may form and with how many components — each refusal in words
def test_start_refusals_say_why(uow, installed: HierarchyModule) -> None:
    start = {"label": "KTK/CITY01", "purpose": "transport", "actor": OFFICER}
    clerk = staff("clerk", role="counter_clerk")
    assert _refusal(NotCustodian, start_ceremony, uow=uow, **(start | {"actor": clerk})) == (
        "a key custodian or security officer starts a ceremony"
    )
    system = Actor(kind="system", id="system", channel=Channel.CLI, role="key_custodian")
    assert _refusal(NotCustodian, start_ceremony, uow=uow, **(start | {"actor": system})).startswith("a key custodian")
    for components in (1, 10):
        assert _refusal(KeyInputInvalid, start_ceremony, uow=uow, components=components, **start) == (
            "a ceremony has 2 to 9 components (dual control)"
        )
    assert _refusal(KeyInputInvalid, start_ceremony, uow=uow, **(start | {"label": "TMK/440300"})) == (
        "region keys are derived or imported, not formed in a ceremony"
    )
    shape = "a ceremony forms ROOT, or a transport / zone PIN key labelled like KTK/CITY01"
    for label, purpose in (
        ("KTK/CITY01", "root"),
        ("ktk/city01", "transport"),
        ("K" * 17, "zone_pin"),
        ("", "transport"),
    ):
        assert (
            _refusal(KeyInputInvalid, start_ceremony, uow=uow, **(start | {"label": label, "purpose": purpose}))
            == shape
        )
    nine = start_ceremony(uow, components=9, **start)
    assert (
        _refusal(CeremonyError, start_ceremony, uow=uow, **start) == f"ceremony {nine.id} for KTK/CITY01 is still open"
    )
    cancel_ceremony(uow, ceremony_id=nine.id, actor=ALICE)  # a custodian may cancel too
    two = start_ceremony(uow, **(start | {"actor": ALICE}))  # the label is free again
    assert (two.label, two.purpose, two.level, two.region_code, two.components_required, two.state, two.started_by) == (
        "KTK/CITY01", "transport", "local", "000000", 2, "open", "alice"
    )  # fmt: skip
    root = start_ceremony(uow, label="ROOT", purpose="transport", region_code="440300", actor=OFFICER)
    assert (root.purpose, root.level, root.region_code) == ("root", "national", "000000")  # from the hierarchy
    assert _refusal(NotCustodian, cancel_ceremony, uow=uow, ceremony_id=root.id, actor=clerk) == (
        "a key custodian or security officer cancels a ceremony"
    )
    assert _refusal(CeremonyNotFound, add_component, uow=uow, ceremony_id=10**9, component_hex=ref.C1.hex(),
                    kcv="", actor=ALICE) == f"no key ceremony {10**9}"  # fmt: skip
    cancel_ceremony(uow, ceremony_id=root.id, actor=OFFICER)
    assert _refusal(CeremonyNotOpen, add_component, uow=uow, ceremony_id=root.id, component_hex=ref.C1.hex(),
                    kcv="", actor=ALICE) == f"ceremony {root.id} is cancelled"  # fmt: skip


# rule KEY-6: each step is audited with what it did (never a component in clear); the KCV is read in any case
# and with blanks around it; the components are counted and the custodians named at completion
def test_each_step_is_audited_with_its_details(uow, installed: HierarchyModule) -> None:
    import json

    ceremony = start_ceremony(uow, label="ZPK/BANK7", purpose="zone_pin", components=2, actor=OFFICER)
    first_kcv = kcv(installed, ref.C1)
    assert add_component(uow, ceremony_id=ceremony.id, component_hex=f" {ref.C1.hex()} ",
                         kcv=f" {first_kcv.lower()} ", actor=BOB) == 1  # fmt: skip
    assert add_component(uow, ceremony_id=ceremony.id, component_hex=ref.C2.hex(), kcv=kcv(installed, ref.C2),
                         actor=ALICE) == 2  # fmt: skip
    stored = uow.session.scalars(select(KeyCeremonyComponent).where(KeyCeremonyComponent.ceremony_id == ceremony.id))
    assert sorted((c.custodian, c.kcv) for c in stored) == sorted(
        [("bob", first_kcv), ("alice", kcv(installed, ref.C2))]
    )
    done = complete_ceremony(uow, ceremony_id=ceremony.id, kcv=f" {ref.kcv(installed.suite, ref.ROOT)} ", actor=ALICE)
    assert (done.state, done.completed_by, done.completed_at is not None) == ("completed", "alice", True)
    entries = uow.session.scalars(
        select(AuditEntry).where(AuditEntry.subject == f"ceremony:{ceremony.id}").order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.actor_id, json.loads(e.details)) for e in entries] == [
        ("key.ceremony.start", "officer", {"label": "ZPK/BANK7", "purpose": "zone_pin", "components": 2}),
        ("key.ceremony.component", "bob", {"custodian": "bob", "component_kcv": first_kcv, "entered": 1}),
        ("key.ceremony.component", "alice",
         {"custodian": "alice", "component_kcv": kcv(installed, ref.C2), "entered": 2}),
        ("key.ceremony.complete", "alice", {"label": "ZPK/BANK7", "version": done.key_version, "kcv": done.kcv,
                                            "custodians": ["alice", "bob"]}),
    ]  # fmt: skip
    assert all(ref.C1.hex() not in e.details.lower() for e in entries)
    other = start_ceremony(uow, label="ZPK/BANK8", purpose="zone_pin", actor=OFFICER)
    cancelled = cancel_ceremony(uow, ceremony_id=other.id, actor=OFFICER)
    assert cancelled.state == "cancelled"
    last = uow.session.scalars(select(AuditEntry).where(AuditEntry.subject == f"ceremony:{other.id}")
                               .order_by(AuditEntry.id.desc())).first()  # fmt: skip
    assert (last.action, last.actor_id) == ("key.ceremony.cancel", "officer")


# rule KEY-6: a component is exactly 32 hexadecimal digits; its KCV must match; nothing stored otherwise
def test_a_component_must_be_32_hex_digits(uow, installed: HierarchyModule) -> None:
    ceremony = start_ceremony(uow, label="KTK/CITY02", purpose="transport", actor=OFFICER)
    for bad in ("", ref.C1.hex()[:-1], ref.C1.hex() + "0", "g" * 32):
        assert _refusal(KeyInputInvalid, add_component, uow=uow, ceremony_id=ceremony.id, component_hex=bad,
                        kcv="", actor=ALICE) == "a component is 32 hexadecimal digits"  # fmt: skip
    assert _refusal(KcvMismatch, add_component, uow=uow, ceremony_id=ceremony.id, component_hex=ref.C1.hex(),
                    kcv="", actor=ALICE) == "the component does not match its key check value"  # fmt: skip
    assert (
        uow.session.scalar(select(KeyCeremonyComponent).where(KeyCeremonyComponent.ceremony_id == ceremony.id)) is None
    )
    add_component(uow, ceremony_id=ceremony.id, component_hex=ref.C1.hex(), kcv=kcv(installed, ref.C1), actor=ALICE)
    assert _refusal(CeremonyIncomplete, complete_ceremony, uow=uow, ceremony_id=ceremony.id, kcv=None,
                    actor=ALICE) == "1 of 2 custodians have entered a component"  # fmt: skip


# rule KEY-6: cancelling a ceremony wipes its own sealed components, not those of another open ceremony; the key
# a ceremony forms enters the inventory under the custodian who completed it (not as the system)
def test_cancel_wipes_only_its_own_components_and_completion_registers_as_the_custodian(
    uow, installed: HierarchyModule
) -> None:
    import json

    dropped = start_ceremony(uow, label="KTK/CITY03", purpose="transport", actor=OFFICER)
    kept = start_ceremony(uow, label="KTK/CITY04", purpose="transport", actor=OFFICER)
    add_component(uow, ceremony_id=dropped.id, component_hex=ref.C1.hex(), kcv=kcv(installed, ref.C1), actor=ALICE)
    add_component(uow, ceremony_id=kept.id, component_hex=ref.C1.hex(), kcv=kcv(installed, ref.C1), actor=ALICE)
    cancel_ceremony(uow, ceremony_id=dropped.id, actor=OFFICER)
    assert list(uow.session.scalars(select(KeyCeremonyComponent.ceremony_id))) == [kept.id]
    add_component(uow, ceremony_id=kept.id, component_hex=ref.C2.hex(), kcv=kcv(installed, ref.C2), actor=BOB)
    done = complete_ceremony(uow, ceremony_id=kept.id, kcv=None, actor=BOB)
    registered = uow.session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "key.registered", AuditEntry.subject == f"key:KTK/CITY04@{done.key_version}"
        )
    )
    assert registered is not None and registered.actor_id == "bob"
    assert (json.loads(registered.details)["kcv"], json.loads(registered.details)["origin"]) == (done.kcv, "ceremony")

"""Key ceremonies (KEY-6): dual control, split knowledge, every component checked by its KCV."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sscard.api.refusals import refusals_audited
from sscard.audit.models import AuditEntry
from sscard.key_register.ceremony import add_component, cancel_ceremony, complete_ceremony, start_ceremony
from sscard.key_register.models.module_keys import KeyCeremony, KeyCeremonyComponent
from sscard.security_module.errors import (
    CeremonyIncomplete,
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

"""KEY-6 in the service layer: creating, exporting, revoking or rotating the national root or a province
key takes two different authenticated custodians, whoever calls; city and local keys keep single control."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.key_register import inventory
from sscard.security_module.errors import DualControlRequired
from sscard.security_module.factory import open_soft_module
from sscard.security_module.hsm import HierarchyModule
from tests.conftest import dev_env
from tests.security_module.conftest import staff

ALICE = staff("custodian-alice")
BOB = staff("officer-bob", role="security_officer")
CLERK = staff("clerk-carol", role="counter_clerk")
TWO = (ALICE, BOB)


# rule KEY-6: one operator alone cannot create the root; nor the same person twice, nor a non-custodian
def test_root_needs_two_different_custodians(module: HierarchyModule) -> None:
    for custodians in ((), (ALICE,), (ALICE, ALICE), (ALICE, CLERK)):
        with pytest.raises(DualControlRequired):
            module.init_root(custodians=custodians)
    assert not module.has_root()
    assert module.init_root(custodians=TWO).origin == "generated"


# rule KEY-6: rotate, revoke, export of the root or a province key; creating a province key; city keys alone
def test_province_and_root_operations(module: HierarchyModule) -> None:
    module.init_root(custodians=TWO)
    with pytest.raises(DualControlRequired):
        module.derive_region("440000", custodians=(ALICE,))
    module.derive_region("440000", custodians=TWO)
    module.derive_region("440300")  # a city under a held province key: single control
    module.generate_local("KTK/CITY01", purpose="transport", region="440300")
    refused = (
        lambda c: module.rotate("ROOT", custodians=c),
        lambda c: module.rotate("PMK/440000", custodians=c),
        lambda c: module.revoke("PMK/440000", reason="lost", custodians=c),
        lambda c: module.export_wrapped("PMK/440000", transport="KTK/CITY01", custodians=c),
        lambda c: module.import_wrapped(
            "PMK/450000", version=1, wrapped=b"\0" * 24, transport="KTK/CITY01", kcv="000000", custodians=c
        ),  # fmt: skip
    )
    for operation in refused:
        for custodians in ((), (ALICE,), (BOB, BOB)):
            with pytest.raises(DualControlRequired):
                operation(custodians)
    assert module.describe("PMK/440000").current == 1 and module.describe("ROOT").current == 1
    assert module.rotate("TMK/440300").version == 2  # city keys: as before
    assert module.export_wrapped("CMK/440300", transport="KTK/CITY01")["label"] == "CMK/440300"
    assert module.export_wrapped("PMK/440000", transport="KTK/CITY01", custodians=TWO)["label"] == "PMK/440000"
    assert module.rotate("PMK/440000", custodians=TWO).version == 2
    assert module.rotate("ROOT", custodians=(BOB, ALICE)).version == 2
    assert module.revoke("PMK/440000", reason="carrier lost", custodians=TWO) == [1, 2]


# rule KEY-6: the development root (make run, the demo) is generated without custodians only with SSCARD_ENV=dev
def test_dev_root_only_in_dev(tmp_path) -> None:
    with pytest.raises(DualControlRequired, match="SSCARD_ENV=dev"):  # the suite runs with SSCARD_ENV=test
        open_soft_module(tmp_path / "a", suite="sm", master_key=secrets.token_hex(16), dev_root=True)
    with dev_env():
        module = open_soft_module(tmp_path / "b", suite="sm", master_key=secrets.token_hex(16), dev_root=True)
    assert module.describe("ROOT").versions[1].origin == "generated-dev"


# rule KEY-6: the inventory audits both custodians: the actor's entry names them, the second has its own
def test_both_custodians_audited(uow, installed: HierarchyModule) -> None:
    with pytest.raises(DualControlRequired):
        inventory.init_root(uow, actor=ALICE)
    inventory.init_root(uow, actor=ALICE, second=BOB)
    entries = list(uow.session.scalars(select(AuditEntry).where(AuditEntry.subject == "key:ROOT@1")))
    init = [e for e in entries if e.action == "key.root.init" and e.actor_id in (ALICE.id, BOB.id)]
    witness = [e for e in entries if e.action == "key.dual_control" and e.actor_id in (ALICE.id, BOB.id)]
    assert len(init) == 1 and init[0].actor_id == ALICE.id and BOB.id in init[0].details
    assert len(witness) == 1 and witness[0].actor_id == BOB.id and "key.root.init" in witness[0].details

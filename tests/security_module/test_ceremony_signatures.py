"""Key ceremony steps are signed by the custodian or officer who took them (KEY-6, non-repudiation:
GB/T 39786-2021 level 3, docs/compliance.md): each step's audit entry verifies under its own actor's
SM2 key, and under nobody else's."""

from __future__ import annotations

from sqlalchemy import select

from sscard.audit.models import AuditEntry, AuditSignature, StaffSigningKey
from sscard.audit.signatures import record_bytes, sm2_verify, verify_signatures
from sscard.key_register.ceremony import add_component, complete_ceremony, start_ceremony
from sscard.security_module.hsm import HierarchyModule
from tests.security_module import reference as ref
from tests.security_module.conftest import staff


# rule KEY-6: dual control made provable: the start, each component and the completion are signed by
# the officer and by each custodian with their own key; one custodian's key does not verify another's step
def test_ceremony_steps_signed_by_each_actor(uow, installed: HierarchyModule) -> None:
    officer, alice, bob = staff("t27-officer", role="security_officer"), staff("t27-alice"), staff("t27-bob")
    ceremony = start_ceremony(uow, label="ZPK/T27", purpose="zone_pin", actor=officer)
    for who, part in ((alice, ref.C1), (bob, ref.C2)):
        add_component(uow, ceremony_id=ceremony.id, component_hex=part.hex(), kcv=ref.kcv(installed.suite, part),
                      actor=who)  # fmt: skip
    complete_ceremony(uow, ceremony_id=ceremony.id, kcv=None, actor=bob)
    entries = uow.session.scalars(
        select(AuditEntry).where(AuditEntry.subject == f"ceremony:{ceremony.id}").order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.actor_id) for e in entries] == [
        ("key.ceremony.start", officer.id), ("key.ceremony.component", alice.id),
        ("key.ceremony.component", bob.id), ("key.ceremony.complete", bob.id),
    ]  # fmt: skip
    keys = {k.username: bytes(k.public_key) for k in uow.session.scalars(select(StaffSigningKey))}
    for entry in entries:
        signature = uow.session.get(AuditSignature, entry.id)
        assert signature is not None and signature.signer == entry.actor_id
        assert sm2_verify(keys[entry.actor_id], record_bytes(entry), bytes(signature.signature))
    alice_step, bob_step = entries[1], entries[2]
    assert not sm2_verify(
        keys[alice.id], record_bytes(bob_step), bytes(uow.session.get(AuditSignature, bob_step.id).signature)
    )
    assert not sm2_verify(
        keys[bob.id], record_bytes(alice_step), bytes(uow.session.get(AuditSignature, alice_step.id).signature)
    )
    ids = {e.id for e in entries}
    assert not [p for p in verify_signatures(uow).problems if p.entry_id in ids]

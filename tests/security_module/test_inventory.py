"""The key inventory (database mirror of the module's directory): every change audited, refusals too."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sscard.api.refusals import refusals_audited
from sscard.audit.models import AuditEntry
from sscard.key_register import inventory
from sscard.key_register.models.module_keys import SecurityKey
from sscard.security_module.errors import KeyNotFound, KeyRevoked
from sscard.security_module.hsm import HierarchyModule
from tests.security_module.conftest import staff

OFFICER = staff("sec-officer", role="security_officer")
SECOND = staff("custodian-two")  # KEY-6: the root and province keys take a second custodian


def actions(uow, subject_prefix: str = "key:") -> list[tuple[str, str]]:
    rows = uow.session.scalars(
        select(AuditEntry).where(AuditEntry.subject.like(subject_prefix + "%")).order_by(AuditEntry.id)
    )
    return [(r.action, r.result) for r in rows]


# rule KEY-1, KEY-3: root → province → city keys, listed with metadata and KCVs only, all audited
def test_init_derive_list(uow, installed: HierarchyModule) -> None:
    root = inventory.init_root(uow, actor=OFFICER, second=SECOND)
    assert (root.label, root.level, root.state, root.origin) == ("ROOT", "national", "active", "generated")
    made = inventory.derive_region(uow, region_code="320100", actor=OFFICER, second=SECOND)
    assert [r.label for r in made] == ["PMK/320000", "CMK/320100", "TMK/320100", "CRD/320100"]
    assert all(len(r.kcv) == 6 and r.backend == installed.backend.name for r in made)
    assert made[1].parent == "PMK/320000@1" and made[1].level == "city"
    labels = {r.label for r in inventory.list_keys(uow)}
    assert {"DATA", "INDEX", "AUDIT", "PVK", "ROOT", "PMK/320000"} <= labels
    audit = actions(uow)
    assert ("key.root.init", "ok") in audit and ("key.derive", "ok") in audit and ("key.registered", "ok") in audit
    summary = inventory.key_summary(made[0])
    assert set(summary) >= {"label", "level", "region", "purpose", "version", "kcv", "state", "created", "backend"}


# rule KEY-9: revoke and rotate by label, as the key-management register's bridge expects
def test_bridge_contract(uow, installed: HierarchyModule) -> None:
    inventory.init_root(uow, actor=OFFICER, second=SECOND)
    assert inventory.get_key(uow, label="TMK/320100") is None
    installed.terminal_key_version(region_code="320102")  # first use derives the city's keys
    assert inventory.get_key(uow, label="TMK/320100") is not None  # mirrored with key.registered
    inventory.schedule_rotation(uow, label="TMK/320100", reason="carrier lost", actor=OFFICER)
    assert not inventory.is_rotated(uow, label="TMK/320100")
    inventory.rotate_key(uow, label="TMK/320100", actor=OFFICER)
    assert inventory.is_rotated(uow, label="TMK/320100")
    rows = inventory.list_keys(uow, label="TMK/320100")
    assert [(r.version, r.current, r.rotated_at is not None) for r in rows] == [(1, False, True), (2, True, False)]
    assert inventory.revoke_key(uow, label="TMK/320100", reason="compromised", actor=OFFICER) == [1, 2]
    assert {r.state for r in inventory.list_keys(uow, region_code="320100") if r.label == "TMK/320100"} == {"revoked"}
    with pytest.raises(KeyRevoked):
        installed.terminal_mac(terminal_id="T1", region_code="320102", key_version=2, data=b"x")
    wanted = ("key.rotate", "key.revoke", "key.rotation_scheduled")
    assert [a for a in actions(uow, "key:TMK/320100") if a[0] in wanted] == [
        ("key.rotation_scheduled", "ok"), ("key.rotate", "ok"), ("key.revoke", "ok")
    ]  # fmt: skip


# rule KEY-3: a refused operation changes nothing and is audited with its code
def test_refusals_are_audited_and_change_nothing(uow, installed: HierarchyModule) -> None:
    before = len(list(uow.session.scalars(select(SecurityKey))))
    with pytest.raises(KeyNotFound), refusals_audited(uow, actor=OFFICER, action="key.derive", subject="region:330100"):
        inventory.derive_region(uow, region_code="330100", actor=OFFICER)  # no root held yet
    # By action too: the session's database may already hold this subject's other entries (a synthetic
    # import that places people in 330102 adds the city 330100 with a "region.add" entry).
    refused = uow.session.scalar(
        select(AuditEntry).where(AuditEntry.subject == "region:330100", AuditEntry.action == "key.derive")
    )
    assert refused is not None and refused.result == "refused" and "KEY_NOT_FOUND" in refused.details
    assert len(list(uow.session.scalars(select(SecurityKey)))) == before
    assert "PMK/330000" not in {e.label for e in installed.entries()}


def test_export_is_audited_without_key_bytes(uow, installed: HierarchyModule) -> None:
    # rule KEY-3 — export only under a transport key; the audit records KCVs, never the wrapped key
    inventory.init_root(uow, actor=OFFICER, second=SECOND)
    inventory.generate_key(uow, label="KTK/JS01", purpose="transport", region_code="320100", actor=OFFICER)
    out = inventory.export_key(uow, label="CMK/320100", transport="KTK/JS01", actor=OFFICER)
    entry = uow.session.scalar(select(AuditEntry).where(AuditEntry.action == "key.export"))
    assert entry is not None and out["kcv"] in entry.details and out["wrapped"] not in entry.details

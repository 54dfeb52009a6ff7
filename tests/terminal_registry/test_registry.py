"""The terminal registry (rule CH-3): enrollment by authorised staff, status changes, audit (rule CH-4)."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sscard.audit import Actor
from sscard.audit.models import AuditEntry
from sscard.security_module import get_security_module
from sscard.security_module.diversify import terminal_master_label
from sscard.staff.roles import Role
from sscard.terminal.client import generate_enrollment_key
from sscard.terminal.envelope import public_key_bytes
from sscard.terminal_registry.errors import TerminalExists, TerminalPublicKeyInvalid, TerminalStateConflict
from sscard.terminal_registry.models import InstitutionType, TerminalStatus
from sscard.terminal_registry.service import (
    block_terminal,
    list_terminals,
    register_terminal,
    rekey_terminal,
    retire_terminal,
    unblock_terminal,
)
from tests.staff.factories import ensure_region
from tests.terminal_registry.conftest import REGION

ACTOR = Actor.system()


def _public_key() -> bytes:
    return public_key_bytes(generate_enrollment_key())


def _register(uow, **overrides):  # type: ignore[no-untyped-def]
    ensure_region(uow, REGION)
    args = {
        "institution_name": "测试医院",
        "institution_type": InstitutionType.HOSPITAL,
        "region_code": REGION,
        "public_key": _public_key(),
        "suite": "sm",
        "actor": ACTOR,
    }
    return register_terminal(uow, **{**args, **overrides})


def _actions(uow, terminal_id: str) -> list[str]:
    subject = f"terminal:{terminal_id}"
    return list(
        uow.session.scalars(select(AuditEntry.action).where(AuditEntry.subject == subject).order_by(AuditEntry.id))
    )


def test_register_records_the_terminal_and_audits(uow) -> None:
    # rule CH-3 — registered to an institution and a region; rule CH-4 — audited.
    terminal = _register(uow)
    assert terminal.terminal_id.startswith("T" + REGION) and len(terminal.terminal_id) == 15
    assert terminal.status == TerminalStatus.ACTIVE
    # KEY-3: the terminal key is diversified from the city TMK's current version
    assert terminal.key_version == get_security_module().terminal_key_version(region_code=REGION)
    assert len(terminal.public_key_fingerprint) == 64
    assert _actions(uow, terminal.terminal_id) == ["terminal.register"]
    assert terminal.terminal_id in {t.terminal_id for t in list_terminals(uow, region_prefix="4403")}
    assert terminal.terminal_id not in {t.terminal_id for t in list_terminals(uow, region_prefix="11")}


def test_status_changes_follow_the_rules_and_are_audited(uow) -> None:
    # rule CH-3 — blocked terminals can come back; retired ones never do.
    tid = _register(uow).terminal_id
    block_terminal(uow, terminal_id=tid, reason="lost, 联系 13800138000", actor=ACTOR)
    with pytest.raises(TerminalStateConflict):
        block_terminal(uow, terminal_id=tid, reason="", actor=ACTOR)
    terminal = unblock_terminal(uow, terminal_id=tid, reason="found", actor=ACTOR)
    assert terminal.status == TerminalStatus.ACTIVE
    terminal = retire_terminal(uow, terminal_id=tid, reason="replaced", actor=ACTOR)
    for change in (block_terminal, unblock_terminal, retire_terminal):
        with pytest.raises(TerminalStateConflict):
            change(uow, terminal_id=tid, reason="", actor=ACTOR)
    assert _actions(uow, tid) == ["terminal.register", "terminal.block", "terminal.unblock", "terminal.retire"]


def test_reason_is_masked(uow) -> None:
    # No personal data in clear in the registry or the audit log.
    terminal = block_terminal(uow, terminal_id=_register(uow).terminal_id, reason="holder 13800138000", actor=ACTOR)
    assert "13800138000" not in (terminal.status_reason or "")


# Named ids: the last point is random, and pytest-xdist needs every worker to collect the same ids.
@pytest.mark.parametrize(
    "point", [b"", bytes(65), b"\x04" + bytes(64), _public_key()[:-1]], ids=["empty", "zeros", "zero-point", "cut"]
)
def test_bad_public_key_is_refused(uow, point: bytes) -> None:
    with pytest.raises(TerminalPublicKeyInvalid):
        _register(uow, public_key=point)


def test_fixed_ids_are_unique(uow) -> None:
    _register(uow, terminal_id="T440304FIXED1")
    with pytest.raises(TerminalExists):
        _register(uow, terminal_id="T440304FIXED1")


def test_rekey_moves_to_a_new_version(uow) -> None:
    # rule KEY-3 — a new key version for a new public key; the old one stops verifying.
    # rule KEY-6 — a terminal already on the TMK's current version makes the TMK rotate; the old
    # version stays valid for the city's other terminals until they re-key.
    module = get_security_module()
    terminal = _register(uow)
    before = terminal.key_version
    terminal = rekey_terminal(uow, terminal_id=terminal.terminal_id, public_key=_public_key(), actor=ACTOR)
    assert terminal.key_version == before + 1 == module.terminal_key_version(region_code=REGION)
    assert module.key_state(terminal_master_label(REGION), before) == "active"
    assert _actions(uow, terminal.terminal_id)[-1] == "terminal.rekey"


# --- staff API ---------------------------------------------------------------------------------------


def _enroll_body(**overrides: object) -> dict[str, object]:
    key = base64.b64encode(_public_key()).decode()
    return {"institution": "社区卫生服务站", "institution_type": "community_health_station", "region_code": REGION,
            "public_key": key, **overrides}  # fmt: skip


def test_enrollment_answers_a_sealed_key(client: TestClient, staff_token) -> None:
    auth = {"Authorization": f"Bearer {staff_token(Role.ADMINISTRATOR, '440300')}"}
    response = client.post("/api/v1/terminal/enroll", json=_enroll_body(), headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"terminal_id", "institution", "institution_type", "region_code", "suite", "key_version",
                         "mac_kcv", "pin_kcv", "key_envelope"}  # fmt: skip
    # point, nonce, MAC key ‖ PIN key, tag
    assert len(base64.b64decode(body["key_envelope"])) == 65 + 12 + 32 + 16
    listed = client.get("/api/v1/terminals", headers=auth).json()
    assert body["terminal_id"] in {t["terminal_id"] for t in listed}
    one = client.get(f"/api/v1/terminals/{body['terminal_id']}", headers=auth).json()
    assert one["status"] == "active" and one["institution_type"] == "community_health_station"


def test_enrollment_defaults_to_the_staff_region(client: TestClient, staff_token) -> None:
    auth = {"Authorization": f"Bearer {staff_token(Role.SECURITY_OFFICER, REGION)}"}
    body = _enroll_body()
    del body["region_code"]
    assert client.post("/api/v1/terminal/enroll", json=body, headers=auth).json()["region_code"] == REGION


@pytest.mark.parametrize(
    ("role", "region", "body", "status", "code"),
    [
        (Role.COUNTER_CLERK, "440000", {}, 403, "ROLE_FORBIDDEN"),
        (Role.AUDITOR, "440000", {}, 403, "ROLE_FORBIDDEN"),
        (Role.SECURITY_OFFICER, "110000", {}, 403, "OUTSIDE_REGION"),
        (Role.SECURITY_OFFICER, "440000", {"public_key": "!" * 88}, 422, "TERMINAL_PUBLIC_KEY_INVALID"),
        (Role.SECURITY_OFFICER, "440000", {"public_key": base64.b64encode(bytes(65)).decode()}, 422,
         "TERMINAL_PUBLIC_KEY_INVALID"),
        (Role.SECURITY_OFFICER, "440000", {"institution_type": "casino"}, 422, "VALIDATION_FAILED"),
        (Role.SECURITY_OFFICER, "440000", {"region_code": "440399"}, 404, "REGION_NOT_FOUND"),
    ],
)  # fmt: skip
def test_enrollment_refusals(client: TestClient, staff_token, role, region, body, status, code) -> None:  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Bearer {staff_token(role, region)}"}
    response = client.post("/api/v1/terminal/enroll", json=_enroll_body(**body), headers=auth)
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_enrollment_needs_a_staff_token(client: TestClient) -> None:
    assert client.post("/api/v1/terminal/enroll", json=_enroll_body()).status_code == 401


def test_staff_of_another_region_cannot_block(client: TestClient, staff_token, enroll_terminal) -> None:
    profile = enroll_terminal()
    other = {"Authorization": f"Bearer {staff_token(Role.SECURITY_OFFICER, '110000')}"}
    response = client.post(f"/api/v1/terminals/{profile.terminal_id}/block", json={}, headers=other)
    assert (response.status_code, response.json()["code"]) == (403, "OUTSIDE_REGION")
    missing = client.post("/api/v1/terminals/T440304NOSUCH/block", json={}, headers=other)
    assert missing.json()["code"] == "TERMINAL_NOT_FOUND"

"""Signed terminal requests end to end over the app (rule CH-3): every refusal has its contract code,
is audited in its own transaction (rule CH-4), and the audit chain stays intact."""

from __future__ import annotations

import dataclasses
import json
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from sscard.security_module import get_security_module
from sscard.terminal import TerminalClient, TerminalError, TerminalProfile
from sscard.terminal.protocol import H_MAC, H_NONCE
from tests.conftest import dev_env
from tests.terminal_registry.conftest import BASE, REGION, assert_chain_ok, refusals


def _refused(client: TestClient, request: httpx.Request) -> dict[str, object]:
    response = client.send(request)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_enrolled_terminal_signs_an_echo(client: TestClient, enroll_terminal) -> None:
    # rule CH-3 — a registered terminal's MAC under its derived key is accepted.
    profile = enroll_terminal()
    assert profile.suite == "sm" and len(profile.mac_key) == len(profile.pin_key) == 16
    assert profile.mac_key != profile.pin_key
    assert profile.key_version == get_security_module().terminal_key_version(region_code=REGION)
    terminal = TerminalClient(BASE, profile, http=client)
    answer = terminal.echo("你好")
    assert answer["ok"] is True
    assert answer["terminal_id"] == profile.terminal_id
    assert answer["region_code"] == REGION and answer["institution_type"] == "pharmacy"
    assert answer["message"] == "你好"
    assert abs(answer["server_time"] - time.time()) < 5
    assert terminal.status()["terminal_id"] == profile.terminal_id  # a signed GET with an empty body
    # Query strings are part of what is signed.
    assert terminal.request("GET", "/terminal/status", params={"message": "中 文"})["message"] == "中 文"
    # a parameter the route does not take is refused (issue 22 item 3), signed or not
    refused = client.get("/api/v1/terminal/status", params={"probe": "x"})
    assert refused.status_code == 422 and refused.json()["code"] == "UNKNOWN_QUERY_PARAMETER"


def test_bad_mac_is_refused_and_audited(client: TestClient, enroll_terminal) -> None:
    # rule CH-3 — a flipped MAC bit, or a body changed after signing, fails with MAC_INVALID.
    profile = enroll_terminal()
    terminal = TerminalClient(BASE, profile, http=client)
    request = terminal.build_request("POST", "/terminal/echo", json_body={"message": "a"})
    mac = bytearray.fromhex(request.headers[H_MAC])
    mac[0] ^= 1
    request.headers[H_MAC] = mac.hex()
    assert _refused(client, request)["code"] == "MAC_INVALID"

    signed = terminal.build_request("POST", "/terminal/echo", json_body={"message": "a"})
    tampered = client.build_request("POST", str(signed.url), content=b'{"message":"b"}', headers=signed.headers)
    assert _refused(client, tampered)["code"] == "MAC_INVALID"

    # rule CH-4 — audited, with the code as result and the region of the claimed terminal.
    entries = refusals(profile.terminal_id)
    assert [e.result for e in entries] == ["MAC_INVALID", "MAC_INVALID"]
    assert entries[0].channel == "terminal" and entries[0].region == REGION
    assert_chain_ok()


@pytest.mark.parametrize("position", ["second", "middle", "second-last", "last"])
def test_a_mac_wrong_only_in_its_later_bytes_is_refused(client: TestClient, enroll_terminal, position: str) -> None:
    # rule CH-3 — every byte of the MAC counts: one that differs from the right one only after its start
    # (a comparison of a prefix would let it through) is refused with MAC_INVALID and audited.
    profile = enroll_terminal()
    terminal = TerminalClient(BASE, profile, http=client)
    request = terminal.build_request("POST", "/terminal/echo", json_body={"message": "a"})
    mac = bytearray.fromhex(request.headers[H_MAC])
    index = {"second": 1, "middle": len(mac) // 2, "second-last": len(mac) - 2, "last": len(mac) - 1}[position]
    mac[index] ^= 0x80
    request.headers[H_MAC] = mac.hex()
    assert _refused(client, request)["code"] == "MAC_INVALID"
    entries = refusals(profile.terminal_id)
    assert [e.result for e in entries] == ["MAC_INVALID"]
    # rule CH-4: the refusal names the claimed terminal's institution type and region
    assert (entries[0].role, entries[0].region) == ("pharmacy", REGION)
    # The right MAC on the same kind of request still passes: the refusal came from the changed byte.
    assert terminal.echo("a")["ok"] is True


def test_a_truncated_mac_is_refused(client: TestClient, enroll_terminal) -> None:
    # rule CH-3 — the right MAC's first half alone is not a MAC.
    profile = enroll_terminal()
    terminal = TerminalClient(BASE, profile, http=client)
    request = terminal.build_request("POST", "/terminal/echo", json_body={"message": "a"})
    mac = request.headers[H_MAC]
    request.headers[H_MAC] = mac[: len(mac) // 2]
    assert _refused(client, request)["code"] == "MAC_INVALID"


def test_a_malformed_header_is_audited_under_the_terminal_it_names(client: TestClient, enroll_terminal) -> None:
    # rule CH-4 (issue 26, surviving mutants): a request whose headers do not parse is refused, and its
    # refusal is audited under the terminal id it claims (when that is a well-formed id), not as "unknown"
    profile = enroll_terminal()
    terminal = TerminalClient(BASE, profile, http=client)
    request = terminal.build_request("POST", "/terminal/echo", json_body={"message": "a"})
    request.headers[H_NONCE] = "not-a-nonce"
    refused = _refused(client, request)
    assert refused["code"] in {"MAC_INVALID", "REPLAY", "TERMINAL_UNKNOWN", "UNAUTHENTICATED"}
    entries = refusals(profile.terminal_id)
    assert [e.result for e in entries] == [refused["code"]]
    # rule CH-3/CH-4: the answer and the audit entry both say which header is wrong
    why = f"{H_NONCE} is missing or is not 32 lower-case hex digits"
    assert refused["detail"] == why and json.loads(entries[0].details)["reason"] == why


def test_key_of_another_terminal_does_not_verify(client: TestClient, enroll_terminal) -> None:
    # rule KEY-3 — keys are per terminal: one terminal's key cannot sign for another.
    first, second = enroll_terminal(), enroll_terminal()
    impostor = dataclasses.replace(second, mac_key=first.mac_key)
    with pytest.raises(TerminalError) as info:
        TerminalClient(BASE, impostor, http=client).echo()
    assert info.value.code == "MAC_INVALID" and info.value.status == 401


def test_pin_key_does_not_mac_requests(client: TestClient, enroll_terminal) -> None:
    # rule KEY-3, CH-3 — a terminal's two keys have one purpose each: a request MACed under its PIN key fails.
    profile = enroll_terminal()
    TerminalClient(BASE, profile, http=client).echo()
    with pytest.raises(TerminalError) as info:
        TerminalClient(BASE, dataclasses.replace(profile, mac_key=profile.pin_key), http=client).echo()
    assert info.value.code == "MAC_INVALID" and info.value.status == 401


def test_wrong_key_version_is_refused(client: TestClient, enroll_terminal) -> None:
    profile = enroll_terminal()
    # Not the terminal's version: a new terminal takes the region's newest key version, which a test of
    # key rotation sharing this process's security module may already have moved past 1.
    with pytest.raises(TerminalError) as info:
        TerminalClient(BASE, dataclasses.replace(profile, key_version=profile.key_version + 1), http=client).echo()
    assert info.value.code == "MAC_INVALID"
    assert "key version" in refusals(profile.terminal_id)[-1].details


def test_replayed_request_is_refused(client: TestClient, enroll_terminal) -> None:
    # rule CH-3 — the same signed request twice: the second is a replay.
    profile = enroll_terminal()
    request = TerminalClient(BASE, profile, http=client).build_request("POST", "/terminal/echo", json_body={})
    assert client.send(request).status_code == 200
    assert _refused(client, request)["code"] == "REPLAY"
    # A new nonce alone does not help: the MAC covers it.
    request.headers[H_NONCE] = "f" * 32
    assert _refused(client, request)["code"] == "MAC_INVALID"
    assert [e.result for e in refusals(profile.terminal_id)] == ["REPLAY", "MAC_INVALID"]


# 125 s, not 121: the request is signed a moment before the server reads its clock, and on a loaded host
# (CI, load 20) that moment passed a second, so a request signed 121 s ahead arrived 120 s ahead (accepted)
@pytest.mark.parametrize("skew", [-125, 125])
def test_timestamp_outside_the_window_is_refused(client: TestClient, enroll_terminal, skew: int) -> None:
    # rule CH-3 — more than 120 s off the server clock, either way, is refused as REPLAY.
    profile = enroll_terminal()
    late = TerminalClient(BASE, profile, http=client, clock=lambda: time.time() + skew)
    with pytest.raises(TerminalError) as info:
        late.echo()
    assert info.value.code == "REPLAY"
    # Well within the window is fine.
    assert TerminalClient(BASE, profile, http=client, clock=lambda: time.time() + skew / 2).echo()["ok"]
    assert refusals(profile.terminal_id)[-1].result == "REPLAY"


def test_unknown_terminal_is_refused(client: TestClient, enroll_terminal) -> None:
    # rule CH-3 — an id that was never registered.
    ghost = dataclasses.replace(enroll_terminal(), terminal_id="T440304FFFFFFFF")
    with pytest.raises(TerminalError) as info:
        TerminalClient(BASE, ghost, http=client).echo()
    assert (info.value.code, info.value.detail) == ("TERMINAL_UNKNOWN", "not registered or not active")
    assert refusals("T440304FFFFFFFF")[-1].result == "TERMINAL_UNKNOWN"


def test_unsigned_request_is_refused(client: TestClient) -> None:
    response = client.post("/api/v1/terminal/echo", json={"message": "x"})
    assert response.status_code == 401 and response.json()["code"] == "TERMINAL_UNKNOWN"
    assert refusals("unknown")[-1].result == "TERMINAL_UNKNOWN"


def test_blocked_and_retired_terminals_are_refused(client: TestClient, enroll_terminal, staff_token) -> None:
    # rule CH-3 — a blocked terminal is refused with the same code as an unknown one.
    profile = enroll_terminal()
    terminal = TerminalClient(BASE, profile, http=client)
    auth = {"Authorization": f"Bearer {staff_token()}"}
    url = f"/api/v1/terminals/{profile.terminal_id}"

    blocked = client.post(f"{url}/block", json={"reason": "reported stolen"}, headers=auth)
    assert blocked.status_code == 200 and blocked.json()["status"] == "blocked"
    with pytest.raises(TerminalError) as info:
        terminal.echo()
    assert (info.value.code, info.value.detail) == ("TERMINAL_UNKNOWN", "not registered or not active")
    assert "blocked" in refusals(profile.terminal_id)[-1].details  # the audit says why; the caller does not

    assert client.post(f"{url}/unblock", json={"reason": "found"}, headers=auth).json()["status"] == "active"
    assert terminal.echo()["ok"] is True

    assert client.post(f"{url}/retire", json={}, headers=auth).json()["status"] == "retired"
    with pytest.raises(TerminalError) as info:
        terminal.echo()
    assert info.value.code == "TERMINAL_UNKNOWN"
    assert client.post(f"{url}/unblock", json={}, headers=auth).json()["code"] == "TERMINAL_STATE"
    assert_chain_ok()


def test_refusal_audit_survives_and_nothing_else_changes(client: TestClient, enroll_terminal) -> None:
    # rule CH-4 — the audit entry of a refused request is committed although the request rolled back.
    profile = enroll_terminal()
    before = len(refusals(profile.terminal_id))
    bad = dataclasses.replace(profile, mac_key=bytes(16))
    for _ in range(3):
        with pytest.raises(TerminalError):
            TerminalClient(BASE, bad, http=client).echo()
    assert len(refusals(profile.terminal_id)) == before + 3
    assert_chain_ok()


def test_intl_suite_uses_aes_cmac(client: TestClient, staff_token, tmp_path) -> None:
    # rule CH-3 — the suite announced at enrollment decides the MAC: AES-CMAC for intl.
    from sscard.security_module import get_security_module, set_security_module
    from sscard.security_module.factory import open_soft_module
    from sscard.terminal import enroll

    session_module = get_security_module()
    with dev_env():
        intl = open_soft_module(tmp_path, suite="intl", master_key="t", dev_root=True)

    class IntlTerminals:
        """The session module (same audit key, so the chain stays verifiable) with intl terminal keys."""

        suite = "intl"
        terminal_mac = intl.terminal_mac
        export_terminal_key = intl.export_terminal_key
        terminal_key_check_values = intl.terminal_key_check_values
        terminal_key_version = intl.terminal_key_version

        def __getattr__(self, name: str) -> object:
            return getattr(session_module, name)

    set_security_module(IntlTerminals())  # type: ignore[arg-type]
    try:
        profile: TerminalProfile = enroll(
            BASE, staff_token=staff_token(), institution="Intl clinic", institution_type="clinic",
            region_code=REGION, http=client,
        )  # fmt: skip
        assert profile.suite == "intl" and profile.pin_cipher == "aes"
        assert TerminalClient(BASE, profile, http=client).echo()["ok"] is True
    finally:
        set_security_module(session_module)
    assert_chain_ok()

"""The signed-request protocol, the key envelope and the local profile — no server, no database (rule CH-3)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms

from sscard.terminal import TerminalProfile, load_profile, save_profile
from sscard.terminal.envelope import EnvelopeError, open_envelope, public_key_bytes, seal_envelope
from sscard.terminal.profile import ProfileError, key_check_value
from sscard.terminal.protocol import (
    H_KEY_VERSION,
    H_MAC,
    H_NONCE,
    H_TERMINAL_ID,
    H_TIMESTAMP,
    MAC_INVALID,
    REPLAY,
    TERMINAL_UNKNOWN,
    ProtocolError,
    canonical_request,
    compute_mac,
    is_fresh,
    parse_headers,
    request_target,
    sign_request,
)

KEY = bytes(range(16))
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_canonical_request_is_seven_lf_joined_lines() -> None:
    # rule CH-3 — the exact bytes both sides MAC.
    data = canonical_request(
        method="post", target="/api/v1/terminal/echo?x=1", terminal_id="T1", timestamp=1700000000,
        nonce="0" * 32, key_version=3, body=b"",
    )  # fmt: skip
    assert data == (f"POST\n/api/v1/terminal/echo?x=1\nT1\n1700000000\n{'0' * 32}\n3\n{EMPTY_SHA256}").encode()
    assert not data.endswith(b"\n")


def test_every_field_changes_the_mac() -> None:
    # rule CH-3 — method, target, id, time, nonce, key version and body are all covered.
    base = {
        "method": "POST", "target": "/api/v1/terminal/echo", "terminal_id": "T1", "timestamp": 1700000000,
        "nonce": "a" * 32, "key_version": 1, "body": b'{"message":"hi"}',
    }  # fmt: skip
    macs = {compute_mac(KEY, "sm", canonical_request(**base))}  # type: ignore[arg-type]
    variants = {
        "method": "PUT", "target": "/api/v1/terminal/echo?x", "terminal_id": "T2", "timestamp": 1700000001,
        "nonce": "b" * 32, "key_version": 2, "body": b'{"message":"ho"}',
    }  # fmt: skip
    for field, value in variants.items():
        macs.add(compute_mac(KEY, "sm", canonical_request(**{**base, field: value})))  # type: ignore[arg-type]
    assert len(macs) == 1 + len(variants)


def test_request_target_keeps_the_query_as_sent() -> None:
    assert request_target("/a%20b", "") == "/a%20b"
    assert request_target("/a", "q=%E4%B8%AD&x=1") == "/a?q=%E4%B8%AD&x=1"


@pytest.mark.parametrize("target", ["api/v1/x", "/a b", "/a\nb", "/中"])
def test_target_must_be_an_ascii_path(target: str) -> None:
    with pytest.raises(ProtocolError):
        canonical_request(method="GET", target=target, terminal_id="T", timestamp=1, nonce="a" * 32, key_version=1,
                          body=b"")  # fmt: skip


def test_suites_use_sm4_or_aes_cmac() -> None:
    # rule CH-3 / KEY-3 — SM4-CMAC for suite sm, AES-CMAC for intl (NIST SP 800-38B).
    for suite, algorithm in (("sm", algorithms.SM4), ("intl", algorithms.AES)):
        mac = cmac.CMAC(algorithm(KEY))
        mac.update(b"data")
        assert compute_mac(KEY, suite, b"data") == mac.finalize()
    with pytest.raises(ProtocolError):
        compute_mac(KEY, "des", b"data")


def test_sign_then_parse_round_trip() -> None:
    signed = sign_request(key=KEY, suite="sm", method="GET", target="/x", terminal_id="T440304DEMO01",
                          key_version=2, body=b"")  # fmt: skip
    parsed = parse_headers(signed.as_dict())
    assert parsed == signed
    assert len(signed.nonce) == 32 and len(signed.mac) == 16


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        (H_TERMINAL_ID, None, TERMINAL_UNKNOWN),
        (H_TERMINAL_ID, "T 1", TERMINAL_UNKNOWN),
        (H_TERMINAL_ID, "T" * 33, TERMINAL_UNKNOWN),
        (H_KEY_VERSION, "0", MAC_INVALID),
        (H_KEY_VERSION, "x", MAC_INVALID),
        (H_MAC, None, MAC_INVALID),
        (H_MAC, "ab" * 15, MAC_INVALID),
        (H_TIMESTAMP, None, REPLAY),
        (H_TIMESTAMP, "-5", REPLAY),
        (H_TIMESTAMP, "1.5", REPLAY),
        (H_NONCE, None, REPLAY),
        (H_NONCE, "A" * 32, REPLAY),  # upper case would make "the same" nonce twice
        (H_NONCE, "a" * 31, REPLAY),
    ],
)
def test_malformed_headers_map_to_contract_codes(header: str, value: str | None, code: str) -> None:
    # rule CH-3 — a missing or malformed header fails the check it belongs to.
    headers = sign_request(key=KEY, suite="sm", method="GET", target="/x", terminal_id="T1", key_version=1,
                           body=b"").as_dict()  # fmt: skip
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    with pytest.raises(ProtocolError) as info:
        parse_headers(headers)
    assert info.value.code == code


def test_freshness_window_is_symmetric() -> None:
    # rule CH-3 — ±120 s: a terminal clock slightly ahead is as acceptable as one slightly behind.
    assert is_fresh(1000, 1120) and is_fresh(1120, 1000)
    assert not is_fresh(1000, 1121) and not is_fresh(1121, 1000)


# --- key envelope ---------------------------------------------------------------------------------


def test_envelope_opens_only_for_its_recipient_and_label() -> None:
    from sscard.terminal.client import generate_enrollment_key

    recipient, other = generate_enrollment_key(), generate_enrollment_key()
    envelope = seal_envelope(public_key_bytes(recipient), KEY, b"T1")
    assert open_envelope(recipient, envelope, b"T1") == KEY
    with pytest.raises(EnvelopeError):
        open_envelope(other, envelope, b"T1")
    with pytest.raises(EnvelopeError):
        open_envelope(recipient, envelope, b"T2")  # made for another terminal id
    with pytest.raises(EnvelopeError):
        open_envelope(recipient, envelope[:-1], b"T1")
    with pytest.raises(EnvelopeError):
        open_envelope(recipient, envelope[:40], b"T1")


def test_server_envelopes_open_with_the_sdk() -> None:
    # The security module seals with its own module; the SDK must open what it seals.
    from sscard.security_module.envelope import seal_envelope as server_seal
    from sscard.terminal.client import generate_enrollment_key

    recipient = generate_enrollment_key()
    assert open_envelope(recipient, server_seal(public_key_bytes(recipient), KEY, b"T9"), b"T9") == KEY


@pytest.mark.parametrize("point", [b"", b"\x04" + bytes(64), b"\x02" + bytes(32), bytes(65)])
def test_bad_public_keys_are_refused(point: bytes) -> None:
    with pytest.raises(EnvelopeError):
        seal_envelope(point, KEY, b"T1")


# --- profile ----------------------------------------------------------------------------------------


PIN_KEY = bytes(range(16, 32))


def _profile(key: bytes = KEY, suite: str = "sm") -> TerminalProfile:
    return TerminalProfile(
        terminal_id="T440304TEST01", suite=suite, key_version=1, mac_kcv=key_check_value(key, suite),
        pin_kcv=key_check_value(PIN_KEY, suite), region_code="440304", institution="测试药房",
        institution_type="pharmacy", api_url="http://x", mac_key=key, pin_key=PIN_KEY,
    )  # fmt: skip


def test_profile_is_private_and_round_trips(tmp_path: Path) -> None:
    path = save_profile(_profile(), tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_profile("T440304TEST01", tmp_path) == _profile()
    assert KEY.hex() not in repr(_profile()) and PIN_KEY.hex() not in repr(_profile())


def test_damaged_profiles_are_refused(tmp_path: Path) -> None:
    path = save_profile(_profile(), tmp_path)
    path.write_text(path.read_text().replace(KEY.hex(), bytes(16).hex()))
    with pytest.raises(ProfileError, match="check value"):
        load_profile("T440304TEST01", tmp_path)
    with pytest.raises(ProfileError):
        load_profile("T-missing", tmp_path)
    with pytest.raises(ProfileError):
        load_profile("../../etc/passwd", tmp_path)


# rule KEY-3: a profile from before the MAC/PIN key split (one key for both) is refused, not read
def test_single_key_profiles_are_refused(tmp_path: Path) -> None:
    import json

    old = {**_profile().to_json(), "key": KEY.hex(), "kcv": key_check_value(KEY, "sm")}
    for name in ("mac_key", "pin_key", "mac_kcv", "pin_kcv"):
        del old[name]
    (tmp_path / "T440304TEST01.json").write_text(json.dumps(old))
    with pytest.raises(ProfileError, match="re-key"):
        load_profile("T440304TEST01", tmp_path)
    same = {**_profile().to_json(), "pin_key": KEY.hex(), "pin_kcv": key_check_value(KEY, "sm")}
    (tmp_path / "T440304TEST01.json").write_text(json.dumps(same))
    with pytest.raises(ProfileError, match="differ"):
        load_profile("T440304TEST01", tmp_path)


def test_sdk_imports_without_server_modules() -> None:
    # A vendor embeds sscard.terminal with cryptography and httpx only.
    code = (
        "import sys, sscard.terminal\n"
        "server = [m for m in sys.modules if m.startswith('sscard.') and not m.startswith('sscard.terminal')]\n"
        "heavy = [m for m in ('fastapi', 'sqlalchemy', 'pydantic', 'starlette', 'typer') if m in sys.modules]\n"
        "assert not server and not heavy, (server, heavy)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

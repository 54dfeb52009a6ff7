"""GB/T 39786-2021 level 3, non-repudiation (issue 27 item 2b): the sensitive counter and key operations
are signed with SM2 by the acting staff member's key over the audit entry that records them, and
``sscard audit verify-signatures`` checks them later (audit/signatures.py)."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from sscard.audit import Actor, Channel, record_event
from sscard.audit.models import AuditEntry, AuditSignature, StaffSigningKey
from sscard.audit.signatures import (
    PRIVATE_KEY,
    generate_key_pair,
    on_curve,
    record_bytes,
    signing_key_binding,
    sm2_sign,
    sm2_verify,
    verify_signatures,
)
from sscard.people.models import Person
from sscard.security_module.errors import ProtectedDataInvalid

DIST_ID = "1234567812345678"


def _clerk(name: str | None = None) -> Actor:
    return Actor(kind="staff", id=name or f"c{secrets.token_hex(5)}", channel=Channel.COUNTER, role="counter_clerk",
                 region="110000")  # fmt: skip


def _problems_of(uow, entry_ids: set[int]) -> dict[int, str]:
    return {p.entry_id: p.reason for p in verify_signatures(uow).problems if p.entry_id in entry_ids}


# SM2 (GB/T 32918.2) sign and verify: a signature verifies only for its message and its key, and
# out-of-range or off-curve inputs are refused before any arithmetic
def test_sm2_sign_verify() -> None:
    d, public = generate_key_pair()
    assert on_curve(public) and 1 <= d
    sig = sm2_sign(d, b"pin.reset card:6222****1234")
    assert len(sig) == 64 and sm2_verify(public, b"pin.reset card:6222****1234", sig)
    assert not sm2_verify(public, b"pin.reset card:6222****1235", sig)
    _, other = generate_key_pair()
    assert not sm2_verify(other, b"pin.reset card:6222****1234", sig)
    assert not sm2_verify(public, b"pin.reset card:6222****1234", bytes(32) + sig[32:])  # r = 0
    assert not sm2_verify(public[:32] + bytes(32), b"x", sig)  # not a point of the curve
    assert sm2_sign(d, b"m") != sm2_sign(d, b"m")  # a fresh k each time


# A private key outside [1, n-2] is refused: with n - 1 the signer looped for ever (1 + d = n has no inverse).
def test_sm2_sign_refuses_a_key_out_of_range() -> None:
    from sscard.audit.signatures import _N

    for d in (0, _N - 1, _N, -1):
        with pytest.raises(ValueError, match="out of range"):
            sm2_sign(d, b"m")
    assert len(sm2_sign(_N - 2, b"m")) == 64 and len(sm2_sign(1, b"m")) == 64


# Signatures stored before the move to Tongsuo (issue 18 item 5) were made by gmssl: these were made by it
# (key, message, r ‖ s), including a key whose x starts with 0x04 and signatures whose r or s starts with a
# zero byte. They verify now, and the same private keys sign for the same public keys (Z_A agrees).
GMSSL_VECTORS = [
    (
        "8793e23980fd3a7976eb76c46c1bcf38e2737ad8ac9f70a082df298ebd04acb1",
        "536fb80612774410755266c758fe158b46f1dbb382c444a3af1fc63de299defff333aa67aa801c6cc1020ca97b670768ff0469d2ac45129e86f7760f2d04601b",
        b"sscard/audit-signature/v1\nkey.ceremony.component \xe7\xbb\x84\xe4\xbb\xb6",
        "c335b8635675fc4f5ab538f751eb21397aba96336f50e229043d8b542b8d3358f9f332adcccb181cfe19be7f38ba74fc3fcf20820038eded2e2c24bd511971d0",
    ),
    (
        "17ea470e60f35e4d9d907e73bba7c6fe6dfa10f0dbf2e558acd95b5b016f585f",
        "04dede24fd942255a95769162eb346d0879d65bf548d7a750433d1879bde4232a86417d026cef540a555328aa189f2b07c0ace9d183dd8d4ba6854bcad20931b",
        b"record",
        "09899e60fd1e1c099e32cddaae28b8148b2884402674efe60d3483bb4e7c4846737a4ad7f256fbf46a5090c21a8b92d3dbccef713181c153183bfd913f7ccbf9",
    ),
    (
        "8793e23980fd3a7976eb76c46c1bcf38e2737ad8ac9f70a082df298ebd04acb1",
        "536fb80612774410755266c758fe158b46f1dbb382c444a3af1fc63de299defff333aa67aa801c6cc1020ca97b670768ff0469d2ac45129e86f7760f2d04601b",
        b"pin.reset card:6222****1234 #440",
        "0092c958e8cae579e038dca8a08ade3f117b95c23b846219e517b032f3c5c01de6d0203501dbc512aea50981b310be1733574e867bc4aa763a97ab0c08959f93",
    ),
    (
        "8793e23980fd3a7976eb76c46c1bcf38e2737ad8ac9f70a082df298ebd04acb1",
        "536fb80612774410755266c758fe158b46f1dbb382c444a3af1fc63de299defff333aa67aa801c6cc1020ca97b670768ff0469d2ac45129e86f7760f2d04601b",
        b"pin.reset card:6222****1234 #185",
        "0daf148e684e798de3e4315a646451191c13f444380c5671747d33d62e0275b600abded7e4db1ac7da931729ca440409f925c8919614007d91dc948ecfb91267",
    ),
    (
        "8793e23980fd3a7976eb76c46c1bcf38e2737ad8ac9f70a082df298ebd04acb1",
        "536fb80612774410755266c758fe158b46f1dbb382c444a3af1fc63de299defff333aa67aa801c6cc1020ca97b670768ff0469d2ac45129e86f7760f2d04601b",
        b"",
        "6e080fc162a2133a1b288a428126b269a6e0d2a54169e7245495e313cc880624d65161735addb3268044ace6ef55098c16cd82ac2ee7d6681c19d89c06f41371",
    ),
]


def test_signatures_made_by_gmssl_verify() -> None:
    for d_hex, public_hex, message, signature_hex in GMSSL_VECTORS:
        d, public, signature = int(d_hex, 16), bytes.fromhex(public_hex), bytes.fromhex(signature_hex)
        assert sm2_verify(public, message, signature)
        assert not sm2_verify(public, message + b"!", signature)
        assert not sm2_verify(public, message, signature[:63] + bytes([signature[63] ^ 1]))
        assert sm2_verify(public, message, sm2_sign(d, message))


def _non_canonical_point() -> bytes:
    """A point of the curve written with x + p in place of x (it fits in 32 bytes for a small x)."""
    from sscard.audit.signatures import _A, _B, _P

    for x in range(1, 1000):
        rhs = (x**3 + _A * x + _B) % _P
        y = pow(rhs, (_P + 1) // 4, _P)  # p ≡ 3 (mod 4): the square root, when rhs is a square
        if y * y % _P == rhs:
            return (x + _P).to_bytes(32, "big") + y.to_bytes(32, "big")
    raise AssertionError("no small x on the curve")


def _malformed(public: bytes, sig: bytes) -> dict[str, tuple[bytes, bytes]]:
    """(public key, signature) pairs sm2_verify must refuse: wrong lengths (the 65-byte ones hold the right
    numbers, one with a leading zero byte), r or s out of [1, n-1], a public key that is not a point of the
    curve or not in canonical form."""
    from sscard.audit.signatures import _N

    def rs(r: int, s: int) -> bytes:
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    x, y = public[:32], int.from_bytes(public[32:], "big")
    return {
        "signature 63 bytes": (public, sig[:63]), "signature 65 bytes": (public, sig[:32] + b"\x00" + sig[32:]),
        "signature empty": (public, b""), "public 63 bytes": (public[:63], sig),
        "public 65 bytes": (public[:32] + b"\x00" + public[32:], sig), "public empty": (b"", sig),
        "r = 0": (public, rs(0, s)), "s = 0": (public, rs(r, 0)), "r = n": (public, rs(_N, s)),
        "s = n": (public, rs(r, _N)), "r = 2^256 - 1": (public, rs(2**256 - 1, s)),
        "off the curve": (x + (y + 1).to_bytes(32, "big"), sig), "(0, 0)": (bytes(64), sig),
        "x + p": (_non_canonical_point(), sig),
    }  # fmt: skip


# sm2_verify answers False, never raises, on malformed input, and refuses it by its own checks before
# Tongsuo sees it (a tripwire in Tongsuo's point loading); a point Tongsuo refuses (ValueError) is a False
# too, should one get past the curve check
def test_sm2_verify_refuses_malformed_input(monkeypatch: pytest.MonkeyPatch) -> None:
    from tongsuopy.crypto.asymciphers import ec

    from sscard.audit import signatures

    d, public = generate_key_pair()
    sig = sm2_sign(d, b"m")
    cases = _malformed(public, sig)
    assert {name: sm2_verify(p, b"m", s) for name, (p, s) in cases.items()} == dict.fromkeys(cases, False)

    def tripwire(*_: object) -> None:
        raise AssertionError("malformed input reached Tongsuo")

    with monkeypatch.context() as patch:
        patch.setattr(ec.EllipticCurvePublicKey, "from_encoded_point", classmethod(tripwire))
        assert {name: sm2_verify(p, b"m", s) for name, (p, s) in cases.items()} == dict.fromkeys(cases, False)
    with monkeypatch.context() as patch:
        patch.setattr(signatures, "on_curve", lambda public_key: len(public_key) == 64)
        for name in ("off the curve", "(0, 0)", "x + p"):
            assert sm2_verify(cases[name][0], b"m", sig) is False, name
    assert sm2_verify(public, b"m", sig)


# a key whose x starts with the byte 0x04 (one in 256; gmssl, the former implementation, mangled it and
# Tongsuo is handed 0x04 ‖ x ‖ y) must still sign and verify, and OpenSSL must agree
def test_public_keys_starting_with_04_sign_and_verify(tmp_path: Path) -> None:
    for _ in range(20_000):
        d, public = generate_key_pair()
        if public[0] == 0x04:
            break
    else:
        pytest.fail("no key with x starting 0x04 in 20000 draws (one in 256 expected)")
    sig = sm2_sign(d, b"record")
    assert sm2_verify(public, b"record", sig) and not sm2_verify(public, b"recorD", sig)
    _openssl_verifies(tmp_path, public, b"record", sig)


def _openssl_verifies(tmp_path: Path, public: bytes, message: bytes, signature: bytes) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed (apt-get install openssl; .ci/run installs it)"
    pem, msg, sig = tmp_path / "k.pem", tmp_path / "m.bin", tmp_path / "s.der"
    subprocess.run([openssl, "pkey", "-pubin", "-inform", "DER", "-out", str(pem)], input=_der_spki(public),
                   check=True, capture_output=True)  # fmt: skip
    msg.write_bytes(message)
    sig.write_bytes(_der_signature(signature))
    verify = [openssl, "pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-rawin", "-in", str(msg),
              "-sigfile", str(sig), "-digest", "sm3", "-pkeyopt", f"distid:{DIST_ID}"]  # fmt: skip
    result = subprocess.run(verify, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _der_spki(public: bytes) -> bytes:
    """SubjectPublicKeyInfo of an SM2 public key (id-ecPublicKey, curve SM2 1.2.156.10197.1.301)."""
    algorithm = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")
    return b"\x30\x59" + algorithm + b"\x03\x42\x00\x04" + public


def _der_int(n: int) -> bytes:
    body = n.to_bytes(33, "big").lstrip(b"\x00")
    body = b"\x00" + body if body[0] & 0x80 else body
    return b"\x02" + bytes([len(body)]) + body


def _der_signature(raw: bytes) -> bytes:
    body = _der_int(int.from_bytes(raw[:32], "big")) + _der_int(int.from_bytes(raw[32:], "big"))
    return b"\x30" + bytes([len(body)]) + body


def _raw_signature(der: bytes) -> bytes:
    assert der[0] == 0x30
    i, out = 2, b""
    for _ in range(2):
        length = der[i + 1]
        out += int.from_bytes(der[i + 2 : i + 2 + length], "big").to_bytes(32, "big")
        i += 2 + length
    return out


# Interoperability: OpenSSL (an independent SM2/SM3 implementation) verifies our signatures, and we
# verify its, with the default distinguishing ID: a verifier outside sscard can check them
def test_sm2_interoperates_with_openssl(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed (apt-get install openssl; .ci/run installs it)"
    message = tmp_path / "record.bin"
    message.write_bytes(b"sscard/audit-signature/v1\n" + "key.ceremony.component 组件".encode())
    d, public = generate_key_pair()
    pem = tmp_path / "pub.pem"
    subprocess.run([openssl, "pkey", "-pubin", "-inform", "DER", "-out", str(pem)], input=_der_spki(public),
                   check=True, capture_output=True)  # fmt: skip
    sig = tmp_path / "sig.der"
    sig.write_bytes(_der_signature(sm2_sign(d, message.read_bytes())))
    verify = [openssl, "pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-rawin", "-in", str(message),
              "-sigfile", str(sig), "-digest", "sm3", "-pkeyopt", f"distid:{DIST_ID}"]  # fmt: skip
    assert subprocess.run(verify, capture_output=True, text=True).returncode == 0
    sig.write_bytes(_der_signature(sm2_sign(d, message.read_bytes() + b"!")))
    assert subprocess.run(verify, capture_output=True, text=True).returncode != 0  # OpenSSL can say no
    # and the other way round: OpenSSL signs, sscard verifies
    key = tmp_path / "key.pem"
    subprocess.run([openssl, "genpkey", "-algorithm", "SM2", "-out", str(key)], check=True, capture_output=True)
    spki = subprocess.run([openssl, "pkey", "-in", str(key), "-pubout", "-outform", "DER"], check=True,
                          capture_output=True).stdout  # fmt: skip
    subprocess.run([openssl, "pkeyutl", "-sign", "-inkey", str(key), "-rawin", "-in", str(message), "-out", str(sig),
                    "-digest", "sm3", "-pkeyopt", f"distid:{DIST_ID}"], check=True, capture_output=True)  # fmt: skip
    their_public, theirs = spki[-64:], _raw_signature(sig.read_bytes())
    assert sm2_verify(their_public, message.read_bytes(), theirs)
    assert not sm2_verify(their_public, message.read_bytes() + b"!", theirs)


# rule CH-2: a PIN reset at the counter (PIN-6) is signed by the clerk who did it, over the audit entry as
# written; altering the entry, dropping the signature or replacing the clerk's key is reported
def test_pin_reset_signed_and_tampering_reported(uow) -> None:
    from sscard.credentials.pin.counter_ops import prepare_counter_target, reset_card_pin
    from sscard.credentials.pin.store import lock_pin_row, record_failure
    from sscard.db.base import utcnow
    from tests.credentials.pin.factories import make_card

    clerk = _clerk()
    card = make_card(uow)
    row = lock_pin_row(uow, card_id=card.id, now=utcnow())
    row.pvv, row.pvk_version = b"\xaa" * 8, 1
    for _ in range(6):
        record_failure(uow, card_id=card.id, threshold=6, now=utcnow())
    holder = uow.session.get(Person, card.person_id)
    target = prepare_counter_target(uow, card_no=card.card_no, document_type="resident_id_card",
                                    document_number=holder.id_number)  # fmt: skip
    reset_card_pin(uow, target=target, actor=clerk)
    entry = uow.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "pin.reset", AuditEntry.actor_id == clerk.id)
    ).one()
    signature = uow.session.get(AuditSignature, entry.id)
    key = uow.session.scalar(select(StaffSigningKey).where(StaffSigningKey.username == clerk.id))
    assert signature is not None and key is not None and signature.signer == clerk.id
    assert bytes(signature.public_key) == bytes(key.public_key)
    assert sm2_verify(bytes(key.public_key), record_bytes(entry), bytes(signature.signature))
    assert _problems_of(uow, {entry.id}) == {}

    uow.session.execute(sa.update(AuditEntry).where(AuditEntry.id == entry.id)
                        .values(details=entry.details.replace('"to":"initial"', '"to":"new_pin"')))  # fmt: skip
    uow.session.expire_all()
    assert _problems_of(uow, {entry.id}) == {entry.id: "bad_signature"}
    _, other = generate_key_pair()
    uow.session.execute(sa.update(StaffSigningKey).where(StaffSigningKey.username == clerk.id).values(public_key=other))
    assert _problems_of(uow, {entry.id}) == {entry.id: "key_mismatch"}
    uow.session.execute(sa.delete(AuditSignature).where(AuditSignature.entry_id == entry.id))
    assert _problems_of(uow, {entry.id}) == {entry.id: "missing"}


# rule CH-2 / KEY-6: which entries are signed: staff actors' sensitive operations (by name or key-management
# prefix) that took place; a holder's, a routine staff read or a refusal is not, and verification asks for none
def test_only_sensitive_staff_operations_are_signed(uow) -> None:
    clerk = _clerk()
    holder = Actor(kind="holder", id="42", channel=Channel.PORTAL, role="holder")
    entries = {
        "card.cancel": record_event(uow, actor=clerk, action="card.cancel", subject="card:t27"),
        "key.revoke": record_event(uow, actor=clerk, action="key.revoke", subject="key:t27"),
        "handover.complete": record_event(uow, actor=clerk, action="handover.complete", subject="handover:t27"),
        "person.view": record_event(uow, actor=clerk, action="person.view", subject="person:t27"),
        "pin.change": record_event(uow, actor=holder, action="pin.change", subject="card:t27"),
        "key.export refused": record_event(uow, actor=clerk, action="key.export", subject="key:t27", result="refused"),
    }
    signed = {action for action, e in entries.items() if uow.session.get(AuditSignature, e.id) is not None}
    assert signed == {"card.cancel", "key.revoke", "handover.complete"}  # a refusal changed nothing: unsigned
    assert _problems_of(uow, {e.id for e in entries.values()}) == {}


# rule CH-2: a staff member's signing key is generated at enrolment; the private key is stored only
# sealed, bound to its username (another member's sealed key copied over does not open)
def test_signing_key_enrolled_with_the_account(uow) -> None:
    from tests.staff.factories import make_staff

    first, second = make_staff(uow), make_staff(uow)
    keys = {k.username: k for k in uow.session.scalars(select(StaffSigningKey).where(
        StaffSigningKey.username.in_([first.username, second.username])))}  # fmt: skip
    assert set(keys) == {first.username, second.username}
    a, b = keys[first.username], keys[second.username]
    assert on_curve(bytes(a.public_key)) and bytes(a.public_key) != bytes(b.public_key)
    d = PRIVATE_KEY.open(a.private_key_enc, row=signing_key_binding(a.username))
    assert d.encode() not in bytes(a.private_key_enc) and len(d) == 64
    with pytest.raises(ProtectedDataInvalid):
        PRIVATE_KEY.open(a.private_key_enc, row=signing_key_binding(b.username))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def own_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.conftest import fresh_database

    yield from fresh_database(request.param, tmp_path_factory)


# rule CH-4: `sscard audit verify-signatures` exits 0 when every signed operation verifies and 1 naming
# the entry and the reason when one was altered (committed work on a database of its own)
def test_cli_verify_signatures(own_db, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from sscard.cli.main import app
    from sscard.config import reset_settings_cache
    from sscard.db.session import reset_engine_cache, unit_of_work

    monkeypatch.setenv("SSCARD_DATABASE_URL", own_db.url)
    monkeypatch.setenv("SSCARD_DATABASE_SCHEMA", own_db.schema)
    monkeypatch.setenv("SSCARD_AUDIT_ANCHOR_FILE", str(own_db.anchor_file))
    reset_settings_cache()
    reset_engine_cache()
    try:
        clerk = _clerk()
        with unit_of_work() as uow:
            entry_id = record_event(uow, actor=clerk, action="key.export", subject="key:t27-cli").id
        runner = CliRunner()
        ok = runner.invoke(app, ["audit", "verify-signatures", "--json"])
        assert ok.exit_code == 0, ok.output
        report = json.loads(ok.stdout)
        assert report["ok"] and report["valid"] == report["checked"] >= 1
        with unit_of_work() as uow:
            uow.session.execute(sa.update(AuditEntry).where(AuditEntry.id == entry_id).values(subject="key:other"))
        bad = runner.invoke(app, ["audit", "verify-signatures", "--json"])
        assert bad.exit_code == 1
        assert {"entry_id": entry_id, "action": "key.export", "signer": clerk.id, "reason": "bad_signature"} in (
            json.loads(bad.stdout)["problems"]
        )
        text = runner.invoke(app, ["audit", "verify-signatures"])
        assert text.exit_code == 1 and f"entry {entry_id} (key.export by {clerk.id}): signature bad_signature" in (
            text.stderr
        )
    finally:
        from sscard.db.session import get_engine

        if get_engine.cache_info().currsize:
            get_engine().dispose()
        reset_settings_cache()
        reset_engine_cache()


# rule CH-4: a batch append (record_events, the terminal channel's group commit) signs a staff member's
# sensitive entry as a single append does, and leaves the others unsigned
def test_batch_append_signs_sensitive_staff_entries(uow) -> None:
    from sscard.audit import AuditEvent, record_events

    clerk = _clerk()
    subject = f"key:t27-batch-{secrets.token_hex(3)}"
    record_events(uow, [AuditEvent(clerk, "key.revoke", subject), AuditEvent(clerk, "person.view", subject)])
    entries = {e.action: e for e in uow.session.scalars(select(AuditEntry).where(AuditEntry.subject == subject))}
    assert set(entries) == {"key.revoke", "person.view"}
    signature = uow.session.get(AuditSignature, entries["key.revoke"].id)
    assert signature is not None and uow.session.get(AuditSignature, entries["person.view"].id) is None
    assert sm2_verify(bytes(signature.public_key), record_bytes(entries["key.revoke"]), bytes(signature.signature))
    assert _problems_of(uow, {e.id for e in entries.values()}) == {}

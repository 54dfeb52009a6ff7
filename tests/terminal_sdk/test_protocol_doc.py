"""docs/terminal-protocol.md's worked example is recomputed here, so the document cannot drift (rule CH-3).

Run ``python -m tests.terminal_sdk.test_protocol_doc`` to print the values for the document.
"""

from __future__ import annotations

import re
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sscard.terminal import decipher_pin_block, open_envelope, pin_block_pan
from sscard.terminal.client import split_terminal_keys
from sscard.terminal.envelope import INFO, public_key_bytes
from sscard.terminal.pinblock import block_cipher_functions, encipher_pin_block_with, encode_pan_field, encode_pin_field
from sscard.terminal.profile import key_check_value
from sscard.terminal.protocol import body_digest, canonical_request, compute_mac

DOC = Path(__file__).resolve().parents[2] / "docs" / "terminal-protocol.md"

MAC_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
PIN_KEY = bytes.fromhex("f0e1d2c3b4a5968778695a4b3c2d1e0f")
TERMINAL_ID = "T4403043F9A2C1B"
TIMESTAMP = 1767225600  # 2026-01-01T00:00:00Z
NONCE = "0123456789abcdef0123456789abcdef"
TARGET = "/api/v1/terminal/echo"
BODY = b'{"message":"hello"}'
CARD_NO, PIN, FILL = "A00000001", "123456", bytes.fromhex("1122334455667788")
RECIPIENT_SCALAR = 0x1F2E3D4C5B6A79880102030405060708090A0B0C0D0E0F101112131415161718
EPHEMERAL_SCALAR = 0x0A0B0C0D0E0F10111213141516171819202122232425262728292A2B2C2D2E2F
ENVELOPE_NONCE = bytes.fromhex("000102030405060708090a0b")


def canonical() -> bytes:
    return canonical_request(method="POST", target=TARGET, terminal_id=TERMINAL_ID, timestamp=TIMESTAMP,
                             nonce=NONCE, key_version=1, body=BODY)  # fmt: skip


def _envelope() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """The envelope sealed with a fixed ephemeral key and nonce (the server draws both at random)."""
    recipient = ec.derive_private_key(RECIPIENT_SCALAR, ec.SECP256R1())
    ephemeral = ec.derive_private_key(EPHEMERAL_SCALAR, ec.SECP256R1())
    shared = ephemeral.exchange(ec.ECDH(), recipient.public_key())
    label = TERMINAL_ID.encode()
    kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO + label).derive(shared)
    return recipient, public_key_bytes(ephemeral) + ENVELOPE_NONCE + AESGCM(kek).encrypt(
        ENVELOPE_NONCE, MAC_KEY + PIN_KEY, label
    )


def worked_example() -> dict[str, str]:
    pan = pin_block_pan(CARD_NO)
    values = {
        "terminal MAC key": MAC_KEY.hex(),
        "terminal PIN key": PIN_KEY.hex(),
        "body SHA-256": body_digest(BODY),
        "MAC, suite sm (SM4-CMAC)": compute_mac(MAC_KEY, "sm", canonical()).hex(),
        "MAC, suite intl (AES-CMAC)": compute_mac(MAC_KEY, "intl", canonical()).hex(),
        "MAC key KCV, suite sm": key_check_value(MAC_KEY, "sm"),
        "MAC key KCV, suite intl": key_check_value(MAC_KEY, "intl"),
        "PIN key KCV, suite sm": key_check_value(PIN_KEY, "sm"),
        "PIN key KCV, suite intl": key_check_value(PIN_KEY, "intl"),
        "card number": CARD_NO,
        "PAN": pan,
        "plain PIN field": encode_pin_field(PIN, FILL).hex(),
        "PAN field": encode_pan_field(pan).hex(),
    }
    for suite, cipher in (("sm", "sm4"), ("intl", "aes")):
        encrypt, _ = block_cipher_functions(PIN_KEY, cipher)
        values[f"PIN block, suite {suite} ({cipher.upper()})"] = encipher_pin_block_with(
            encrypt, PIN, pan, fill=FILL
        ).hex()
    recipient, envelope = _envelope()
    values["recipient private key (P-256 scalar)"] = f"{RECIPIENT_SCALAR:064x}"
    values["recipient public key"] = public_key_bytes(recipient).hex()
    values["envelope"] = envelope.hex()
    return values


def _doc_section(name: str) -> str:
    match = re.search(rf"<!-- {name}:start -->\n```[a-z]*\n(.*?)```\n<!-- {name}:end -->", DOC.read_text(), re.S)
    assert match, f"section {name} missing from {DOC}"
    return match.group(1)


def test_doc_canonical_request_is_what_we_sign() -> None:
    # rule CH-3 — the canonical request printed in the document, byte for byte.
    assert _doc_section("canonical-request").rstrip("\n").encode() == canonical()


def test_doc_worked_example_values() -> None:
    # rule CH-3 / PIN-11 — every hex value of the worked example, recomputed.
    lines = [line for line in _doc_section("worked-example").splitlines() if line.strip()]
    documented = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in lines)
    assert documented == worked_example()


def test_doc_vectors_open_with_the_real_functions() -> None:
    values = worked_example()
    recipient, _ = _envelope()
    keys = open_envelope(recipient, bytes.fromhex(values["envelope"]), TERMINAL_ID.encode())
    assert split_terminal_keys(keys) == (MAC_KEY, PIN_KEY)
    for suite, cipher in (("sm", "sm4"), ("intl", "aes")):
        block = bytes.fromhex(values[f"PIN block, suite {suite} ({cipher.upper()})"])
        assert decipher_pin_block(PIN_KEY, block, values["PAN"], cipher=cipher) == PIN


if __name__ == "__main__":
    print(canonical().decode())
    width = max(map(len, worked_example()))
    for k, v in worked_example().items():
        print(f"{k.ljust(width)}  {v}")

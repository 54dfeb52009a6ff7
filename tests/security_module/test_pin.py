"""PIN operations inside the module (PIN-11) over every backend: PVV, verification, screening, translation."""

from __future__ import annotations

import secrets
from datetime import date

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from sscard.security_module.envelope import open_envelope, public_key_bytes
from sscard.security_module.errors import (
    KeyInputInvalid,
    KeyRevoked,
    KeyUsageInvalid,
    KeyVersionUnknown,
    PinBlockInvalid,
)
from sscard.security_module.hsm import HierarchyModule
from sscard.terminal.pinblock import decipher_pin_block, encipher_pin_block, pin_block_pan
from tests.security_module.test_hierarchy import form_root, form_transport

REGION, TID = "440304", "T440304000009"
PAN = pin_block_pan("A12345678")
BORN = date(1985, 7, 9)
ID = "440304198507090017"
HOLDER = {"initial_rule": "fixed_123456", "id_number": ID, "birth_date": BORN, "phone": "13800138000"}


@pytest.fixture
def terminal_key(module: HierarchyModule) -> bytes:
    """The terminal's PIN key as the terminal holds it after remote key loading (MAC key ‖ PIN key)."""
    form_root(module)
    private = ec.generate_private_key(ec.SECP256R1())
    envelope = module.export_terminal_key(
        terminal_id=TID, region_code=REGION, key_version=1, recipient_public_key=public_key_bytes(private)
    )
    return open_envelope(private, envelope, TID.encode())[16:]


def cipher(module: HierarchyModule) -> str:
    return "sm4" if module.suite == "sm" else "aes"


def block(module: HierarchyModule, key: bytes, pin: str) -> bytes:
    return encipher_pin_block(key, pin, PAN, cipher=cipher(module))


def src(**extra: object) -> dict[str, object]:
    return {"terminal_id": TID, "region_code": REGION, "key_version": 1, "pan": PAN, **extra}


# rule PIN-11: the server keeps only PVV = truncated MAC(PVK, card ‖ PIN), computed inside the module
def test_pvv_and_verification(module: HierarchyModule, terminal_key: bytes) -> None:
    pvv, version = module.pin_verification_value(**src(pin_block=block(module, terminal_key, "482915")))
    assert len(pvv) == 8 and version == 1
    again, _ = module.pin_verification_value(**src(pin_block=block(module, terminal_key, "482915")))
    assert again == pvv  # random fill differs, the PVV does not
    assert module.verify_pin_block(**src(pin_block=block(module, terminal_key, "482915"), pvv=pvv, pvk_version=1))
    assert not module.verify_pin_block(**src(pin_block=block(module, terminal_key, "482916"), pvv=pvv, pvk_version=1))
    other_card = {**src(pin_block=b""), "pan": pin_block_pan("B12345678")}
    other_card["pin_block"] = encipher_pin_block(terminal_key, "482915", other_card["pan"], cipher=cipher(module))
    assert module.pin_verification_value(**other_card)[0] != pvv  # bound to the card
    # PVK rotation: old PVVs verify with their version until the holder changes the PIN again.
    assert module.rotate("PVK").version == 2
    assert module.verify_pin_block(**src(pin_block=block(module, terminal_key, "482915"), pvv=pvv, pvk_version=1))
    assert module.pin_verification_value(**src(pin_block=block(module, terminal_key, "482915")))[1] == 2


@pytest.mark.parametrize(
    "bad",
    [b"", b"\x00" * 15, b"\x00" * 17, b"\x00" * 16, "not bytes"],
    ids=["empty", "truncated", "too-long", "garbage", "str"],
)
def test_malformed_pin_blocks_are_refused(module: HierarchyModule, terminal_key: bytes, bad: object) -> None:
    # rule PIN-11 — a truncated or malformed block is a clear error, never a wrong-PIN answer
    with pytest.raises(PinBlockInvalid) as err:
        module.pin_verification_value(**src(pin_block=bad))
    assert err.value.code == "PIN_BLOCK_MALFORMED" and "reason" in err.value.extra


def test_block_for_another_key_or_card_is_malformed(module: HierarchyModule, terminal_key: bytes) -> None:
    # rule PIN-11 — the format-4 checks catch a block made under another key or for another PAN
    wrong_key = block(module, bytes(16), "482915")
    wrong_pan = encipher_pin_block(terminal_key, "482915", pin_block_pan("C00000001"), cipher=cipher(module))
    for pin_block in (wrong_key, wrong_pan):
        with pytest.raises(PinBlockInvalid):
            module.pin_verification_value(**src(pin_block=pin_block))


def test_wrong_key_version_and_revoked_key(module: HierarchyModule, terminal_key: bytes) -> None:
    # rule PIN-11, KEY-3 — wrong versions and revoked keys are refused with their codes
    good = block(module, terminal_key, "482915")
    with pytest.raises(KeyVersionUnknown):
        module.pin_verification_value(**src(pin_block=good, key_version=2))
    pvv, _ = module.pin_verification_value(**src(pin_block=good))
    with pytest.raises(KeyVersionUnknown):
        module.verify_pin_block(**src(pin_block=good, pvv=pvv, pvk_version=9))
    module.revoke("TMK/440300", reason="terminal keys exposed")
    with pytest.raises(KeyRevoked):
        module.verify_pin_block(**src(pin_block=good, pvv=pvv, pvk_version=1))


# rule PIN-1: the initial PIN is derived by rule inside the module, never stored
def test_initial_pin(module: HierarchyModule, terminal_key: bytes) -> None:
    kw = {"id_number": ID, "birth_date": BORN}
    assert module.verify_initial_pin_block(**src(pin_block=block(module, terminal_key, "123456")),
                                           initial_rule="fixed_123456", **kw)  # fmt: skip
    assert module.verify_initial_pin_block(**src(pin_block=block(module, terminal_key, "090017")),
                                           initial_rule="id_last6", **kw)  # fmt: skip
    assert module.verify_initial_pin_block(**src(pin_block=block(module, terminal_key, "850709")),
                                           initial_rule="birth_yymmdd", **kw)  # fmt: skip
    assert not module.verify_initial_pin_block(**src(pin_block=block(module, terminal_key, "123456")),
                                               initial_rule="birth_yymmdd", **kw)  # fmt: skip


# rule PIN-1 (issue 26, surviving mutants): the ID's last six with X read as 0, however the X was typed
@pytest.mark.parametrize("id_number", ["11010519491231002X", "11010519491231002x"])
def test_initial_pin_of_an_id_ending_in_x(module: HierarchyModule, terminal_key: bytes, id_number: str) -> None:
    kw = {"id_number": id_number, "birth_date": date(1949, 12, 31), "initial_rule": "id_last6"}
    assert module.verify_initial_pin_block(**src(pin_block=block(module, terminal_key, "310020")), **kw)
    assert not module.verify_initial_pin_block(**src(pin_block=block(module, terminal_key, "310002")), **kw)


# rule PIN-1: a policy naming an initial PIN rule that does not exist is refused, naming the rules there are
def test_an_unknown_initial_rule_is_refused(module: HierarchyModule, terminal_key: bytes) -> None:
    with pytest.raises(KeyInputInvalid) as refused:
        module.verify_initial_pin_block(**src(pin_block=block(module, terminal_key, "123456")),
                                        initial_rule="last_four", id_number=ID, birth_date=BORN)  # fmt: skip
    assert refused.value.detail == "unknown initial PIN rule; one of fixed_123456, id_last6, birth_yymmdd"


@pytest.mark.parametrize(
    ("pin", "code"),
    [
        ("4829", "LENGTH"),
        ("777777", "ALL_SAME"),
        ("345678", "CONSECUTIVE"),
        ("987654", "CONSECUTIVE"),
        ("850709", "BIRTH_DATE"),
        ("070985", "BIRTH_DATE"),
        ("090785", "BIRTH_DATE"),
        ("000709", "BIRTH_DATE"),
        ("070900", "BIRTH_DATE"),  # MMDD padded after (issue 26: each form of PIN-3 its own case)
        ("380013", "PHONE_NUMBER"),
        ("123456", "CONSECUTIVE"),
        ("482915", "CURRENT_PIN"),
        ("551177", "EXCLUDED"),
        ("620431", None),
    ],
)
def test_screen_new_pin(module: HierarchyModule, terminal_key: bytes, pin: str, code: str | None) -> None:
    # rule PIN-3 — screened inside the module against the holder's values; only a reason code comes out
    current, v = module.pin_verification_value(**src(pin_block=block(module, terminal_key, "482915")))
    excluded, xv = module.pin_verification_value(**src(pin_block=block(module, terminal_key, "551177")))
    reason = module.screen_new_pin_block(
        **src(pin_block=block(module, terminal_key, pin)), **HOLDER, current_pvv=current, current_pvk_version=v,
        excluded_pvvs=[(excluded, xv)],
    )  # fmt: skip
    assert (reason.code if reason else None) == code
    if reason:
        assert pin not in reason.message


def test_screen_initial_pin(module: HierarchyModule, terminal_key: bytes) -> None:
    # rule PIN-3 — the initial PIN (here the ID's last six) is refused as a new PIN
    reason = module.screen_new_pin_block(
        **src(pin_block=block(module, terminal_key, "090017")), **{**HOLDER, "initial_rule": "id_last6"},
        current_pvv=None, current_pvk_version=None,
    )  # fmt: skip
    assert reason is not None and reason.code == "INITIAL_PIN"


# rule PIN-11: translation from the terminal key to a zone key happens inside the module
def test_translate_to_zone_key(module: HierarchyModule, terminal_key: bytes) -> None:
    zone = form_transport(module, "KTK/BANK01")  # a known key, to check the result from outside
    module.import_components("ZPK/BANK01", purpose="zone_pin", level="local", region="440300",
                             components=[zone, bytes(16)], kcv=None)  # fmt: skip
    out, version = module.translate_pin_block(
        **src(pin_block=block(module, terminal_key, "482915")), zone_key="ZPK/BANK01"
    )
    assert version == 1 and decipher_pin_block(zone, out, PAN, cipher=cipher(module)) == "482915"
    for _ in range(20):  # PINs of every length, PANs of 12..19 digits: the module's format-4 path = the SDK's
        pin = str(secrets.randbelow(10**12)).zfill(12)[: 4 + secrets.randbelow(9)]
        pan = str(secrets.randbelow(10**19)).zfill(19)[: 12 + secrets.randbelow(8)]
        sent = encipher_pin_block(terminal_key, pin, pan, cipher=cipher(module))
        out, _ = module.translate_pin_block(**{**src(pin_block=sent), "pan": pan}, zone_key="ZPK/BANK01")
        assert decipher_pin_block(zone, out, pan, cipher=cipher(module)) == pin
    with pytest.raises(KeyUsageInvalid):  # only a zone PIN key receives PIN blocks
        module.translate_pin_block(**src(pin_block=block(module, terminal_key, "482915")), zone_key="KTK/BANK01")
    with pytest.raises(PinBlockInvalid):
        module.translate_pin_block(**src(pin_block=b"\x01" * 16), zone_key="ZPK/BANK01")

"""ISO 9564-1:2017 PIN block format 4 against published vectors, plus SM4 round trips (rule PIN-11).

Sources of the vectors (each quoted where it is used):
- [X9.24-3] ANSI X9.24-3:2017 Supplement Test Vectors for the AES-128 BDK, "Calculation of AES PIN
  Block Format 4" (PIN 1234, PAN 4111111111111111, the first eight PIN keys and enciphered PIN
  blocks), as transcribed in openemv/dukpt, test/dukpt_aes128_test.c (commit 209d7222).
- [psec] knovichikhin/psec, psec/pinblock.py (commit fc96665a), doctest examples of
  ``encode_pin_field_iso_4``, ``encode_pan_field_iso_4``, ``encipher_pinblock_iso_4`` and
  ``decipher_pinblock_iso_4``.
- [openemv] openemv/pinblock, test/pinblock_format4_test.c (commit bb98d900): field encodings of an
  odd-length PIN, a 15-digit PAN and a PAN shorter than 12 digits.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sscard.terminal import (
    PIN_BLOCK_MALFORMED,
    PinBlockError,
    decipher_pin_block,
    decipher_pin_block_with,
    encipher_pin_block,
    encipher_pin_block_with,
    pin_block_pan,
)
from sscard.terminal.pinblock import (
    block_cipher_functions,
    decode_pin_field,
    encode_pan_field,
    encode_pin_field,
    luhn_check_digit,
)

# [X9.24-3] (PIN key, enciphered PIN block) for the first eight DUKPT transactions.
X9_24_3_PIN = "1234"
X9_24_3_PAN = "4111111111111111"
X9_24_3_PIN_FIELD = "441234AAAAAAAAAA2F69ADDE2E9E7ACE"
X9_24_3_PAN_FIELD = "44111111111111111000000000000000"
X9_24_3_PAIRS = [
    ("AF8CB133A78F8DC2D1359F18527593FB", "A912150391AB65A67E52883D81CE2D15"),
    ("D30BDC73EC9714B000BEC66BDB7B6D09", "52A00503BD34BA1383F6A7EE9FE2547F"),
    ("7D69F01F3B45449F62C7816ECE723268", "A5A27E82B43A9A866A93D7ABE89CEF93"),
    ("91A0588318EC2673214271F70137896E", "71B3D0528669498777555A8BE6698E44"),
    ("35A43BC9EFEB09C756204B57E3FB7D4D", "881A7F77A2E04E5BEA985E342FD0B628"),
    ("02DCC6CD1201A3A2CA7099559C862123", "BDC1C3871AFB0B340AA5B5CEFD08695E"),
    ("6ECF912F3B18CA11A7A27BB60705FD09", "4A8E6B8C7DBEE6CBA6DC774F0CB83396"),
    ("4D9DF3FBEE3448FC3E676D04320A90F5", "8308BB857C17F390369F761F8EB358FA"),
]
PSEC_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")


# --- published vectors (rule PIN-11) ------------------------------------------------------------


def test_x9_24_3_plain_fields() -> None:
    # rule PIN-11 — [X9.24-3] plain PIN field (its random fill) and PAN field.
    fill = bytes.fromhex(X9_24_3_PIN_FIELD)[8:]
    assert encode_pin_field(X9_24_3_PIN, fill).hex().upper() == X9_24_3_PIN_FIELD
    assert encode_pan_field(X9_24_3_PAN).hex().upper() == X9_24_3_PAN_FIELD


@pytest.mark.parametrize(("key", "block"), X9_24_3_PAIRS)
def test_x9_24_3_blocks_decipher(key: str, block: str) -> None:
    # rule PIN-11 — [X9.24-3] every published AES-128 block deciphers to PIN 1234.
    assert decipher_pin_block(bytes.fromhex(key), bytes.fromhex(block), X9_24_3_PAN) == X9_24_3_PIN


@pytest.mark.parametrize(("key", "block"), X9_24_3_PAIRS)
def test_x9_24_3_blocks_encipher(key: str, block: str) -> None:
    # rule PIN-11 — [X9.24-3] with the published random fill, enciphering gives the published block.
    encrypt, _ = block_cipher_functions(bytes.fromhex(key), "aes")
    fill = bytes.fromhex(X9_24_3_PIN_FIELD)[8:]
    assert encipher_pin_block_with(encrypt, X9_24_3_PIN, X9_24_3_PAN, fill=fill).hex().upper() == block


def test_psec_vectors() -> None:
    # rule PIN-11 — [psec] doctests: PIN field, 18-digit PAN field, encipher and decipher.
    assert encode_pin_field("1234", bytes.fromhex("548ED7FD65495950")).hex().upper() == (
        "441234AAAAAAAAAA548ED7FD65495950"
    )
    assert encode_pan_field("112233445566778899").hex().upper() == "61122334455667788990000000000000"
    encrypt, _ = block_cipher_functions(PSEC_KEY, "aes")
    block = encipher_pin_block_with(encrypt, "1234", "1234567890123456", fill=bytes.fromhex("1122334455667788"))
    assert block.hex().upper() == "7CDF645C86CAF763AE34637A66997534"
    assert decipher_pin_block(PSEC_KEY, bytes.fromhex("E4BE5B623AF7E006AC319E5B93544564"), "1234567890123456") == "1234"


def test_openemv_field_encodings() -> None:
    # rule PIN-11 — [openemv] odd-length PIN, 15-digit PAN (indicator 3), 9-digit PAN (left-padded, indicator 0).
    assert encode_pin_field("12345", bytes(8))[:8].hex().upper() == "4512345AAAAAAAAA"
    assert encode_pan_field("411111111111111").hex().upper() == "34111111111111110000000000000000"
    assert encode_pan_field("123456789").hex().upper() == "00001234567890000000000000000000"


# --- round trips ---------------------------------------------------------------------------------

pins = st.from_regex(r"[0-9]{4,12}", fullmatch=True)
pans = st.from_regex(r"[0-9]{12,19}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), pin=pins, pan=pans)
def test_sm4_round_trip(key: bytes, pin: str, pan: str) -> None:
    # rule PIN-11 — SM4 (national commercial cryptography) gives a 16-byte block that opens to the PIN.
    block = encipher_pin_block(key, pin, pan, cipher="sm4")
    assert len(block) == 16
    assert decipher_pin_block(key, block, pan, cipher="sm4") == pin


@settings(max_examples=100, deadline=None)
@given(key=st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)), pin=pins, pan=pans)
def test_aes_round_trip_all_key_sizes(key: bytes, pin: str, pan: str) -> None:
    assert decipher_pin_block(key, encipher_pin_block(key, pin, pan), pan) == pin


def test_random_fill_makes_every_block_different() -> None:
    # rule PIN-11 — the same PIN never gives the same block twice (format 4's 8 random bytes).
    key = bytes(range(16))
    blocks = {encipher_pin_block(key, "123456", "915610000000018", cipher="sm4") for _ in range(50)}
    assert len(blocks) == 50


def test_block_is_bound_to_its_pan() -> None:
    # rule PIN-11 — a block moved to another card does not open (or opens to garbage that fails checks).
    key = bytes(range(16))
    block = encipher_pin_block(key, "123456", "915610000000018")
    with pytest.raises(PinBlockError):
        decipher_pin_block(key, block, "915610000000026")


def test_callable_twins_are_what_the_key_functions_use() -> None:
    key = bytes(range(16))
    encrypt, decrypt = block_cipher_functions(key, "sm4")
    block = encipher_pin_block_with(encrypt, "2468", "123456789012")
    assert decipher_pin_block_with(decrypt, block, "123456789012") == "2468"
    assert decipher_pin_block(key, block, "123456789012", cipher="sm4") == "2468"


# --- malformed input: one stable code, a reason, no secret in the message -----------------------


@pytest.mark.parametrize(
    ("pin", "pan", "reason"),
    [
        ("123", "123456789012", "pin"),
        ("1234567890123", "123456789012", "pin"),
        ("12a4", "123456789012", "pin"),
        ("１２３４", "123456789012", "pin"),  # full-width digits are not ASCII digits
        ("1234", "", "pan"),
        ("1234", "12345678901234567890", "pan"),
        ("1234", "A12345678901", "pan"),
    ],
)
def test_bad_pin_or_pan(pin: str, pan: str, reason: str) -> None:
    with pytest.raises(PinBlockError) as info:
        encipher_pin_block(bytes(16), pin, pan)
    assert info.value.code == PIN_BLOCK_MALFORMED
    assert info.value.reason == reason
    assert pin not in str(info.value) or not pin


@pytest.mark.parametrize(("key", "cipher"), [(bytes(15), "aes"), (bytes(32), "sm4"), (bytes(16), "des")])
def test_bad_key_or_cipher(key: bytes, cipher: str) -> None:
    with pytest.raises(PinBlockError) as info:
        encipher_pin_block(key, "1234", "123456789012", cipher=cipher)
    assert info.value.code == PIN_BLOCK_MALFORMED


@pytest.mark.parametrize("length", [0, 8, 15, 17, 32])
def test_truncated_or_long_block(length: int) -> None:
    with pytest.raises(PinBlockError) as info:
        decipher_pin_block(bytes(16), bytes(length), "123456789012")
    assert info.value.reason == "length"


def _field_block(key: bytes, field_hex: str, pan: str) -> bytes:
    """Encipher an arbitrary (possibly invalid) plain PIN field the format-4 way."""
    encrypt, _ = block_cipher_functions(key, "aes")
    first = encrypt(bytes.fromhex(field_hex))
    return encrypt(bytes(a ^ b for a, b in zip(first, encode_pan_field(pan), strict=True)))


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("041234FFFFFFFFFF" + "00" * 8, "control"),  # a format-0-looking field
        ("431234AAAAAAAAAA" + "00" * 8, "pin_length"),
        ("4D1234AAAAAAAAAA" + "00" * 8, "pin_length"),
        ("44123BAAAAAAAAAA" + "00" * 8, "pin_digits"),
        ("441234AAAAAAAAAB" + "00" * 8, "fill"),
        ("441234FFFFFFFFFF" + "00" * 8, "fill"),
    ],
)
def test_deciphered_field_is_checked(field: str, reason: str) -> None:
    key, pan = bytes(range(16)), "123456789012"
    with pytest.raises(PinBlockError) as info:
        decipher_pin_block(key, _field_block(key, field, pan), pan)
    assert info.value.reason == reason


def test_decode_pin_field_accepts_twelve_digits() -> None:
    assert decode_pin_field(bytes.fromhex("4C123456789012AA" + "FF" * 8)) == "123456789012"


# --- the card → PAN rule ---------------------------------------------------------------------------


def test_card_number_maps_to_a_luhn_valid_fifteen_digit_pan() -> None:
    # rule PIN-11 — a card number with a letter still binds its PIN block to a numeric PAN.
    pan = pin_block_pan("A00000001")
    assert pan == "915610000000018"
    assert len(pan) == 15 and pan.isdigit()
    assert luhn_check_digit(pan[:-1]) == pan[-1]
    assert pin_block_pan(" a0000 0001 ") == pan  # normalised like cards.numbers.normalise_card_no


def test_distinct_cards_give_distinct_pans() -> None:
    cards = [f"{letter}{n:08d}" for letter in "ABHJNPZ" for n in (0, 1, 99999999)]
    assert len({pin_block_pan(c) for c in cards}) == len(cards)
    assert pin_block_pan("Z99999999").startswith("915635")


def test_bank_pan_and_numeric_cards_are_used_unchanged() -> None:
    assert pin_block_pan("A00000001", bank_pan="6217000010001234567") == "6217000010001234567"
    assert pin_block_pan("6217000010001234") == "6217000010001234"


@pytest.mark.parametrize(
    ("card_no", "bank_pan"), [("I00000001", None), ("A0000001", None), ("", None), ("A00000001", "12345")]
)
def test_unmappable_cards(card_no: str, bank_pan: str | None) -> None:
    with pytest.raises(PinBlockError) as info:
        pin_block_pan(card_no, bank_pan=bank_pan)
    assert info.value.code == PIN_BLOCK_MALFORMED


def test_luhn_known_values() -> None:
    # The textbook Luhn example (79927398713) and the common test card number 4111111111111111.
    assert luhn_check_digit("7992739871") == "3"
    assert luhn_check_digit("411111111111111") == "1"


def test_sm4_is_the_standard_block_cipher() -> None:
    # GB/T 32907-2016 appendix A example 1: the SM4 primitive under the format-4 construction.
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encrypt, decrypt = block_cipher_functions(key, "sm4")
    assert encrypt(key).hex() == "681edf34d206965e86b3e94f536e4246"
    assert decrypt(bytes.fromhex("681edf34d206965e86b3e94f536e4246")) == key

"""ISO 9564-1:2017 PIN block format 4 (the 16-byte "AES PIN block"), with AES or SM4 as the cipher.

Format 4, as the standard lays it out (one character = one nibble):

    plain PIN field  = 4 ‖ N ‖ P…P ‖ A…A ‖ R…R
        4     control field (format 4)
        N     PIN length, 4..C (4 to 12 digits)
        P…P   the PIN digits
        A…A   fill 'A' up to nibble 16 (14 - N nibbles)
        R…R   16 random fill nibbles (8 random bytes)
    PAN field        = M ‖ PAN (at least 12 digits) ‖ 0…0
        M     PAN length - 12, 0..7 (PANs of 12..19 digits); a PAN shorter than 12 digits is
              right-justified in 12 digits with zeros on the left and M = 0
        0…0   zero pad to 32 nibbles
    enciphered block = E(K, E(K, PIN field) XOR PAN field)

Deciphering reverses it and checks every fixed nibble: the control 4, a PIN length of 4..12, digits
only, the 'A' fill. The random fill is not checked (it is random). Every failure raises
``PinBlockError`` with the stable code ``PIN_BLOCK_MALFORMED`` and a ``reason`` naming the part at
fault; the message never contains the PIN, the PAN or any key.

The ``*_with`` functions take the block cipher as a callable, so a security module can run them
with a key that never leaves its HSM; the key-bytes functions are thin wrappers over them.

Imports only the standard library and ``cryptography``: a terminal vendor embeds this module as is.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK_LEN = 16
PIN_BLOCK_MALFORMED = "PIN_BLOCK_MALFORMED"
CIPHERS = ("aes", "sm4")

BlockFunction = Callable[[bytes], bytes]

_PIN = re.compile(r"^[0-9]{4,12}$")
_PAN = re.compile(r"^[0-9]{1,19}$")
# Card numbers of this platform: one letter (no I, no O) and eight digits (cards/numbers.py).
_CARD_NO = re.compile(r"^[A-HJ-NP-Z][0-9]{8}$")
# ISO/IEC 7812: major industry identifier 9 ("assignment by national standards bodies") followed by
# the ISO 3166-1 numeric country code of China.
_DERIVED_PAN_PREFIX = "9156"


class PinBlockError(ValueError):
    """A PIN, PAN, key or PIN block that does not make a valid format-4 block."""

    code = PIN_BLOCK_MALFORMED

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


# --- the two plain fields ----------------------------------------------------------------------


def encode_pin_field(pin: str, fill: bytes | None = None) -> bytes:
    """The 16-byte plain PIN field; ``fill`` (8 bytes) only for published test vectors."""
    if not isinstance(pin, str) or not _PIN.match(pin):
        raise PinBlockError("pin", "a PIN is 4 to 12 digits")
    if fill is None:
        fill = secrets.token_bytes(8)
    elif len(fill) != 8:
        raise PinBlockError("fill", "the random fill is 8 bytes")
    nibbles = "4" + format(len(pin), "X") + pin + "A" * (14 - len(pin))
    return bytes.fromhex(nibbles) + fill


def decode_pin_field(field: bytes) -> str:
    """The PIN in a plain PIN field, after checking every fixed nibble."""
    if len(field) != BLOCK_LEN:
        raise PinBlockError("length", "a format-4 PIN field is 16 bytes")
    nibbles = field[:8].hex().upper()
    if nibbles[0] != "4":
        raise PinBlockError("control", "not a format-4 PIN block (control nibble is not 4)")
    length = int(nibbles[1], 16)
    if not 4 <= length <= 12:
        raise PinBlockError("pin_length", "the PIN length nibble is outside 4..12")
    pin = nibbles[2 : 2 + length]
    if not pin.isdigit():
        raise PinBlockError("pin_digits", "the PIN field holds a non-digit nibble")
    if nibbles[2 + length :] != "A" * (14 - length):
        raise PinBlockError("fill", "the PIN field fill nibbles are not all 'A'")
    return pin


def encode_pan_field(pan: str) -> bytes:
    """The 16-byte plain PAN field of a 1..19 digit PAN."""
    if not isinstance(pan, str) or not _PAN.match(pan):
        raise PinBlockError("pan", "a PAN is 1 to 19 digits")
    indicator = max(0, len(pan) - 12)
    return bytes.fromhex((str(indicator) + pan.rjust(12, "0")).ljust(2 * BLOCK_LEN, "0"))


# --- encipher / decipher with any block cipher -------------------------------------------------


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _one_block(fn: BlockFunction, block: bytes) -> bytes:
    out = fn(block)
    if len(out) != BLOCK_LEN:
        raise PinBlockError("cipher", "the block cipher must map 16 bytes to 16 bytes")
    return out


def encipher_pin_block_with(encrypt_block: BlockFunction, pin: str, pan: str, *, fill: bytes | None = None) -> bytes:
    """Format-4 block of ``pin`` bound to ``pan``; ``encrypt_block`` is one raw 16-byte encryption."""
    pin_field = encode_pin_field(pin, fill)
    pan_field = encode_pan_field(pan)
    return _one_block(encrypt_block, _xor(_one_block(encrypt_block, pin_field), pan_field))


def decipher_pin_block_with(decrypt_block: BlockFunction, block: bytes, pan: str) -> str:
    """The PIN inside a format-4 ``block`` bound to ``pan``; ``decrypt_block`` is one raw decryption."""
    if not isinstance(block, bytes | bytearray) or len(block) != BLOCK_LEN:
        raise PinBlockError("length", "a format-4 PIN block is 16 bytes")
    pan_field = encode_pan_field(pan)
    intermediate = _xor(_one_block(decrypt_block, bytes(block)), pan_field)
    return decode_pin_field(_one_block(decrypt_block, intermediate))


# --- the contract functions (key bytes) --------------------------------------------------------


def block_cipher_functions(key: bytes, cipher: str = "aes") -> tuple[BlockFunction, BlockFunction]:
    """(encrypt, decrypt) of single 16-byte blocks under ``key`` with AES (16/24/32 bytes) or SM4 (16)."""
    if cipher == "aes":
        if len(key) not in (16, 24, 32):
            raise PinBlockError("key", "an AES key is 16, 24 or 32 bytes")
        algorithm: algorithms.AES | algorithms.SM4 = algorithms.AES(key)
    elif cipher == "sm4":
        if len(key) != 16:
            raise PinBlockError("key", "an SM4 key is 16 bytes")
        algorithm = algorithms.SM4(key)
    else:
        raise PinBlockError("cipher", f"cipher must be one of {', '.join(CIPHERS)}")
    # ECB of exactly one block is the raw block cipher E(K, x) that ISO 9564 format 4 is defined on.
    primitive = Cipher(algorithm, modes.ECB())  # noqa: S305 - single-block primitive, not bulk ECB
    encryptor, decryptor = primitive.encryptor(), primitive.decryptor()
    return encryptor.update, decryptor.update


def encipher_pin_block(key: bytes, pin: str, pan: str, cipher: str = "aes") -> bytes:
    """ISO 9564-1 format-4 PIN block of ``pin`` for ``pan`` under ``key`` (``cipher`` "aes" or "sm4")."""
    encrypt, _ = block_cipher_functions(key, cipher)
    return encipher_pin_block_with(encrypt, pin, pan)


def decipher_pin_block(key: bytes, block: bytes, pan: str, cipher: str = "aes") -> str:
    """The PIN in a format-4 ``block`` for ``pan`` under ``key``; ``PinBlockError`` if malformed."""
    _, decrypt = block_cipher_functions(key, cipher)
    return decipher_pin_block_with(decrypt, block, pan)


# --- which PAN a card uses -----------------------------------------------------------------------


def pin_block_pan(card_no: str, *, bank_pan: str | None = None) -> str:
    """The PAN a card's PIN blocks are bound to — the one rule both terminals and the server use.

    - A financial card with a bank account number (``bank_pan``, 12..19 digits) uses it unchanged,
      as bank terminals already do.
    - Otherwise the card number ``L dddddddd`` (a letter, no I or O, and eight digits) becomes the
      15-digit ISO/IEC 7812-style number ``9 156 LL dddddddd C``: MII 9, country code 156, the
      letter as two digits (A=10 … Z=35, as in ISO 7064 / IBAN check computation), the eight
      digits, and a Luhn check digit. Distinct card numbers give distinct PANs.
    - An all-digit card number of 12..19 digits (issued by another system) is used unchanged.
    """
    if bank_pan is not None:
        if not re.fullmatch(r"[0-9]{12,19}", bank_pan):
            raise PinBlockError("pan", "a bank PAN is 12 to 19 digits")
        return bank_pan
    number = "".join((card_no or "").split()).upper()
    if re.fullmatch(r"[0-9]{12,19}", number):
        return number
    if not _CARD_NO.match(number):
        raise PinBlockError("card_no", "a card number is a letter and 8 digits")
    body = _DERIVED_PAN_PREFIX + str(ord(number[0]) - ord("A") + 10) + number[1:]
    return body + luhn_check_digit(body)


def luhn_check_digit(digits: str) -> str:
    """The Luhn (ISO/IEC 7812-1 annex B) check digit to append to ``digits``."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # every second digit from the right, starting with the rightmost payload digit
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)

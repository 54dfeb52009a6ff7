"""Masking and protected fields (ID-5)."""

from __future__ import annotations

import pytest

from sscard.identity import mask_id_number, mask_phone
from sscard.identity.protected import ID_NUMBER, PHONE
from sscard.security_module.module import ProtectedDataInvalid


# rule ID-5
def test_masks_match_the_rule() -> None:
    assert mask_id_number("11010519491231123X") == "1101**********123X"
    assert mask_phone("13812345678") == "138****5678"


# rule ID-5
def test_protected_field_round_trip_and_no_clear_text() -> None:
    token = ID_NUMBER.seal("11010519491231002X")
    assert b"11010519491231002X" not in token
    assert ID_NUMBER.open(token) == "11010519491231002X"
    assert ID_NUMBER.seal("11010519491231002X") != token  # random nonce


# rule ID-5: a ciphertext moved to another column does not open there
def test_context_binding() -> None:
    token = ID_NUMBER.seal("13812345678")
    with pytest.raises(ProtectedDataInvalid):
        PHONE.open(token)


# rule ID-5
def test_tampering_is_detected() -> None:
    token = bytearray(PHONE.seal("13812345678"))
    token[-1] ^= 1
    with pytest.raises(ProtectedDataInvalid):
        PHONE.open(bytes(token))


# rule ID-5: deterministic keyed index, separated by purpose
def test_blind_index() -> None:
    assert ID_NUMBER.index("11010519491231002X") == ID_NUMBER.index("11010519491231002X")
    assert ID_NUMBER.index("13812345678") != PHONE.index("13812345678")
    assert len(ID_NUMBER.index("x")) == 32

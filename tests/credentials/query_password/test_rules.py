"""Query-password rules without a database: initial password, strength, temporary password, hashing."""

from __future__ import annotations

from datetime import date

import pytest

from sscard.credentials.query_password.errors import PasswordWeak
from sscard.credentials.query_password.hashing import hash_password, needs_rehash, normalise, verify_password
from sscard.credentials.query_password.rules import (
    TEMP_ALPHABET,
    TEMP_GROUP_LENGTH,
    TEMP_GROUPS,
    HolderContext,
    check_new_password,
    common_passwords,
    initial_query_password,
    name_pinyin,
    new_temporary_password,
)
from sscard.policy.schemas import RegionalPolicy

POLICY = RegionalPolicy()
HOLDER = HolderContext(
    id_number="11010519880318101X",
    birth_date=date(1988, 3, 18),
    name="黄勇",
    phone="13800138011",
    email="huang.yong@example.com",
    extra=("sscard",),
)


# rule QPW-1: the last 8 characters of the 18-digit ID, X converted to 0
@pytest.mark.parametrize("id_number,initial", [("11010519880318101X", "03181010"), ("110101196503150110", "03150110")])
def test_initial_password(id_number: str, initial: str) -> None:
    assert initial_query_password(id_number) == initial
    assert initial_query_password(id_number.lower()) == initial


def reason(password: str, context: HolderContext = HOLDER, policy: RegionalPolicy = POLICY) -> str | None:
    try:
        check_new_password(password, policy=policy, context=context)
    except PasswordWeak as exc:
        return exc.extra["reason"]
    return None


# rule QPW-6: each refusal names its reason
@pytest.mark.parametrize(
    "password,why",
    [
        ("short7!", "too_short"),
        ("x" * 129, "too_long"),
        ("03181010", "initial_password"),
        ("my03181010pw", "initial_password"),
        ("11010519880318101X", "id_number"),
        ("abc18101Xyz", "id_number"),
        ("born19880318!", "birth_date"),
        ("love880318x", "birth_date"),
        ("call13800138011", "phone"),
        ("huangyong", "name"),
        ("HuangYong2024", "name"),
        ("yong!!huang", "name"),
        ("hy123456789", "name"),
        ("huang.yong.pw", "email"),
        ("password123", "common"),
        ("Password2026!", "common"),
        ("woaini1314", "common"),
        ("1qaz2wsx", "common"),
        ("aaaaaaaaaa", "repetitive"),
        ("abcabcabcabc", "repetitive"),
        ("12121212", "repetitive"),
        ("34567890", "sequence"),
        ("98765432", "sequence"),
        ("qwertyuiop"[1:9], "sequence"),
        ("my sscard pw", "context"),
    ],
)
def test_weak_passwords(password: str, why: str) -> None:
    assert reason(password) == why


# rule QPW-6: no composition rules — long lowercase phrases and any script are fine; max at least 64
@pytest.mark.parametrize(
    "password", ["correct horse battery staple", "lanternfishing", "社保卡查询密码很安全", "z" * 3 + "q7v!" + "m" * 57]
)
def test_acceptable_passwords(password: str) -> None:
    assert reason(password) is None


# rule QPW-6: the policy minimum length applies
def test_policy_min_length() -> None:
    assert reason("lanternfish", policy=RegionalPolicy(password_min_length=12)) == "too_short"
    assert reason("lanternfishes", policy=RegionalPolicy(password_min_length=12)) is None


# rule PIN-10: a 6-digit number is not a valid query password under any policy (minimum 8)
def test_six_digit_pin_like_password_refused() -> None:
    assert reason("739182") == "too_short"


def test_blocklist_shipped() -> None:
    words = common_passwords()
    assert "password" in words and "5201314" in words and len(words) > 200


def test_name_pinyin() -> None:
    assert name_pinyin("黄勇") == ["huang", "yong"]
    assert name_pinyin("") == []


# rule QPW-5: random, from the unambiguous alphabet, never the same twice
def test_temporary_password() -> None:
    seen = {new_temporary_password() for _ in range(200)}
    assert len(seen) == 200
    groups = [t.split("-") for t in seen]
    assert all(len(g) == TEMP_GROUPS and all(len(p) == TEMP_GROUP_LENGTH and set(p) <= set(TEMP_ALPHABET) for p in g)
               for g in groups)  # fmt: skip


# rule QPW-6: Argon2id with the policy's parameters; a parameter change asks for a rehash
def test_hashing_parameters() -> None:
    fast = RegionalPolicy(password_hash_memory_kib=8192, password_hash_time_cost=1)
    h = hash_password(POLICY, "lanternfishing")
    assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(POLICY, h, "lanternfishing") and not verify_password(POLICY, h, "lanternfishinG")
    assert verify_password(fast, h, "lanternfishing")  # old hashes still verify
    assert needs_rehash(fast, h) and not needs_rehash(POLICY, h)


def test_normalisation() -> None:
    assert normalise("ｐａｓｓ") == "pass"  # full-width input from a Chinese IME is the same password

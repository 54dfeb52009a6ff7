"""Query-password rules without a database: initial password, strength, temporary password, hashing."""

from __future__ import annotations

from dataclasses import replace
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


def refusal(password: str, context: HolderContext = HOLDER, policy: RegionalPolicy = POLICY) -> PasswordWeak:
    with pytest.raises(PasswordWeak) as caught:
        check_new_password(password, policy=policy, context=context)
    return caught.value


# rule QPW-6 (issue 26, surviving mutants): a refusal says why in words the holder reads, not only a code
@pytest.mark.parametrize(
    "password,detail",
    [
        ("short7!", "use at least 8 characters"),
        ("x" * 129, "use at most 128 characters"),
        ("Ab3d-Ef5h-Jk7m", "choose a password of your own, not one shaped like a temporary password"),
        ("my03181010pw", "the password must not contain the initial password"),
        ("abc18101Xyz", "the password must not contain your ID number"),
        ("born19880318!", "the password must not contain your birth date"),
        ("call13800138011", "the password must not contain your phone number"),
        ("huangyong", "the password must not be made of your name"),
        ("huang.yong.pw", "the password must not contain your e-mail address"),
        ("password123", "this password is too common"),
        ("aaaaaaaaaa", "the password repeats too few characters"),
        ("34567890", "the password is a sequence of consecutive characters or keys"),
        ("my sscard pw", "the password must not contain words of this site"),
    ],
)
def test_each_refusal_says_why(password: str, detail: str) -> None:
    assert refusal(password).detail == detail


# rule QPW-6 (issue 26, surviving mutants): "too few characters" means two distinct ones at most — two are
# refused even when no short unit repeats; three are allowed
def test_two_distinct_characters_are_too_few_three_are_not() -> None:
    assert reason("aaaaaaab") == "repetitive"
    assert reason("kayakkay") is None


# rule QPW-6 (issue 26, surviving mutants): a run of consecutive characters is refused by their codes, not
# only when it lies on a keyboard row (these do not), in either direction; a keyboard row is refused
# backwards too, where the characters are not consecutive
@pytest.mark.parametrize("password", ["()*+,-./", "/.-,+*)(", "абвгдежз", "poiuytre", "mnbvcxzm"])
def test_sequences_off_the_keyboard_rows_and_rows_backwards(password: str) -> None:
    assert reason(password) == "sequence"


# rule QPW-6 (issue 26, surviving mutants): a name's syllables are its letters only: a hyphen or a digit
# written in the name on file is no syllable
def test_name_pinyin_keeps_letters_only() -> None:
    assert name_pinyin("黄-勇") == ["huang", "yong"]
    assert name_pinyin("黄1勇") == ["huang", "yong"]


# rule QPW-6 (issue 26, surviving mutants): the policy's maximum length is allowed, one more is not; a
# password shaped like a temporary one is refused with its own reason
def test_the_maximum_length_is_allowed_and_the_temporary_shape_has_its_reason() -> None:
    longest = ("correct horse battery staple " * 5)[:128]
    assert reason(longest) is None
    assert reason(longest + "s") == "too_long"
    assert reason("Ab3d-Ef5h-Jk7m") == "temporary_shape"


# rule QPW-1 (issue 26, surviving mutant): a rule the code does not know is refused by name, not silently
def test_an_unknown_initial_password_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown initial password rule nonsense"):
        initial_query_password("11010519880318101X", "nonsense")  # type: ignore[arg-type]


# rule QPW-6 (issue 26, surviving mutants): the holder's numbers are found in the password's digits, so
# writing them with separators does not get them through
@pytest.mark.parametrize(
    "password,why",
    [
        ("born 1988.03.18", "birth_date"),
        ("tel 138-0013-8011", "phone"),
        ("my 0318-1010 pw", "initial_password"),
        ("id 110105-19880318-101", "id_number"),
    ],
)
def test_numbers_written_with_separators_are_still_found(password: str, why: str) -> None:
    assert reason(password) == why


# rule QPW-6 (issue 26, surviving mutants): the ID's last six with X written as 0 is refused as well
def test_the_ids_last_six_with_x_as_zero_is_refused() -> None:
    assert reason("pw181010zz") == "id_number"


# rule QPW-6 (issue 26, surviving mutants): the phone on file is compared by its digits, however it was
# written; its last eight digits alone are refused too, a few of its digits are not
def test_the_phone_is_compared_by_its_digits() -> None:
    spaced = replace(HOLDER, phone="+86 138 0013 8011")
    assert reason("call13800138011", context=spaced) == "phone"
    assert reason("pw00138011x") == "phone"
    assert reason("lanternfish011") is None


# rule QPW-6 (issue 26, surviving mutants): each form of a name is refused — the surname alone, the given
# name alone and given name + surname of a three-character name, a five-letter name inside a password
@pytest.mark.parametrize(
    "name,password",
    [("黄勇", "huang!7392"), ("司马光", "maguangsi!"), ("司马光", "maguang2024"), ("刘一", "liuyi2024zz")],
)
def test_each_form_of_the_name_is_refused(name: str, password: str) -> None:
    assert reason(password, context=replace(HOLDER, name=name)) == "name"


# rule QPW-6 (issue 26, surviving mutants): four characters are enough to count — a four-letter e-mail name,
# a four-letter common word between digits and symbols, a four-letter word of the site
def test_four_characters_are_enough_to_refuse() -> None:
    assert reason("iamwang2026!", context=replace(HOLDER, email="wang@example.com")) == "email"
    assert reason("2024mima!!") == "common"
    assert reason("mybetapass", context=replace(HOLDER, extra=("beta",))) == "context"


# rule QPW-6 (issue 26, surviving mutant): a unit of up to four characters repeated is refused; a longer
# word said twice is a password like any other
def test_a_repeated_unit_is_at_most_four_characters() -> None:
    assert reason("kiwikiwi") == "repetitive"
    assert reason("lemonlemon") is None

"""Pure input rules for persons: name, gender, mobile phone, email, identity evidence (PER-1, ID-4).

``prepare_person`` validates everything and computes the protected column values (ID-5) before any
row is written, so the interactive path (``add_person``) and bulk paths (imports) share one set of
rules and a bad input never leaves anything half-written.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from sscard.identity import CitizenId, parse_citizen_id
from sscard.identity.masking import mask_email, mask_id_number, mask_phone
from sscard.identity.protected import EMAIL, ID_NUMBER, NAME, PHONE, person_row
from sscard.logging import mask_text
from sscard.people.errors import (
    EmailInvalid,
    EvidenceRequired,
    GenderInvalid,
    IdMismatch,
    NameInvalid,
    PhoneInvalid,
)

NAME_MAX = 64
# Minority names use the middle dot (艾力·买买提); transliterated names use spaces, hyphens, apostrophes.
_NAME_PUNCT = frozenset(" ·•‧・-'.")
# Mainland mobile numbers: 11 digits, 1 then 3-9 (MIIT numbering plan).
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_PHONE_SEPARATORS = re.compile(r"[\s\-()]")
# Deliberately pragmatic (WHATWG "valid e-mail address" shape), not full RFC 5322.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
EMAIL_MAX = 254
_GENDERS = {"M": "M", "MALE": "M", "男": "M", "F": "F", "FEMALE": "F", "女": "F"}
EVIDENCE_MIN, EVIDENCE_MAX = 3, 200


def normalise_name(raw: str) -> str:
    """A person's name as recorded: NFC, trimmed, letters of any script plus name punctuation."""
    name = unicodedata.normalize("NFC", (raw or "").strip())
    if not name:
        raise NameInvalid("the name is required")
    if len(name) > NAME_MAX:
        raise NameInvalid(f"a name has at most {NAME_MAX} characters")
    if any(not (ch.isalpha() or ch in _NAME_PUNCT) for ch in name) or not any(ch.isalpha() for ch in name):
        # Digits here usually mean the ID and the name were swapped.
        raise NameInvalid("a name contains letters and name punctuation only (no digits or symbols)")
    return name


def normalise_gender(raw: str) -> str:
    """``M`` or ``F`` from M/F, male/female or 男/女."""
    gender = _GENDERS.get((raw or "").strip().upper())
    if gender is None:
        raise GenderInvalid("gender is M or F")
    return gender


def normalise_phone(raw: str) -> str:
    """An 11-digit mainland mobile number; spaces, dashes and a +86 / 0086 prefix are dropped."""
    phone = _PHONE_SEPARATORS.sub("", raw or "")
    for prefix in ("+86", "0086"):
        if phone.startswith(prefix):
            phone = phone[len(prefix) :]
    if len(phone) == 13 and phone.startswith("86"):
        phone = phone[2:]
    if not _MOBILE.match(phone):
        raise PhoneInvalid("a mobile number has 11 digits and starts with 13-19")
    return phone


def normalise_email(raw: str) -> str:
    """A trimmed email address with its domain lowercased."""
    email = (raw or "").strip()
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        raise EmailInvalid("the email address is not of the form name@example.com")
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def name_index_key(name: str) -> str:
    """What the name's blind index is computed over: the recorded name, case-folded (Latin letters), inner
    white space collapsed, so an exact search does not depend on how a clerk typed the spacing or case."""
    return " ".join(unicodedata.normalize("NFC", name or "").casefold().split())


def email_index_key(email: str) -> str:
    # Mail providers treat the local part case-insensitively in practice; look up accordingly.
    return email.lower()


def normalise_evidence(raw: str | None) -> str:
    """CH-2: a short description of the ID document checked; any ID or phone inside is masked."""
    text = " ".join((raw or "").split())
    if len(text) < EVIDENCE_MIN:
        raise EvidenceRequired("describe the identity document that was checked (e.g. 'resident ID card')")
    if len(text) > EVIDENCE_MAX:
        raise EvidenceRequired(f"the evidence note has at most {EVIDENCE_MAX} characters")
    return mask_text(text)


def check_against_id(cid: CitizenId, *, gender: str | None, birth_date: date | None) -> None:
    """ID-4: a gender or birth date given must agree with the ID; never silently overwritten."""
    if gender is not None and normalise_gender(gender) != cid.gender:
        raise IdMismatch("the gender given does not agree with the citizen ID number", field="gender")
    if birth_date is not None and birth_date != cid.birth_date:
        raise IdMismatch("the birth date given does not agree with the citizen ID number", field="birth_date")


@dataclass(frozen=True, slots=True)
class NewPerson:
    """A validated person, ready to insert; ``repr`` shows masked values only."""

    citizen_id: CitizenId
    name: str
    phone: str | None
    email: str | None

    def __repr__(self) -> str:
        return f"NewPerson({mask_id_number(self.citizen_id.number)})"

    @property
    def masked(self) -> dict[str, str | None]:
        return {
            "id_number": mask_id_number(self.citizen_id.number),
            "phone": mask_phone(self.phone) if self.phone else None,
            "email": mask_email(self.email) if self.email else None,
        }

    def columns(self) -> dict[str, Any]:
        """Column values for a ``person`` row: protected fields sealed and blind-indexed (ID-5)."""
        cid = self.citizen_id
        # Every sealed value is bound to this row, identified by its citizen ID's blind index.
        bidx = ID_NUMBER.index(cid.number)
        return {
            "id_number_enc": ID_NUMBER.seal(cid.number, row=person_row("id_number_enc", bidx)),
            "id_number_bidx": bidx,
            "name_enc": NAME.seal(self.name, row=person_row("name_enc", bidx)),
            "name_bidx": NAME.index(name_index_key(self.name)),
            "gender": cid.gender,
            "birth_date": cid.birth_date,
            "region_code": cid.region_code,
            "phone_enc": PHONE.seal(self.phone, row=person_row("phone_enc", bidx)) if self.phone else None,
            "phone_bidx": PHONE.index(self.phone) if self.phone else None,
            "email_enc": EMAIL.seal(self.email, row=person_row("email_enc", bidx)) if self.email else None,
            "email_bidx": EMAIL.index(email_index_key(self.email)) if self.email else None,
        }


def prepare_person(
    *,
    id_number: str,
    name: str,
    phone: str | None = None,
    email: str | None = None,
    gender: str | None = None,
    birth_date: date | None = None,
) -> NewPerson:
    """Validate a new person's fields (ID-1..4, PER-1); raises the first fault with its stable code."""
    cid = parse_citizen_id(id_number)
    check_against_id(cid, gender=gender, birth_date=birth_date)
    return NewPerson(
        citizen_id=cid,
        name=normalise_name(name),
        # An empty CSV cell or form field means "not given"; anything else must be valid.
        phone=normalise_phone(phone) if phone and phone.strip() else None,
        email=normalise_email(email) if email and email.strip() else None,
    )

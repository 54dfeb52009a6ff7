"""The identity check a counter records before a sensitive PIN operation (CH-2, PIN-6..PIN-8).

The clerk states which document the holder showed and its number. Documents that carry the citizen
ID number are compared with the holder's record through the blind index (the clear number is never
stored); the audit entry keeps only the document type and the masked number.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

from sscard.credentials.pin.errors import IdentityEvidenceInvalid, IdentityEvidenceMismatch
from sscard.identity import InvalidCitizenId, mask_id_number, parse_citizen_id
from sscard.identity.protected import ID_NUMBER
from sscard.people.models import Person


class DocumentType(StrEnum):
    RESIDENT_ID_CARD = "resident_id_card"  # 居民身份证
    TEMPORARY_ID_CARD = "temporary_id_card"  # 临时居民身份证
    HOUSEHOLD_REGISTER = "household_register"  # 户口簿 (minors, and when the ID card is being renewed)
    RESIDENCE_PERMIT = "residence_permit"  # 港澳台居民居住证 (81/82/83 numbers, ID-3)
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence"  # 外国人永久居留身份证
    PASSPORT = "passport"


# Documents printed with the citizen ID number: the number must be the cardholder's.
CARRIES_CITIZEN_ID = frozenset(
    {
        DocumentType.RESIDENT_ID_CARD,
        DocumentType.TEMPORARY_ID_CARD,
        DocumentType.HOUSEHOLD_REGISTER,
        DocumentType.RESIDENCE_PERMIT,
    }
)
_OTHER_NUMBER = re.compile(r"^[A-Z0-9]{5,20}$")


@dataclass(frozen=True, slots=True)
class CheckedEvidence:
    """What the audit entry records: the document type and its masked number, never the number."""

    document_type: DocumentType
    number_masked: str

    def as_details(self) -> dict[str, str]:
        return {"document_type": self.document_type.value, "document_number": self.number_masked}

    def __str__(self) -> str:
        return f"{self.document_type.value} {self.number_masked}"


def _mask_other(number: str) -> str:
    return number[:2] + "*" * (len(number) - 4) + number[-2:]


def check_identity_evidence(*, person: Person, document_type: str, document_number: str) -> CheckedEvidence:
    """Validate the document the clerk checked against the holder (CH-2); the masked record to audit."""
    return check_identity_document(
        id_number_bidx=person.id_number_bidx, document_type=document_type, document_number=document_number
    )


def check_identity_document(
    *, id_number_bidx: bytes, document_type: str, document_number: str, needs_citizen_id: bool = False
) -> CheckedEvidence:
    """Validate a document against the citizen ID whose blind index is ``id_number_bidx`` (CH-2).

    ``needs_citizen_id``: only a document printed with the citizen ID number will do (a correction of
    the number itself is proved by the document that carries the right one, never by a passport).
    """
    try:
        doc = DocumentType(str(document_type).strip().lower())
    except ValueError:
        allowed = ", ".join(d.value for d in DocumentType)
        raise IdentityEvidenceInvalid(f"document_type is one of: {allowed}") from None
    raw = "".join((document_number or "").split()).upper()
    if needs_citizen_id and doc not in CARRIES_CITIZEN_ID:
        allowed = ", ".join(sorted(d.value for d in CARRIES_CITIZEN_ID))
        raise IdentityEvidenceInvalid(f"this needs a document printed with the citizen ID number: {allowed}")
    if doc in CARRIES_CITIZEN_ID:
        try:
            cid = parse_citizen_id(raw)
        except InvalidCitizenId as exc:
            raise IdentityEvidenceInvalid(f"the document number is not a valid citizen ID ({exc.code})") from None
        if not hmac.compare_digest(ID_NUMBER.index(cid.number), id_number_bidx):
            raise IdentityEvidenceMismatch("the document number is not the cardholder's citizen ID number")
        return CheckedEvidence(doc, mask_id_number(cid.number))
    if not _OTHER_NUMBER.match(raw):
        raise IdentityEvidenceInvalid("a document number is 5 to 20 letters and digits")
    return CheckedEvidence(doc, _mask_other(raw))

"""The one registry of columns that hold values sealed by ``encrypt_field`` (for data-key rotation).

Each entry names the table, the column and the AEAD context its values were sealed with — the
``FieldKind`` name, or a column of the same row that decides it (a notification's recipient is a
phone for SMS, an e-mail address for e-mail). A test checks that every ``*_enc`` column of the
schema is listed here, so a new protected column cannot be forgotten by ``rotate-data-key``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sscard.identity.protected import FieldKind, RowBinding


@dataclass(frozen=True, slots=True)
class ProtectedColumn:
    table: str
    column: str
    kind: str | None = None  # the FieldKind name, when fixed
    kind_by: str | None = None  # else: the column whose value picks the kind ...
    kinds: Mapping[str, str] = field(default_factory=dict)  # ... through this map
    # The column holding the row's identity the value is bound to (identity/protected.py: RowBinding).
    bound_by: str | None = None

    def binding(self, row: Mapping[str, Any]) -> RowBinding | None:
        if self.bound_by is None:
            return None
        key = row[self.bound_by]
        return RowBinding(self.table, self.column, key.encode() if isinstance(key, str) else bytes(key))

    def context_for(self, row: Mapping[str, Any]) -> bytes:
        if self.kind is not None:
            return FieldKind(self.kind).context_in(self.binding(row))
        assert self.kind_by is not None  # noqa: S101 - one of the two is always set
        value = row[self.kind_by]
        return FieldKind(self.kinds[str(getattr(value, "value", value))]).context_in(self.binding(row))


PROTECTED_COLUMNS: tuple[ProtectedColumn, ...] = (
    # Bound to the row (GB/T 39786 integrity at rest): the person's citizen ID blind index, the employer's code.
    ProtectedColumn("person", "id_number_enc", "id_number", bound_by="id_number_bidx"),
    ProtectedColumn("person", "name_enc", "name", bound_by="id_number_bidx"),
    ProtectedColumn("person", "phone_enc", "phone", bound_by="id_number_bidx"),
    ProtectedColumn("person", "email_enc", "email", bound_by="id_number_bidx"),
    ProtectedColumn("outbox_message", "recipient_enc", kind_by="channel", kinds={"sms": "phone", "email": "email"}),
    ProtectedColumn("outbox_message", "body_enc", "notify_body"),
    ProtectedColumn("page_session", "auth_token_enc", "page_auth_token"),
    ProtectedColumn("key_ceremony_component", "component_enc", "ceremony_component"),
    ProtectedColumn("staff_account", "totp_secret_enc", "staff_totp"),
    # Non-repudiation: a staff member's SM2 private signing key, bound to its username (audit/signatures.py).
    ProtectedColumn("audit_signing_key", "private_key_enc", "staff_sign_key", bound_by="username"),
    ProtectedColumn("employer", "contact_name_enc", "name", bound_by="uscc"),
    ProtectedColumn("employer", "contact_phone_enc", "phone", bound_by="uscc"),
    # A pending correction's new value is sealed as the field it will replace (only the ID needs one).
    ProtectedColumn("person_correction", "new_value_enc", kind_by="field", kinds={"id_number": "id_number"}),
    # INS-6: holders type IDs and phone numbers into discrepancy reports, and clerks into the answers.
    ProtectedColumn("discrepancy_report", "text_enc", "discrepancy_text"),
    ProtectedColumn("discrepancy_report", "answer_enc", "discrepancy_answer"),
    # INS-4: the statement's verification code, kept for reprints.
    ProtectedColumn("statement", "code_enc", "statement_code"),
    # INS-7 / ID-5: the original declaration document (request body or CSV) holds full citizen IDs.
    ProtectedColumn("declaration_document", "content_enc", "declaration_document"),
    # CARD-7: what was personalised on the card's face and chip, bound to the card's number.
    ProtectedColumn("card_personalisation", "name_enc", "name", bound_by="card_no"),
    ProtectedColumn("card_personalisation", "id_number_enc", "id_number", bound_by="card_no"),
)


def tables() -> list[str]:
    """Tables with protected columns, in registry order."""
    return list(dict.fromkeys(c.table for c in PROTECTED_COLUMNS))


def columns_of(table: str) -> list[ProtectedColumn]:
    return [c for c in PROTECTED_COLUMNS if c.table == table]

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

from sscard.identity.protected import FieldKind


@dataclass(frozen=True, slots=True)
class ProtectedColumn:
    table: str
    column: str
    kind: str | None = None  # the FieldKind name, when fixed
    kind_by: str | None = None  # else: the column whose value picks the kind ...
    kinds: Mapping[str, str] = field(default_factory=dict)  # ... through this map

    def context_for(self, row: Mapping[str, Any]) -> bytes:
        if self.kind is not None:
            return FieldKind(self.kind).context
        assert self.kind_by is not None  # noqa: S101 - one of the two is always set
        value = row[self.kind_by]
        return FieldKind(self.kinds[str(getattr(value, "value", value))]).context


PROTECTED_COLUMNS: tuple[ProtectedColumn, ...] = (
    ProtectedColumn("person", "id_number_enc", "id_number"),
    ProtectedColumn("person", "name_enc", "name"),
    ProtectedColumn("person", "phone_enc", "phone"),
    ProtectedColumn("person", "email_enc", "email"),
    ProtectedColumn("outbox_message", "recipient_enc", kind_by="channel", kinds={"sms": "phone", "email": "email"}),
    ProtectedColumn("outbox_message", "body_enc", "notify_body"),
    ProtectedColumn("key_ceremony_component", "component_enc", "ceremony_component"),
    ProtectedColumn("staff_account", "totp_secret_enc", "staff_totp"),
)


def tables() -> list[str]:
    """Tables with protected columns, in registry order."""
    return list(dict.fromkeys(c.table for c in PROTECTED_COLUMNS))


def columns_of(table: str) -> list[ProtectedColumn]:
    return [c for c in PROTECTED_COLUMNS if c.table == table]

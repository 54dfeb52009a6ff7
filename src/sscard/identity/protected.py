"""Protected personal fields (ID-5): encrypted at rest, looked up through a keyed blind index.

Each field kind has its own AEAD context and blind-index purpose, so a ciphertext or index copied
from one column to another does not verify.

Row binding (GB/T 39786 "integrity of important data at rest", checked on read): a person's ID number,
name, phone and e-mail, and an employer's contact, are sealed with the row's identity in the AEAD's
associated data (``RowBinding``: table, column and the row's unique key). A ciphertext copied from one
person's row into another's, or moved to another column, fails its tag on read with
``PROTECTED_DATA_INVALID`` and a ``protected_data.integrity_failure`` security log line. The row's
identity is its unique natural key (a person: the keyed blind index of the citizen ID, unique in the
table; an employer: its credit code), not the surrogate ``id``: a row is sealed before the database
gives it an ``id`` (the bulk import COPYs sealed rows), and the foreign keys that point at a person are
not sealed anyway, so binding to ``id`` would not protect more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from sscard.security_module import get_security_module
from sscard.security_module.errors import ProtectedDataInvalid

log = structlog.get_logger("sscard.security")


@dataclass(frozen=True, slots=True)
class RowBinding:
    """The row a sealed value belongs to: ``table``, ``column`` and the row's unique identity ``key``."""

    table: str
    column: str
    key: bytes

    def aad(self) -> bytes:
        return b"|row|" + self.table.encode() + b"|" + self.column.encode() + b"|" + self.key.hex().encode()

    @property
    def fingerprint(self) -> str:
        """Enough of the row key to find the row in a log line (a keyed index: no personal data)."""
        return self.key.hex()[:12]


def person_row(column: str, id_number_bidx: bytes) -> RowBinding:
    """A person's row: identified by the blind index of its citizen ID (unique in ``person``)."""
    return RowBinding("person", column, bytes(id_number_bidx))


def employer_row(column: str, uscc: str) -> RowBinding:
    """An employer's row: identified by its unified social credit code (unique in ``employer``)."""
    return RowBinding("employer", column, uscc.encode())


@dataclass(frozen=True, slots=True)
class FieldKind:
    name: str

    @property
    def context(self) -> bytes:
        return b"sscard/field/" + self.name.encode()

    def context_in(self, row: RowBinding | None) -> bytes:
        return self.context if row is None else self.context + row.aad()

    def seal(self, value: str, *, row: RowBinding | None = None) -> bytes:
        return get_security_module().encrypt_field(value.encode(), context=self.context_in(row))

    def open(self, token: bytes, *, row: RowBinding | None = None) -> str:
        try:
            return get_security_module().decrypt_field(token, context=self.context_in(row)).decode()
        except ProtectedDataInvalid as exc:
            if row is None:
                raise
            # Altered, or copied from another row or column: never shown, always reported.
            log.warning("protected_data.integrity_failure", table=row.table, column=row.column, row_ref=row.fingerprint)
            raise ProtectedDataInvalid(
                f"{row.table}.{row.column} of row {row.fingerprint} failed its integrity check "
                "(altered, or copied from another row)"
            ) from exc

    def index(self, value: str) -> bytes:
        return get_security_module().blind_index(value.encode(), purpose=self.name)


ID_NUMBER = FieldKind("id_number")
# The name too: with gender, birth date and region in clear it narrows a citizen ID to a few hundred.
NAME = FieldKind("name")
PHONE = FieldKind("phone")
EMAIL = FieldKind("email")


def seal_many(items: Sequence[tuple[FieldKind, str] | tuple[FieldKind, str, RowBinding | None]]) -> list[bytes]:
    """``kind.seal(value, row=row)`` for many ``(kind, value[, row])`` in one security-module call (imports)."""
    return get_security_module().encrypt_fields(
        [(item[1].encode(), item[0].context_in(item[2] if len(item) > 2 else None)) for item in items]  # type: ignore[misc]
    )


def index_many(items: Sequence[tuple[FieldKind, str]]) -> list[bytes]:
    """``kind.index(value)`` for many ``(kind, value)`` pairs in one security-module call (bulk imports)."""
    return get_security_module().blind_indexes([(value.encode(), kind.name) for kind, value in items])

"""Bulk insert of sealed person rows, idempotent on the ID's blind index.

PostgreSQL: binary COPY into a temporary staging table, then one ``INSERT … SELECT … ON CONFLICT
(id_number_bidx) DO NOTHING`` (COPY itself cannot skip conflicts). SQLite: ``executemany`` of an
``INSERT … ON CONFLICT DO NOTHING``. Both run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.imports.rows import STAGE_COLUMNS, StageRecord
from sscard.people.models import Person, PersonStatus

_STAGE_TYPES = ["bytea", "bytea", "bytea", "bytea", "text", "date", "text", "bytea", "bytea", "bytea", "bytea"]
_COLS = ", ".join(STAGE_COLUMNS)
# ON COMMIT DELETE ROWS: the staging table lives with the pooled connection and is empty at each batch.
_CREATE_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS person_import_stage ("
    "id_number_enc bytea, id_number_bidx bytea, name_enc bytea, name_bidx bytea, gender text, birth_date date, "
    "region_code text, phone_enc bytea, phone_bidx bytea, email_enc bytea, email_bidx bytea) ON COMMIT DELETE ROWS"
)
_COPY_STAGE = f"COPY person_import_stage ({_COLS}) FROM STDIN (FORMAT BINARY)"
# Built from the constant column list above, never from input.
_INSERT_FROM_STAGE = (
    f"INSERT INTO person ({_COLS}, status, created_at, updated_at) "  # noqa: S608
    f"SELECT {_COLS}, %s, now(), now() FROM person_import_stage "
    "ON CONFLICT (id_number_bidx) DO NOTHING"
)


# PostgreSQL binary COPY framing (protocol docs, "COPY … BINARY file format").
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_DATE_EPOCH = date(2000, 1, 1).toordinal()
_FIELD_COUNT = len(STAGE_COLUMNS).to_bytes(2, "big")


def encode_copy_row(record: StageRecord) -> bytes:
    """One staging row in PostgreSQL's binary COPY format.

    Done where the row is sealed (a worker process), so the importing process only joins bytes: this
    takes the per-row formatting off the process that talks to the database.
    """
    id_enc, id_bidx, name_enc, name_bidx, gender, born, region, phone_enc, phone_bidx, email_enc, email_bidx = record
    parts = [
        _FIELD_COUNT,
        len(id_enc).to_bytes(4, "big"),
        id_enc,
        len(id_bidx).to_bytes(4, "big"),
        id_bidx,
        len(name_enc).to_bytes(4, "big"),
        name_enc,
        len(name_bidx).to_bytes(4, "big"),
        name_bidx,
        b"\x00\x00\x00\x01",
        gender.encode(),
        b"\x00\x00\x00\x04",
        (born.toordinal() - _DATE_EPOCH).to_bytes(4, "big", signed=True),
        b"\x00\x00\x00\x06",
        region.encode(),
    ]
    for value in (phone_enc, phone_bidx, email_enc, email_bidx):
        if value is None:
            parts.append(_NULL)
        else:
            parts += (len(value).to_bytes(4, "big"), value)
    return b"".join(parts)


def insert_persons(uow: UnitOfWork, records: Sequence[StageRecord | bytes]) -> int:
    """Insert the rows whose ID is not yet present; return how many were inserted.

    ``records`` are staging tuples, or on PostgreSQL rows already encoded by ``encode_copy_row``.
    """
    if not records:
        return 0
    connection = uow.session.connection()
    if connection.dialect.name == "postgresql":
        return _copy_insert(connection.connection.driver_connection, records)
    return _executemany_insert(uow, cast(Sequence[StageRecord], records))


def _copy_insert(pg: Any, records: Sequence[StageRecord | bytes]) -> int:
    with pg.cursor() as cur:
        cur.execute(_CREATE_STAGE)
        with cur.copy(_COPY_STAGE) as copy:
            if isinstance(records[0], bytes):
                copy.write(b"".join((COPY_HEADER, *cast(Sequence[bytes], records), COPY_TRAILER)))
            else:
                copy.set_types(_STAGE_TYPES)
                for record in records:
                    copy.write_row(record)
        cur.execute(_INSERT_FROM_STAGE, (PersonStatus.EMPLOYED.value,))
        inserted = cur.rowcount
        # Empty the stage now too: a later batch in the same transaction (tests) must not see these rows.
        cur.execute("TRUNCATE person_import_stage")
    return int(inserted)


def _executemany_insert(uow: UnitOfWork, records: Sequence[StageRecord]) -> int:
    now = utcnow()
    fixed = {"status": PersonStatus.EMPLOYED, "created_at": now, "updated_at": now}
    params = [dict(zip(STAGE_COLUMNS, record, strict=True), **fixed) for record in records]
    table = cast(Table, Person.__table__)
    stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=[table.c.id_number_bidx])
    # Core on the session's connection: a plain executemany whose rowcount sums the inserted rows.
    return int(uow.session.connection().execute(stmt, params).rowcount)

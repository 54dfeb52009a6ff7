"""Audit chain checkpoints: where the last full walk found each stream intact (CH-4).

A full walk (``sscard audit verify``) reads every entry ever written; at national scale that is
hours, fine for a nightly job, not for an auditor waiting on a report. After a full walk each intact
stream gets a checkpoint (its head's seq and hash); the report's check then starts there.

What a checkpoint gives up, said plainly: an entry *before* it that is altered after the walk is found
by the next full walk, not by a walk from the checkpoint. What it keeps: its MAC (the audit key) binds
stream, seq, hash and time, so nobody without the key can move a checkpoint past entries they altered,
and a stream head behind its checkpoint shows entries removed from the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select

from sscard.audit.models import AuditCheckpoint, AuditStreamHead
from sscard.db.session import UnitOfWork
from sscard.db.statements import upsert
from sscard.security_module import get_security_module

# 32 bytes and a separator no entry's MAC input has at that place (an entry's input is its 32-byte
# previous hash, then a JSON list starting with "["), so no entry hash can pass for a checkpoint's MAC.
_TAG = b"sscard audit checkpoint v1".ljust(32, b"\x00") + b"|"
_CHECKPOINT = cast(Table, AuditCheckpoint.__table__)


def checkpoint_mac(*, stream: int, seq: int, hash_: bytes, verified_at: datetime) -> bytes:
    data = _TAG + f"{stream}|{seq}|{hash_.hex()}|{verified_at.isoformat(timespec='microseconds')}".encode()
    return get_security_module().audit_mac(data)[:32]


def load_checkpoints(uow: UnitOfWork) -> dict[int, AuditCheckpoint]:
    query = select(AuditCheckpoint).execution_options(populate_existing=True)  # as stored now (upserts are Core)
    return {c.stream: c for c in uow.session.scalars(query)}


def checkpoint_fault(checkpoint: AuditCheckpoint, head: AuditStreamHead) -> str | None:
    """Why a walk may not start at ``checkpoint``; None when it may."""
    expected = checkpoint_mac(
        stream=checkpoint.stream, seq=checkpoint.seq, hash_=checkpoint.hash, verified_at=checkpoint.verified_at
    )
    if expected != checkpoint.mac:
        return "checkpoint does not match its MAC (altered or forged)"
    if head.seq < checkpoint.seq:
        return f"stream head records {head.seq} entries, its checkpoint {checkpoint.seq} (entries removed from the end)"
    return None


def record_checkpoints(uow: UnitOfWork, heads: Iterable[AuditStreamHead], *, at: datetime) -> int:
    """A checkpoint at each of ``heads`` (streams a full walk found intact, up to these heads); how many.

    One upsert per stream that only moves a checkpoint forward: two walks may overlap (a nightly walk
    of a national log can outlast the night), and the one that read older heads must not set back the
    newer one's checkpoints, nor fail on them."""
    count = 0
    for head in heads:
        if head.seq == 0:
            continue  # nothing written yet: a walk from the start costs nothing
        values = {
            "seq": head.seq,
            "hash": head.last_hash,
            "verified_at": at,
            "mac": checkpoint_mac(stream=head.stream, seq=head.seq, hash_=head.last_hash, verified_at=at),
        }
        insert = upsert(uow, _CHECKPOINT).values(stream=head.stream, **values)
        uow.session.execute(
            insert.on_conflict_do_update(
                index_elements=[_CHECKPOINT.c.stream], set_=values, where=_CHECKPOINT.c.seq < insert.excluded.seq
            )
        )
        count += 1
    return count

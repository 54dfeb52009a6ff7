"""Where each audit stream continues after its oldest months were archived (docs/partitioning.md).

``sscard partitions detach`` takes whole months out of ``audit_entry`` (PostgreSQL). Each stream then
starts, in the database, after its *horizon*: the seq and chain hash of its last archived entry. The
walk (``verify_chain``) starts there, as from a checkpoint, and the first attached entry must link to
the horizon's hash. The archived entries were found intact before they left (the detach refuses a
broken chain) and stay verifiable in their own table or dump, from the previous horizon.

A horizon's MAC (the audit key) binds stream, seq, hash and month: nobody without the key can move a
horizon past entries they removed or altered. On SQLite, and before anything was archived: none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text

from sscard.db.partitions import is_partitioned
from sscard.security_module import get_security_module

# Like the checkpoints' tag (audit/checkpoints.py): no entry's MAC input has this at this place.
_TAG = b"sscard audit archive horizon v1".ljust(32, b"\x00") + b"|"


@dataclass(frozen=True)
class Horizon:
    stream: int
    seq: int  # the stream's last archived entry
    hash: bytes  # its chain hash: the first attached entry's prev_hash
    archived_before: date  # the first month still attached
    mac: bytes


def horizon_mac(*, stream: int, seq: int, hash_: bytes, archived_before: date) -> bytes:
    data = _TAG + f"{stream}|{seq}|{hash_.hex()}|{archived_before.isoformat()}".encode()
    return get_security_module().audit_mac(data)[:32]


def _mac_ok(horizon: Horizon) -> bool:
    expected = horizon_mac(stream=horizon.stream, seq=horizon.seq, hash_=horizon.hash,
                           archived_before=horizon.archived_before)  # fmt: skip
    return expected == horizon.mac


def horizon_fault(horizon: Horizon, head_seq: int | None) -> str | None:
    """Why a walk may not start at ``horizon``; None when it may."""
    if not _mac_ok(horizon):
        return "archive horizon does not match its MAC (altered or forged)"
    if head_seq is None:
        return f"stream has no head, its archive horizon records {horizon.seq} entries (stream removed)"
    if head_seq < horizon.seq:
        return (f"stream head records {head_seq} entries, its archive horizon {horizon.seq} "
                "(entries removed from the end)")  # fmt: skip
    return None


def load_horizons(connection: Connection) -> dict[int, Horizon]:
    if not is_partitioned(connection, "audit_entry"):
        return {}
    rows = connection.execute(text("SELECT stream, seq, hash, archived_before, mac FROM audit_archive_horizon"))
    return {r.stream: Horizon(r.stream, r.seq, bytes(r.hash), r.archived_before, bytes(r.mac)) for r in rows}


def record_horizons(connection: Connection, tails: dict[int, tuple[int, bytes]], *, before: date, at: datetime) -> None:
    """Move each stream's horizon to its last archived entry (stream → (seq, hash))."""
    upsert = text(
        "INSERT INTO audit_archive_horizon (stream, seq, hash, archived_before, recorded_at, mac) "
        "VALUES (:stream, :seq, :hash, :before, :at, :mac) ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, "
        "hash = excluded.hash, archived_before = excluded.archived_before, recorded_at = excluded.recorded_at, "
        "mac = excluded.mac"
    )
    params: list[dict[str, Any]] = [
        {
            "stream": stream,
            "seq": seq,
            "hash": hash_,
            "before": before,
            "at": at,
            "mac": horizon_mac(stream=stream, seq=seq, hash_=hash_, archived_before=before),
        }  # fmt: skip
        for stream, (seq, hash_) in sorted(tails.items())
    ]
    if params:
        connection.execute(upsert, params)


def archived_places(
    horizons: Mapping[int, Horizon], places: Iterable[tuple[int, int, bytes]]
) -> dict[tuple[int, int], tuple[int, bytes]]:
    """For checkpointed, anchored or head places (stream, seq, hash recorded there) in the archived months,
    what ``check_heads`` is to find there, as ``lookup_hashes`` gives it: the horizon's own hash at the
    horizon, the recorded hash before it (those entries were found intact before they were archived).
    Places still attached are left out (looked up in the table), and so are horizons whose MAC fails."""
    found: dict[tuple[int, int], tuple[int, bytes]] = {}
    for stream, seq, hash_ in places:
        horizon = horizons.get(stream)
        if horizon is not None and seq <= horizon.seq and _mac_ok(horizon):
            found[(stream, seq)] = (0, horizon.hash if seq == horizon.seq else hash_)
    return found

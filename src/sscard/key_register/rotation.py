"""Data-key rotation: re-encrypt every protected column under a new data-key version, resumably.

``begin_rotation`` makes a new DATA version current (new writes use it at once) and records a
rotation with one progress row per table. ``rotate_batch`` re-seals one batch of one table and
advances that table's progress row in the same transaction, so a run killed at any point resumes
where the last committed batch ended. Until ``finish_rotation`` retires the old versions, values
under any version decrypt. Each update is compare-and-set on the old value: a row changed
concurrently is left alone (it was re-sealed under the new key by its writer).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, column, func, select, table, update

from sscard.audit import Actor, record_event
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.identity.protected_columns import columns_of, tables
from sscard.key_register.inventory import key_module, rotate_key, sync_inventory
from sscard.key_register.models.module_keys import DataKeyRotation, DataKeyRotationProgress
from sscard.security_module.errors import KeyInputInvalid

DATA = "DATA"


@dataclass(frozen=True, slots=True)
class BatchResult:
    rows: int  # rows read in this batch
    resealed: int  # values re-encrypted
    done: bool  # the table has no rows left


def running_rotation(uow: UnitOfWork) -> DataKeyRotation | None:
    return uow.session.scalar(select(DataKeyRotation).where(DataKeyRotation.state == "running"))


def begin_rotation(uow: UnitOfWork, *, actor: Actor) -> DataKeyRotation:
    """Resume the running rotation, or rotate the data key and start a new one."""
    current = running_rotation(uow)
    if current is not None:
        return current
    before = key_module().describe(DATA).current
    row = rotate_key(uow, label=DATA, actor=actor)
    rotation = DataKeyRotation(from_version=before, to_version=row.version, state="running", started_by=actor.id)
    uow.session.add(rotation)
    uow.flush()
    for name in tables():
        uow.session.add(DataKeyRotationProgress(rotation_id=rotation.id, table_name=name, last_id=0, rows_done=0))
    uow.flush()
    record_event(uow, actor=actor, action="key.data.rotation.start", subject=f"data_key_rotation:{rotation.id}",
                 details={"from_version": before, "to_version": row.version, "tables": tables()})  # fmt: skip
    return rotation


def _progress(uow: UnitOfWork, rotation_id: int, name: str) -> DataKeyRotationProgress:
    progress = uow.session.get(DataKeyRotationProgress, (rotation_id, name))
    if progress is None:
        raise KeyInputInvalid(f"table {name} is not part of rotation {rotation_id}")
    return progress


def remaining(uow: UnitOfWork, *, rotation_id: int, table_name: str) -> int:
    """Rows of the table not yet visited by this rotation (for the progress bar)."""
    progress = _progress(uow, rotation_id, table_name)
    if progress.done:
        return 0
    t = table(table_name, column("id"))
    return int(uow.session.scalar(select(func.count()).select_from(t).where(t.c.id > progress.last_id)) or 0)


def rotate_batch(uow: UnitOfWork, *, rotation_id: int, table_name: str, batch_size: int = 500) -> BatchResult:
    """Re-seal the next ``batch_size`` rows of one table; the progress row moves in the same transaction."""
    progress = _progress(uow, rotation_id, table_name)
    if progress.done:
        return BatchResult(0, 0, True)
    protected = columns_of(table_name)
    extra = {c.kind_by for c in protected if c.kind_by} | {c.bound_by for c in protected if c.bound_by}
    t = table(table_name, column("id"), *(column(c.column) for c in protected), *(column(n) for n in extra))
    rows = uow.session.execute(
        select(t).where(t.c.id > progress.last_id).order_by(t.c.id).limit(batch_size)
    ).mappings().all()  # fmt: skip
    module = key_module()
    resealed = 0
    for row in rows:
        for col in protected:
            token = row[col.column]
            if token is None:
                continue
            new = module.reencrypt_field(bytes(token), context=col.context_for(dict(row)))
            if new is not None:
                uow.session.execute(
                    update(t).where(and_(t.c.id == row["id"], t.c[col.column] == token)).values({col.column: new})
                )
                resealed += 1
    if rows:
        progress.last_id = int(rows[-1]["id"])
        progress.rows_done += len(rows)
    progress.done = len(rows) < batch_size
    uow.flush()
    return BatchResult(len(rows), resealed, progress.done)


def finish_rotation(uow: UnitOfWork, *, rotation_id: int, actor: Actor) -> DataKeyRotation:
    """Retire the old data-key versions once every table is done; refused while any is not."""
    rotation = uow.session.get(DataKeyRotation, rotation_id)
    if rotation is None or rotation.state != "running":
        raise KeyInputInvalid(f"rotation {rotation_id} is not running")
    pending = [p.table_name for p in _all_progress(uow, rotation_id) if not p.done]
    if pending:
        raise KeyInputInvalid(f"tables not yet re-encrypted: {', '.join(pending)}")
    module = key_module()
    retired = []
    for version, kv in sorted(module.describe(DATA).versions.items()):
        if version < rotation.to_version and kv.state == "active":
            module.retire(DATA, version=version)
            retired.append(version)
    rotation.state, rotation.finished_at = "finished", utcnow()
    uow.flush()
    sync_inventory(uow, actor=actor)
    rows = sum(p.rows_done for p in _all_progress(uow, rotation_id))
    record_event(uow, actor=actor, action="key.data.rotation.finish", subject=f"data_key_rotation:{rotation.id}",
                 details={"to_version": rotation.to_version, "retired": retired, "rows": rows})  # fmt: skip
    return rotation


def _all_progress(uow: UnitOfWork, rotation_id: int) -> list[DataKeyRotationProgress]:
    return list(
        uow.session.scalars(select(DataKeyRotationProgress).where(DataKeyRotationProgress.rotation_id == rotation_id))
    )

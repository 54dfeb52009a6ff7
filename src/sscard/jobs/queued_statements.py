"""Yearly statements over the queue: the coordinator queues the batches, ``sscard worker`` does them.

A message names a year, (person id, region) pairs and the actor the audit entries name: ids only,
never a name or a citizen ID, so the broker holds no personal data. A worker loads the batch, renders
the PDFs and records them in one transaction, as the in-process path does (jobs/statements.py).

Exactly once: RabbitMQ may hand a batch to a second worker (the first was killed before it
acknowledged). The second skips every person whose statement row exists, and (person, year) is
unique, so a statement is recorded once; a file the killed worker wrote but never recorded is
replaced. Progress is counted from the statement rows themselves, so it stays right whoever dies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from sqlalchemy import func, select

from sscard.audit import Actor
from sscard.db.session import unit_of_work
from sscard.errors import DomainError
from sscard.jobs import broker as queue
from sscard.jobs.actors import actor_from_message, actor_message, statements_actor
from sscard.jobs.statements import prepare_batch, record_batch, render_batch
from sscard.statements.fonts import register_font
from sscard.statements.loading import region_filter
from sscard.statements.models import Statement
from sscard.statements.service import already_issued

log = structlog.get_logger("sscard.jobs.queue")

KIND = queue.STATEMENTS
POLL_S = 0.5
STALL_NOTE_S = 60.0  # "no progress": said once a minute (no worker running, all busy elsewhere …)


class StatementBatchesFailed(DomainError):
    code = "STATEMENT_BATCHES_FAILED"
    status = 500
    title = "Some statement batches failed in the workers after every retry (see the workers' log)."
    title_zh = "部分权益记录单批次在重试后仍失败（请查看 worker 日志）。"


def issue_batch(year: int, persons: list[list[Any]], actor: dict[str, str]) -> None:
    """One batch's work (run by the queue actor of jobs/actors.py): issue the batch's statements not issued
    yet (the count goes to the log: an actor's return value would need Dramatiq's results middleware, and
    progress is read from the rows)."""
    register_font()  # once per process (cached); a missing font fails the batch, visibly, before any work
    batch = [(int(pid), str(region)) for pid, region in persons]
    with unit_of_work() as uow:
        done = already_issued(uow, [pid for pid, _ in batch], year=year)
    todo = [item for item in batch if item[0] not in done]
    if not todo:  # a batch handed on again after its first worker had recorded it
        log.info("statements batch", year=year, persons=len(batch), issued=0, skipped=len(batch))
        return
    issued = record_batch(render_batch(prepare_batch(todo, year)), actor_from_message(actor))
    log.info("statements batch", year=year, persons=len(batch), issued=issued, skipped=len(batch) - len(todo))


def _issued(year: int, region: str | None) -> int:
    with unit_of_work() as uow:
        query = select(func.count()).select_from(Statement).where(Statement.year == year)
        if region is not None:
            query = query.where(region_filter(Statement.region_code, region))  # type: ignore[arg-type]
        return int(uow.session.scalar(query) or 0)


def issue_over_queue(
    batches: Sequence[Sequence[tuple[int, str]]],
    *,
    year: int,
    region: str | None,
    actor: Actor,
    on_batch: Callable[[int], None] | None = None,
    on_stall: Callable[[float], None] | None = None,
) -> int:
    """Queue the batches and wait until the workers have issued them all; how many were issued."""
    queue.check_reachable()
    send = statements_actor()
    dead_before = queue.dead_letters(send.queue_name)
    before = _issued(year, region)
    message_actor = actor_message(actor)
    for batch in batches:
        send.send(year, [[pid, region_code] for pid, region_code in batch], message_actor)
    target = sum(len(batch) for batch in batches)
    log.info("statements queued", year=year, region=region, batches=len(batches), persons=target)
    done = 0
    last_progress = time.monotonic()
    while done < target:
        time.sleep(POLL_S)
        now = min(_issued(year, region) - before, target)  # a concurrent `show` may add one: capped
        if now > done:
            if on_batch:
                on_batch(now - done)
            done, last_progress = now, time.monotonic()
            continue
        failed = queue.dead_letters(send.queue_name) - dead_before
        if failed > 0:
            raise StatementBatchesFailed(
                f"{failed} statement batch(es) failed after {queue.MAX_RETRIES} retries; "
                f"{done:,} of {target:,} statements issued. Fix the cause (see the workers' log) and run again."
            )
        waited = time.monotonic() - last_progress
        if waited >= STALL_NOTE_S:
            if on_stall:
                on_stall(waited)
            last_progress = time.monotonic()
    return done

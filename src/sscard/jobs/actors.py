"""The queue's two actors and what their messages carry, declared without the jobs' own modules.

``sscard worker`` declares both when its processes start (jobs/worker_tasks.py); each actor's body
imports its job's module (statements rendering, the import pipeline with the insurance rules) when a
message of its kind arrives, so a worker loads only what the work it is handed needs (issue 18 item 5).
The coordinators (jobs/queued_statements.py, jobs/queued_imports.py) send through the same declarations.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sscard.audit.actor import Actor, Channel
from sscard.jobs import broker as queue

if TYPE_CHECKING:
    import dramatiq

STATEMENTS_TIME_LIMIT_S = 15 * 60  # one batch of statements (jobs/queued_statements.py; jobs/statements.py also
# reads it to tell an abandoned temporary file from one still being written)
IMPORT_CHUNK_TIME_LIMIT_S = 15 * 60  # one range; far above the seconds a range of the default size takes


# What a message says of the person or system that asked for the work (the audit's Actor), not a queue actor.
def actor_message(actor: Actor) -> dict[str, str]:
    return {key: str(value) for key, value in asdict(actor).items()}


def actor_from_message(fields: dict[str, str]) -> Actor:
    return Actor(
        kind=fields["kind"], id=fields["id"], channel=Channel(fields["channel"]),
        role=fields.get("role", ""), region=fields.get("region", ""),
    )  # fmt: skip


def issue_batch(year: int, persons: list[list[Any]], actor: dict[str, str]) -> None:
    """A batch of yearly statements (jobs/queued_statements.py)."""
    # Imported with the first batch, not at a worker's start (issue 18 item 5).
    from sscard.jobs.queued_statements import issue_batch as issue

    issue(year, persons, actor)


def do_chunk(
    kind: str, job_id: int, ref: list[Any], header: list[Any], plan: dict[str, Any], actor: dict[str, str]
) -> None:
    """A line range of an import job (jobs/queued_imports.py)."""
    # Imported with the first range, not at a worker's start (issue 18 item 5).
    from sscard.jobs.queued_imports import do_chunk as do

    do(kind, job_id, ref, header, plan, actor)


@lru_cache(maxsize=1)
def statements_actor() -> dramatiq.Actor[Any, Any]:
    return queue.declare_actor(issue_batch, name="issue_statements", kind=queue.STATEMENTS,
                               time_limit_s=STATEMENTS_TIME_LIMIT_S)  # fmt: skip


@lru_cache(maxsize=1)
def chunks_actor() -> dramatiq.Actor[Any, Any]:
    return queue.declare_actor(do_chunk, name="import_chunk", kind=queue.IMPORTS,
                               time_limit_s=IMPORT_CHUNK_TIME_LIMIT_S)  # fmt: skip

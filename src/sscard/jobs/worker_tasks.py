"""What ``python -m dramatiq`` imports in each worker process (``sscard worker``): the broker and every
actor declared on it (jobs/actors.py: each job's module is imported when its first message arrives).
``sscard worker`` checks that SSCARD_BROKER_URL is set before it starts them; imported anywhere else
without a broker (tools that walk the package), it declares nothing."""

from __future__ import annotations

from sscard.jobs.actors import chunks_actor, statements_actor
from sscard.jobs.broker import configured
from sscard.logging import configure_logging

if configured():
    configure_logging()  # masked JSON lines on stderr, as every other process of sscard
    issue_statements = statements_actor()
    import_chunk = chunks_actor()

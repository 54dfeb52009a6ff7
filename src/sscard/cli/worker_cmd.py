"""``sscard worker``: do batch work from the message broker (SSCARD_BROKER_URL), on any machine.

Dramatiq's own worker runs the processes (``python -m dramatiq``): it restarts nothing by itself, so
run it under the service manager (systemd ``Restart=always``); a worker that dies leaves its batches
unacknowledged and RabbitMQ hands them to the others (jobs/broker.py).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from sscard.cli.common import EXIT_USAGE, err_console, fail, handle_errors

# The module Dramatiq imports in each worker process: it declares every actor on the broker.
TASKS_MODULE = "sscard.jobs.worker_tasks"


@handle_errors
def worker(
    processes: Annotated[
        int | None, typer.Option("--processes", min=1, max=64, help="Worker processes (default: one per CPU).")
    ] = None,
    threads: Annotated[
        int, typer.Option("--threads", min=1, max=64, help="Threads per process (rendering is CPU-bound: keep 1).")
    ] = 1,
) -> None:
    """Take batch work (yearly statements, the line ranges of persons and contributions imports) from the
    broker's queues until stopped (Ctrl+C, SIGTERM)."""
    from sscard.config import get_settings
    from sscard.jobs import broker as queue
    from sscard.statements.fonts import register_font

    if not queue.configured():
        raise fail(
            "no broker configured: set SSCARD_BROKER_URL=amqp://user:password@host:5672/",
            "BROKER_NOT_CONFIGURED",
            EXIT_USAGE,
        )
    queue.check_reachable()  # one clear line now, not a retry loop in every process
    register_font()  # a machine without the statement font says so before taking any batch
    count = processes or os.cpu_count() or 1
    url = queue.display_url(get_settings().broker_url.get_secret_value())  # type: ignore[union-attr]
    queues = [queue.queue_name(queue.STATEMENTS), queue.queue_name(queue.IMPORTS)]
    err_console.print(
        f"sscard worker: {count} process(es) × {threads} thread(s) on queues {', '.join(queues)} at {url}",
        highlight=False,
    )
    sys.stderr.flush()
    argv = [sys.executable, "-m", "dramatiq", TASKS_MODULE, "--processes", str(count), "--threads", str(threads),
            "--queues", *queues]  # fmt: skip
    os.execv(sys.executable, argv)  # noqa: S606 - fixed argv, no shell; the process becomes Dramatiq's supervisor: signals reach it directly

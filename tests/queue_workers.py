"""Tests on a real RabbitMQ (issue 23 item 2): a queue namespace per test, ``sscard worker`` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

BROKER_URL = os.environ.get("SSCARD_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
QUEUE_KINDS = ("statements", "imports")


def _broker_reachable() -> bool:
    import pika

    try:
        pika.BlockingConnection(pika.URLParameters(BROKER_URL)).close()
    except Exception:
        return False
    return True


@pytest.fixture
def broker_env(db_env) -> Iterator[dict[str, str]]:
    """Environment of this test's processes: its database and a queue namespace of its own."""
    if not _broker_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"RabbitMQ is not reachable at {BROKER_URL}: CI machines run it")
        pytest.skip(f"RabbitMQ is not reachable at {BROKER_URL}")
    namespace = f"t{uuid.uuid4().hex[:12]}"
    yield {**os.environ, "SSCARD_BROKER_URL": BROKER_URL, "SSCARD_BROKER_NAMESPACE": namespace}
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    channel = connection.channel()
    for kind in QUEUE_KINDS:
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(f"{namespace}.{kind}{suffix}")
    connection.close()


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``sscard worker --processes 1`` in a session of its own (so it can be killed whole)."""
    return subprocess.Popen(
        [sys.executable, "-m", "sscard.cli.main", "worker", "--processes", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

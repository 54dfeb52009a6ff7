"""The anchoring loop of ``sscard serve``: anchors the audit stream heads every few seconds
(``audit/anchors.py`` says what an anchor is), one unit of work per anchor."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from sscard.audit.actor import Actor
from sscard.audit.anchors import anchor_now
from sscard.db.session import unit_of_work


def run_anchor_loop(*, stop: Any, interval: float) -> None:
    """Anchor every ``interval`` seconds until ``stop`` (a ``threading.Event``) is set (``sscard serve``)."""
    log = structlog.get_logger("sscard.audit.anchors")
    while not stop.wait(interval):
        try:
            with unit_of_work() as uow:
                written = anchor_now(uow, actor=Actor.system())
            if written.faults:
                log.error("audit.anchor_faults", n=written.n, faults=len(written.faults))
        except Exception:  # noqa: BLE001 - a refusal or an unreachable database: said, tried again later
            log.exception("audit.anchor_failed")


@contextmanager
def background_anchoring(interval: float) -> Iterator[None]:
    """Run ``run_anchor_loop`` in a daemon thread for the lifetime of the block; nothing when 0."""
    if interval <= 0:
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(target=run_anchor_loop, kwargs={"stop": stop, "interval": interval}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)

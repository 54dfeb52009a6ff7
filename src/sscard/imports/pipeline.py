"""Prepared chunks in file order, in this process or in worker processes.

Profiling a 100,000-row import on the 2-core machine showed the importing process CPU-bound in
parsing, validation, AEAD sealing and blind indexes (two thirds of it crypto; bench/README.md has
the figures), with PostgreSQL idle meanwhile. Worker processes do that per-chunk work in parallel and send back rows
already encoded for COPY; the importing process only orders, de-duplicates and writes them, so the
database round trip of one batch overlaps the preparation of the next ones.

Workers die with the importing process, however it ends (kill -9, SIGTERM, Ctrl-C): a forked
worker holds the file and the inherited database sockets, so an orphan would keep a killed
import's PostgreSQL session — and the locks of its interrupted transaction — alive. On Linux the
kernel kills them (``PR_SET_PDEATHSIG``); everywhere a watchdog thread exits when the parent is gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from sscard.imports.batches import PreparedChunk, prepare_chunk
from sscard.imports.source import Header, iter_chunks

PARALLEL_MIN_BYTES = 4 << 20  # about 80,000 rows: below that, forking costs more than it saves
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_S = 0.5  # the watchdog's interval, where the kernel cannot do it


def _die_with_parent() -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies; False where that is not available.

    The signal is tied to the thread that forked this process: ``prepared_chunks`` forks from the
    thread that iterates it, which lives as long as the import.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(PARENT_POLL_S)


def worker_init(parent_pid: int) -> None:
    """Initializer of every worker: die with the importing process, leave Ctrl-C to it."""
    # Ctrl-C reaches the whole foreground process group: the importing process handles it (rolls
    # back its batch, stops the pool); a worker interrupted mid-chunk would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The importing CLI turns SIGTERM into an interrupt; a worker keeps the default (the pool's own
    # clean-up terminates broken workers with SIGTERM).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    armed = _die_with_parent()
    # The parent may have died between fork and prctl: then this process was already re-parented
    # and no signal will come. Checked after arming, so no death goes unnoticed.
    if os.getppid() != parent_pid:
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watchdog", daemon=True).start()


def default_workers(file_size: int) -> int:
    """Worker processes for a file of this size: one per CPU; none for small files, one CPU or no fork."""
    cpus = os.cpu_count() or 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    return cpus if cpus > 1 and file_size >= PARALLEL_MIN_BYTES else 0


def prepared_chunks(
    path: Path,
    header: Header,
    *,
    start_offset: int,
    first_line: int,
    batch_size: int,
    workers: int,
    end_offset: int | None = None,
    seal: bool = True,
    copy_binary: bool = False,
) -> Iterator[PreparedChunk]:
    """Yield the prepared chunks of [start_offset, end_offset) in file order."""
    chunks = iter_chunks(
        path, start_offset=start_offset, first_line=first_line, lines_per_chunk=batch_size, end_offset=end_offset
    )
    if workers <= 0:
        for chunk in chunks:
            yield prepare_chunk(chunk, header, seal=seal, copy_binary=copy_binary)
        return
    # fork: the children inherit the security module the caller already opened (under spawn the
    # key-file backend would re-open from SSCARD_DATA_DIR, but a module installed in-process would not).
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=worker_init, initargs=(os.getpid(),)
    )
    try:
        window: deque[Future[PreparedChunk]] = deque()
        for chunk in chunks:
            window.append(pool.submit(prepare_chunk, chunk, header, seal=seal, copy_binary=copy_binary))
            # A few chunks in flight keep the workers busy while a batch is being written; bounded memory.
            if len(window) > 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        # On an error or an interrupt, drop the queued chunks instead of preparing them for nobody;
        # wait for the workers to exit so none outlives this call.
        pool.shutdown(wait=True, cancel_futures=True)

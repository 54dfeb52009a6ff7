"""Prepared chunks in file order, in this process or in worker processes.

Profiling a 100,000-row import on the 2-core machine showed the importing process CPU-bound in
parsing, validation, AEAD sealing and blind indexes (~27 µs a row, two thirds of it crypto), with
PostgreSQL idle meanwhile. Worker processes do that per-chunk work in parallel and send back rows
already encoded for COPY; the importing process only orders, de-duplicates and writes them, so the
database round trip of one batch overlaps the preparation of the next ones.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from sscard.imports.batches import PreparedChunk, prepare_chunk
from sscard.imports.source import Header, iter_chunks

PARALLEL_MIN_BYTES = 4 << 20  # about 80,000 rows: below that, forking costs more than it saves


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
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        window: deque[Future[PreparedChunk]] = deque()
        for chunk in chunks:
            window.append(pool.submit(prepare_chunk, chunk, header, seal=seal, copy_binary=copy_binary))
            # A few chunks in flight keep the workers busy while a batch is being written; bounded memory.
            if len(window) > 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()

"""Where statement files live and how they are written: atomically, owner-only.

``<data dir>/statements/<year>/<region>/<person id>.pdf``. A file is written to a temporary name in
its directory and renamed over the final one, so a reader (or a re-run after kill -9) sees the old
file or the new one, never half of one. No fsync per file: the row keeps the file's SHA-256, and a
file lost or damaged by a power cut is rendered again from the row's snapshot, byte for byte the same.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sscard.config import get_settings
from sscard.files import FILE_MODE, private_dir


def data_dir() -> Path:
    return get_settings().data_dir


def relative_path(*, year: int, region_code: str, person_id: int) -> str:
    return f"statements/{year}/{region_code}/{person_id}.pdf"


def write_atomically(relative: str, content: bytes, *, root: Path | None = None, private: bool = True) -> Path:
    """Write ``content`` to ``root/relative`` through a temporary file and a rename; ``private``: the
    directory is made owner-only too (the data directory's tree; not a directory the operator named)."""
    path = (root or data_dir()) / relative
    if private:
        private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_file(relative: str, *, root: Path | None = None) -> bytes | None:
    try:
        return ((root or data_dir()) / relative).read_bytes()
    except OSError:
        return None

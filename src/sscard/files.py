"""Owner-only files and directories for what sscard keeps on disk (ID-5, KEY-3).

The data directory is 0700 and every file in it 0600: the SQLite database (and its -wal / -shm
files, which SQLite creates with the database file's mode), the sealed keystore and its lock, a
development master key, the notification outbox files, terminal profiles. Files are created with
explicit modes; the CLI also sets the process umask to 077 so that anything created on the way
(by SQLite, by a library) is owner-only too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def restrict_umask() -> None:
    """Owner-only for every file and directory this process creates from now on."""
    os.umask(PRIVATE_UMASK)


def _tighten(path: Path, mode: int) -> None:
    try:
        if stat.S_IMODE(path.stat().st_mode) & ~mode:
            path.chmod(mode)
    except PermissionError:  # not ours (a shared parent): leave it, our own files are still 0600
        pass


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) owner-only; an existing one is tightened to 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _tighten(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty and 0600 if missing; an existing one is tightened to 0600."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    _tighten(path, FILE_MODE)
    return path


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (None for memory databases and other backends)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    raw = url[len(prefix) :].split("?", 1)[0]
    return Path(raw) if raw and raw != ":memory:" else None


def private_sqlite(url: str) -> None:
    """The SQLite file of ``url`` and its directory owner-only (created 0600 before SQLite opens it)."""
    path = sqlite_path(url)
    if path is None:
        return
    private_dir(path.parent)
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            _tighten(side, FILE_MODE)

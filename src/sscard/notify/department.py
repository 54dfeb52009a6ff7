"""The embedded department inbox: official notices appended as JSON lines under the data directory.

Each line is flushed and fsynced before ``send`` returns, so a message the dispatcher marks sent is
on disk even if the machine stops right after. The file is owner-only: incident notices describe
security events.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from sscard.files import private_dir
from sscard.notify.senders.base import Delivery, SendFailed


class DepartmentFileSink:
    """Append each department notice to ``<data_dir>/outbox/department.jsonl``."""

    channel = "department"
    _lock = threading.Lock()

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "outbox" / "department.jsonl"

    def send(self, delivery: Delivery) -> None:
        line = json.dumps(
            {
                "id": delivery.message_id,
                "department": delivery.to,
                "subject": delivery.subject,
                "body": delivery.body,
                "at": datetime.now(UTC).isoformat(),
            },
            ensure_ascii=False,
        )
        try:
            private_dir(self.path.parent)
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, (line + "\n").encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise SendFailed(f"department inbox not writable: {type(exc).__name__}") from exc

    def read_all(self) -> list[dict[str, str]]:
        """Every notice delivered so far (for operators and tests)."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

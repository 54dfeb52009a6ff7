"""What the processes started most often load before their first piece of work (issue 18 item 5).

A queue worker declares both actors at start-up and imports a job's module with its first message
(jobs/actors.py); the server loads reportlab only for a PDF (statements, key reports). Each check runs
in a fresh interpreter, as ``sscard worker`` and ``sscard serve`` start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# What only rendering a PDF or doing one kind of queued job needs.
PDF = ("reportlab", "sscard.statements.render", "sscard.key_register.pdf")
JOBS = ("sscard.jobs.queued_statements", "sscard.jobs.queued_imports", "sscard.jobs.statements",
        "sscard.jobs.contributions_import")  # fmt: skip


def _start(code: str, tmp_path: Path, watched: tuple[str, ...], **env: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; its ``result`` and which ``watched`` modules it had loaded."""
    probe = f"import json, sys\n{code}\nprint(json.dumps({{'result': result, 'loaded': "
    probe += f"sorted(m for m in sys.modules if m.split('.')[0] == 'reportlab' or m in {watched!r})}}))"
    done = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "SSCARD_DATA_DIR": str(tmp_path), **env},
                          capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    return json.loads(done.stdout.splitlines()[-1])


def test_a_queue_worker_declares_both_actors_and_loads_no_job_before_a_message(tmp_path: Path) -> None:
    code = (
        "import sscard.jobs.worker_tasks\n"
        "from sscard.jobs.broker import broker\n"
        "result = {name: [a.queue_name, a.fn.__module__, a.options['time_limit']]\n"
        "          for name, a in broker().actors.items()}"
    )
    # Declaring opens no connection: the URL need not answer.
    broker = {"SSCARD_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/", "SSCARD_BROKER_NAMESPACE": "t"}
    started = _start(code, tmp_path, PDF + JOBS, **broker)
    assert started["result"] == {
        "issue_statements": ["t.statements", "sscard.jobs.actors", 15 * 60 * 1000],
        "import_chunk": ["t.imports", "sscard.jobs.actors", 15 * 60 * 1000],
    }
    assert started["loaded"] == []


def test_the_coordinators_send_through_the_workers_declarations() -> None:
    from sscard.jobs import actors, queued_imports, queued_statements

    assert queued_statements.statements_actor is actors.statements_actor
    assert queued_imports.chunks_actor is actors.chunks_actor


def test_the_server_loads_no_pdf_renderer_until_a_pdf_is_asked_for(tmp_path: Path) -> None:
    started = _start("from sscard.api.app import create_app\ncreate_app()\nresult = None", tmp_path, PDF)
    assert started["loaded"] == []

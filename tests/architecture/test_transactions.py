"""One way to end a transaction: the channel owns the unit of work (issue 18 item 2).

Channels (``api/``, ``cli/``, ``web/``, ``jobs/``, and ``startup.py``, run by ``sscard serve``) open
units of work; the unit of work (``db/session.py``) commits at the end of the channel's block; the
deliberate early commits go through ``db/early_commit.py``, from channels only. Domain code only
flushes. These tests read the source (AST), so a new ``.commit()`` in a domain fails here before any
behaviour test could notice it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "sscard"
CHANNELS = ("api/", "cli/", "web/", "jobs/", "startup.py")
# The unit of work itself and its one documented early-commit helper.
COMMITTERS = ("db/session.py", "db/early_commit.py")
# The PIN lane's batch is the channel of its own pipelined transaction: it ends it with the batch unit
# of work's commit (BatchUnitOfWork, credentials/pin/batch_db.py), BEGIN and COMMIT in its round trips.
# The settlement and debit lanes' batches (issue 20) are the same kind of channel, on the same unit of
# work, run by their one shared driver (settlement/txn_batch.py).
BATCH_COMMITTERS = ("credentials/pin/batch_verify.py", "settlement/txn_batch.py")
OPENERS = {"unit_of_work", "unit_of_work_on", "UnitOfWork"}
EARLY = {"commit_early", "commit_early_on"}
# Known exceptions, each with its reason; the list only shrinks.
OPENING_ALLOWED = {
    # The unit-of-work machinery: the group commit runs the PIN lane's batches for its channel.
    "db/session.py": "defines the unit of work",
    "db/replica.py": "defines the read-only unit of work (channels open it: READS, web/transaction.py)",
    "db/group_commit.py": "the batch executor of the PIN lane (the channel's batched transaction)",
    # The PIN lane's batch: after its pipelined commit, the thresholds it lacked are read in a short
    # read-only unit of work on the same connection, for the batches that follow.
    "credentials/pin/batch_verify.py": "PIN batch: missing lockout thresholds read after the commit",
    # KEY-4's device guard reads the register of certified devices whenever the security module is
    # opened, inside or outside any channel; a read in a short transaction of its own, never a write.
    "security_module/factory.py": "read-only device register lookup",
}


def _modules() -> list[tuple[str, ast.AST]]:
    return [(p.relative_to(SRC).as_posix(), ast.parse(p.read_text(), str(p))) for p in sorted(SRC.rglob("*.py"))]


def _calls(tree: ast.AST) -> list[tuple[str, int]]:
    """(called name, line) of every call: ``f(...)`` gives ``f``, ``x.f(...)`` gives ``.f``."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                out.append((node.func.id, node.lineno))
            elif isinstance(node.func, ast.Attribute):
                out.append(("." + node.func.attr, node.lineno))
    return out


def _is_channel(rel: str) -> bool:
    return rel.startswith(CHANNELS) and "migrations/" not in rel


def commits_outside_the_unit_of_work(modules: list[tuple[str, ast.AST]]) -> list[str]:
    return [
        f"{rel}:{line} calls .commit()"
        for rel, tree in modules
        if not rel.startswith(COMMITTERS + BATCH_COMMITTERS) and "migrations/" not in rel
        for name, line in _calls(tree)
        if name == ".commit"
    ]


def units_opened_outside_channels(modules: list[tuple[str, ast.AST]]) -> list[str]:
    return [
        f"{rel}:{line} opens a unit of work ({name})"
        for rel, tree in modules
        if not _is_channel(rel) and rel not in OPENING_ALLOWED
        for name, line in _calls(tree)
        if name.lstrip(".") in OPENERS
    ]


def early_commits_outside_channels(modules: list[tuple[str, ast.AST]]) -> list[str]:
    return [
        f"{rel}:{line} commits early ({name})"
        for rel, tree in modules
        if not _is_channel(rel) and not rel.startswith(COMMITTERS)
        for name, line in _calls(tree)
        if name.lstrip(".") in EARLY
    ]


# rule TX-1: only the unit of work commits (at the end of the channel's block, or through early_commit)
def test_nothing_but_the_unit_of_work_commits() -> None:
    assert commits_outside_the_unit_of_work(_modules()) == []


# rule TX-2: domain code never opens a unit of work of its own; the channel hands it one
def test_only_channels_open_units_of_work() -> None:
    assert units_opened_outside_channels(_modules()) == []


# rule TX-3: the early commits are the channel's decision, never a domain's
def test_only_channels_commit_early() -> None:
    assert early_commits_outside_channels(_modules()) == []


@pytest.mark.parametrize(
    ("rel", "source", "check"),
    [
        ("cards/x.py", "def f(uow):\n    uow.commit()\n", commits_outside_the_unit_of_work),
        ("api/x.py", "def f(uow):\n    uow.session.commit()\n", commits_outside_the_unit_of_work),
        ("cards/x.py", "def f():\n    with unit_of_work() as uow:\n        pass\n", units_opened_outside_channels),
        ("keys/x.py", "def f(s):\n    return UnitOfWork(s)\n", units_opened_outside_channels),
        ("audit/x.py", "def f(uow):\n    commit_early(uow, why=None)\n", early_commits_outside_channels),
    ],
)
def test_the_scan_catches_a_planted_violation(rel: str, source: str, check) -> None:
    # The checks above cannot pass by seeing nothing: each finds its violation when one is planted.
    assert check([(rel, ast.parse(source))]) != []
    assert check([("api/ok.py" if check is not commits_outside_the_unit_of_work else "db/session.py",
                   ast.parse(source))]) == []  # fmt: skip

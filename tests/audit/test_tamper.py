"""Issue 24: tampering by someone who can edit the database but holds no key (CH-4).

A tail cut off with its head set back, a whole stream removed, checkpoints deleted, a head pointing at
a rewritten entry, anchors deleted or rolled back: each is a break of the chain, named by stream and
seq; honest appends while a verification runs never are.

These tests run on a database of their own, each with an anchor file of its own: an anchor written
in a test outlives the test's rolled-back transaction, so neither may be shared with other tests.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sscard.audit import Actor, Channel, record_event
from sscard.audit.checkpoints import load_checkpoints
from sscard.audit.models import AuditCheckpoint, AuditEntry, AuditStreamHead
from sscard.audit.service import checkpoint_chain, verify_chain
from tests.conftest import rolled_back_uow

CLERK = Actor(kind="staff", id="clerk1", channel=Channel.COUNTER, role="counter_clerk", region="110100")
OPERATOR = Actor(kind="staff", id="cli:ops", channel=Channel.CLI, role="operator")
HAS_ANCHORS = importlib.util.find_spec("sscard.audit.anchors") is not None


@pytest.fixture
def anchor_file(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "anchors.jsonl"


@pytest.fixture
def tuow(chain_db, chain_settings, anchor_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Like the ``uow`` fixture (rolled back afterwards), on this module's database (tests/audit/conftest.py)
    and a fresh anchor file."""
    from sscard.config import reset_settings_cache

    monkeypatch.setenv("SSCARD_AUDIT_ANCHOR_FILE", str(anchor_file))
    monkeypatch.setenv("SSCARD_AUDIT_ANCHOR_DEPARTMENT", "110000")
    reset_settings_cache()
    try:
        with rolled_back_uow(chain_db.engine) as unit:
            yield unit
    finally:
        reset_settings_cache()


def _stream_of(uow, subject: str, n: int) -> list[AuditEntry]:
    """``n`` entries on the stream of ``subject`` (one stream: the subject decides it), a stream of the test's
    own: not the one the walks' and anchors' own entries (subject "audit") append to."""
    from sscard.audit.service import stream_for
    from sscard.config import get_settings

    assert stream_for(subject, get_settings().audit_streams) != stream_for("audit", get_settings().audit_streams)
    return [record_event(uow, actor=CLERK, action="card.activate", subject=subject, details={"n": i}) for i in range(n)]


def _cut_tail(uow, last: AuditEntry, before: AuditEntry) -> None:
    """Delete ``last`` and set its stream's head back to ``before``: what an editor of the database does."""
    uow.session.execute(delete(AuditEntry).where(AuditEntry.id == last.id))
    uow.session.execute(
        update(AuditStreamHead)
        .where(AuditStreamHead.stream == last.stream)
        .values(seq=before.seq, last_hash=before.hash)
    )
    uow.session.expire_all()


def _anchor(uow):
    from sscard.audit.anchors import anchor_now

    return anchor_now(uow, actor=OPERATOR)


def _broken_at(report, stream: int, seq: int, words: str) -> None:
    assert not report.ok
    assert any(p.stream == stream and p.seq == seq and words in p.reason for p in report.problems), report.problems
    assert report.problem is not None


# rule CH-4: a tail cut off with its head set back, after a checkpoint (the reproduction)
def test_tail_cut_with_head_rewound_after_checkpoint(tuow) -> None:
    entries = _stream_of(tuow, "t24-a:x", 7)
    assert checkpoint_chain(tuow, actor=OPERATOR)[0].ok
    _cut_tail(tuow, entries[-1], entries[-2])
    report = verify_chain(tuow)  # the full walk of `sscard audit verify`
    _broken_at(report, entries[-1].stream, entries[-1].seq, "removed from the end")
    [problem] = [p for p in report.problems if p.stream == entries[-1].stream]
    reason = f"stream head records {entries[-2].seq} entries, its checkpoint {entries[-1].seq}"
    assert (problem.entry_id, problem.reason) == (None, reason + " (entries removed from the end)")


# rule CH-4: the same without a checkpoint (the checkpoints deleted too): the anchor outside the
# database still says how long the stream was
def test_tail_cut_with_head_rewound_and_checkpoints_deleted(tuow) -> None:
    entries = _stream_of(tuow, "t24-b:y", 7)
    assert checkpoint_chain(tuow, actor=OPERATOR)[0].ok
    _anchor(tuow)
    _cut_tail(tuow, entries[-1], entries[-2])
    tuow.session.execute(delete(AuditCheckpoint))
    tuow.session.expire_all()
    assert not load_checkpoints(tuow)
    report = verify_chain(tuow)
    _broken_at(report, entries[-1].stream, entries[-1].seq, "its anchor 1")
    assert "removed from the end" in report.problem.reason
    assert not verify_chain(tuow, since_checkpoints=True).ok  # the audit report's check sees it too


# rule CH-4: the cut tail refilled by honest appends (the head is past the anchor again): the entry at
# the anchored place is not the anchored one
def test_tail_cut_then_refilled_is_found(tuow) -> None:
    entries = _stream_of(tuow, "t24-c:x", 5)
    anchor = _anchor(tuow)
    _cut_tail(tuow, entries[-1], entries[-2])
    tuow.session.execute(delete(AuditCheckpoint))
    refill = _stream_of(tuow, "t24-c:x", 3)
    assert refill[0].seq == entries[-1].seq and refill[0].hash != entries[-1].hash
    report = verify_chain(tuow)
    _broken_at(report, entries[-1].stream, entries[-1].seq, "changed or removed")
    [problem] = [p for p in report.problems if p.stream == entries[-1].stream]
    what = f"anchor {anchor.n} ({anchor.at:%Y-%m-%d %H:%M} UTC)"
    assert (problem.entry_id, problem.reason) == (
        refill[0].id,
        f"the entry its {what} records at this place was changed or removed",
    )


# rule CH-4: a whole stream removed with its head; its checkpoint (then: no checkpoint, its anchor) remains
def test_whole_stream_removed(tuow) -> None:
    entries = _stream_of(tuow, "t24-d:x", 4)
    assert checkpoint_chain(tuow, actor=OPERATOR)[0].ok
    stream = entries[0].stream
    tuow.session.execute(delete(AuditEntry).where(AuditEntry.stream == stream))
    tuow.session.execute(delete(AuditStreamHead).where(AuditStreamHead.stream == stream))
    tuow.session.expire_all()
    _broken_at(verify_chain(tuow), stream, entries[-1].seq, "stream removed")


# rule CH-4
def test_whole_stream_removed_with_its_checkpoint(tuow) -> None:
    entries = _stream_of(tuow, "t24-e:x", 4)
    _anchor(tuow)
    stream = entries[0].stream
    tuow.session.execute(delete(AuditEntry).where(AuditEntry.stream == stream))
    tuow.session.execute(delete(AuditStreamHead).where(AuditStreamHead.stream == stream))
    tuow.session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.stream == stream))
    tuow.session.expire_all()
    _broken_at(verify_chain(tuow), stream, entries[-1].seq, "stream removed")


# rule CH-4: the head row removed, the entries left: nothing would walk them
def test_stream_head_removed_entries_left(tuow) -> None:
    entries = _stream_of(tuow, "t24-f:x", 3)
    tuow.session.execute(delete(AuditStreamHead).where(AuditStreamHead.stream == entries[0].stream))
    tuow.session.expire_all()
    report = verify_chain(tuow)
    _broken_at(report, entries[0].stream, 1, "has no head")
    [problem] = [p for p in report.problems if p.stream == entries[0].stream]
    assert (problem.entry_id, problem.reason) == (
        entries[0].id,
        "entries in a stream that has no head (stream head removed)",
    )


# rule CH-4: a head pointing at a rewritten entry (its content changed, its stored hash copied into the
# head) is found by the walk; and anchoring does not take such a head as the new anchored state
def test_head_pointing_at_rewritten_entry(tuow) -> None:
    entries = _stream_of(tuow, "t24-g:x", 3)
    assert checkpoint_chain(tuow, actor=OPERATOR)[0].ok
    forged = b"\x07" * 32
    tuow.session.execute(update(AuditEntry).where(AuditEntry.id == entries[-1].id).values(result="denied", hash=forged))
    tuow.session.execute(
        update(AuditStreamHead).where(AuditStreamHead.stream == entries[0].stream).values(last_hash=forged)
    )
    tuow.session.expire_all()
    for report in (verify_chain(tuow), verify_chain(tuow, since_checkpoints=True)):
        assert not report.ok and report.problem.stream == entries[0].stream and report.problem.seq == entries[-1].seq


# rule CH-4
def test_head_hash_rewritten_is_not_anchored(tuow) -> None:
    entries = _stream_of(tuow, "t24-h:x", 3)
    first = _anchor(tuow)
    more = _stream_of(tuow, "t24-h:x", 1)
    tuow.session.execute(
        update(AuditStreamHead).where(AuditStreamHead.stream == entries[0].stream).values(last_hash=b"\x01" * 32)
    )
    tuow.session.expire_all()
    second = _anchor(tuow)
    assert [(s, q) for s, q, _ in second.faults] == [(more[0].stream, more[0].seq)]
    assert "head rewritten" in second.faults[0][2]
    assert second.heads[entries[0].stream] == first.heads[entries[0].stream]  # kept as anchored before


# rule CH-4: anchoring after a truncation keeps the stream's anchored state (the evidence is never
# laundered by a later anchor), writes the fault into the line, and tells the auditors
def test_anchor_after_truncation_keeps_the_evidence(tuow, anchor_file: Path) -> None:
    from sscard.notify import list_messages

    entries = _stream_of(tuow, "t24-i:x", 4)
    _anchor(tuow)
    _cut_tail(tuow, entries[-1], entries[-2])
    later = _anchor(tuow)
    stream = entries[0].stream
    assert later.heads[stream] == (entries[-1].seq, entries[-1].hash)
    assert [(s, q) for s, q, _ in later.faults] == [(stream, entries[-1].seq)]
    lines = [json.loads(line) for line in anchor_file.read_text().splitlines()]
    assert [line["n"] for line in lines] == [1, 2] and lines[1]["faults"][0][:2] == [stream, entries[-1].seq]
    _broken_at(verify_chain(tuow), stream, entries[-1].seq, "removed from the end")
    notices = list_messages(tuow, topic_prefix="audit.anchor", department_code="110000")
    assert {m.topic for m in notices} == {"audit.anchor", "audit.anchor.fault"}


# rule CH-4: the anchor file: owner-only, one line per anchor, chained and MACed, recorded in the database
def test_anchor_file_is_chained_and_recorded(tuow, anchor_file: Path) -> None:
    from sscard.audit.anchors import anchor_status, heads_digest
    from sscard.audit.models import AuditAnchor

    _stream_of(tuow, "t24-j:x", 2)
    first = _anchor(tuow)
    _stream_of(tuow, "t24-j:x", 1)
    second = _anchor(tuow)
    assert anchor_file.stat().st_mode & 0o777 == 0o600
    assert (second.n, second.prev) == (2, first.line_hash.hex())
    assert second.digest == heads_digest(second.heads)
    rows = tuow.session.scalars(select(AuditAnchor).order_by(AuditAnchor.n)).all()
    assert [(r.n, r.line_hash) for r in rows] == [(1, first.line_hash), (2, second.line_hash)]
    status = anchor_status(tuow, full=True)
    assert status.problem is None and status.count == 2 and status.first_at == first.at
    report = verify_chain(tuow)
    assert report.ok and report.anchors.latest.n == 2 and report.anchors.age() < timedelta(minutes=5)


def _two_anchors(uow) -> None:
    _stream_of(uow, "t24-k:x", 2)
    _anchor(uow)
    _stream_of(uow, "t24-k:x", 1)
    _anchor(uow)
    assert verify_chain(uow).ok


# rule CH-4: losing the anchors is visible: the file removed, cut short, a line removed or altered,
# the database's record of them removed
def test_anchor_file_removed(tuow, anchor_file: Path) -> None:
    _two_anchors(tuow)
    anchor_file.unlink()
    report = verify_chain(tuow)
    assert not report.ok and "missing or empty" in report.anchor_problem


# rule CH-4
def test_anchor_file_rolled_back(tuow, anchor_file: Path) -> None:
    _two_anchors(tuow)
    lines = anchor_file.read_bytes().splitlines(keepends=True)
    anchor_file.write_bytes(b"".join(lines[:-1]))  # an older copy of the file put back
    for report in (verify_chain(tuow), verify_chain(tuow, since_checkpoints=True)):
        assert not report.ok and "holds 1 anchors, the database records 2" in report.anchor_problem


# rule CH-4
def test_anchor_line_removed_in_the_middle(tuow, anchor_file: Path) -> None:
    _two_anchors(tuow)
    _anchor(tuow)
    lines = anchor_file.read_bytes().splitlines(keepends=True)
    anchor_file.write_bytes(lines[0] + lines[2])
    report = verify_chain(tuow)
    assert not report.ok and "does not follow anchor 1" in report.anchor_problem


# rule CH-4
def test_anchor_line_altered(tuow, anchor_file: Path) -> None:
    _two_anchors(tuow)
    lines = anchor_file.read_bytes().splitlines(keepends=True)
    fields = json.loads(lines[-1])
    fields["heads"][0][1] += 5  # claim more entries than were anchored (or fewer: the same)
    anchor_file.write_bytes(b"".join(lines[:-1]) + json.dumps(fields, separators=(",", ":")).encode() + b"\n")
    report = verify_chain(tuow)
    assert not report.ok and "MAC" in report.anchor_problem


# rule CH-4
def test_anchor_records_deleted_from_the_database(tuow) -> None:
    from sscard.audit.anchors import AnchorRefused
    from sscard.audit.models import AuditAnchor

    _two_anchors(tuow)
    tuow.session.execute(delete(AuditAnchor))
    report = verify_chain(tuow)
    assert not report.ok and "database records no anchor" in report.anchor_problem
    with pytest.raises(AnchorRefused):  # no anchor is written over the gap
        _anchor(tuow)


# rule CH-4: the database's record of the anchors rolled back together with a truncated tail: the
# file's newest anchor is what the database is checked against
def test_anchor_records_rolled_back_with_truncation(tuow) -> None:
    from sscard.audit.models import AuditAnchor

    entries = _stream_of(tuow, "t24-l:x", 3)
    _anchor(tuow)
    _stream_of(tuow, "t24-l:x", 1)
    second = _anchor(tuow)
    stream = entries[0].stream
    last = tuow.session.scalar(
        select(AuditEntry).where(AuditEntry.stream == stream, AuditEntry.seq == second.heads[stream][0])
    )
    before = tuow.session.scalar(select(AuditEntry).where(AuditEntry.stream == stream, AuditEntry.seq == last.seq - 1))
    tuow.session.execute(delete(AuditAnchor).where(AuditAnchor.n == 2))
    _cut_tail(tuow, last, before)
    _broken_at(verify_chain(tuow), stream, last.seq, "its anchor 2")


# rule CH-4: honest appends, checkpoints and anchors written while a verification runs are never
# reported as tampering (each only records heads committed before it)
def test_honest_work_during_a_verification(tuow, monkeypatch: pytest.MonkeyPatch) -> None:
    import sscard.audit.service as service
    from sscard.db.session import UnitOfWork

    _stream_of(tuow, "t24-m:x", 3)
    assert checkpoint_chain(tuow, actor=OPERATOR)[0].ok
    if HAS_ANCHORS:
        _anchor(tuow)
    real_load, real_past = service.load_checkpoints, service._streams_past
    busy: list[bool] = []

    def elsewhere(work) -> None:
        """``work`` done by another process: its own session (nothing it loads is seen by the
        verification's), committed, in the test's transaction."""
        other = Session(bind=tuow.session.connection(), join_transaction_mode="create_savepoint")
        busy.append(True)
        try:
            work(UnitOfWork(other))
            other.commit()
        finally:
            busy.clear()
            other.close()

    def another_verify(uow) -> None:
        _stream_of(uow, "t24-m:x", 2)
        checkpoint_chain(uow, actor=OPERATOR)
        if HAS_ANCHORS:
            _anchor(uow)

    def concurrent_verify(uow):
        """Another `audit verify` commits just before the checkpoints are read."""
        if not busy:
            elsewhere(another_verify)
        return real_load(uow)

    def appends_after_heads(connection, heads):
        """Honest appends commit just after the heads were read."""
        if not busy:
            elsewhere(lambda other: _stream_of(other, "t24-m:x", 2))
        return real_past(connection, heads)

    monkeypatch.setattr(service, "load_checkpoints", concurrent_verify)
    monkeypatch.setattr(service, "_streams_past", appends_after_heads)
    for since in (False, True):
        report = verify_chain(tuow, since_checkpoints=since)
        assert report.ok, report


# rule CH-4: `sscard audit verify` anchors the heads it walked; the audit report says since when the
# chain is anchored and flags the stretches without an anchor
def test_audit_report_states_anchoring(tuow) -> None:
    from sscard.audit.service import verify_and_anchor
    from sscard.db.base import utcnow
    from sscard.key_register.pdf import audit_pdf
    from sscard.key_register.reports import audit_report

    start = utcnow() - timedelta(days=3)
    never = audit_report(tuow, region_code="110000", start=start, end=utcnow() + timedelta(minutes=1))
    assert never.anchored_since is None and never.anchor_gaps
    _stream_of(tuow, "t24-n:x", 2)
    report, _, written = verify_and_anchor(tuow, actor=OPERATOR)
    assert report.ok and written is not None and written.n == 1
    later = audit_report(tuow, region_code="110000", start=start, end=utcnow() + timedelta(minutes=1))
    assert later.chain_ok and later.anchored_since == written.at and later.anchor_latest_n == 1
    # the three days before the first anchor are a gap; after it, none
    assert [g["to"] for g in later.anchor_gaps] == [written.at.isoformat(timespec="seconds")]
    assert audit_pdf(later).startswith(b"%PDF")


# rule CH-4: `sscard audit verify` anchors the heads it walked and says how old the anchor it checked
# against is; `sscard audit anchor` (cron) and the serve loop anchor without a walk (committed work on
# the shared test database, whose anchor file is its own)
def test_cli_and_loop_anchor(db_env) -> None:
    import time

    from typer.testing import CliRunner

    from sscard.audit.anchors import anchor_status
    from sscard.cli.main import app
    from sscard.db.session import unit_of_work
    from sscard.jobs.anchoring import background_anchoring

    runner = CliRunner()
    first = runner.invoke(app, ["audit", "verify", "--json"])
    assert first.exit_code == 0, first.output
    written = json.loads(first.stdout)["anchors"]["written"]
    assert written["faults"] == 0
    second = json.loads(runner.invoke(app, ["audit", "verify", "--json"]).stdout)
    assert second["ok"] and second["anchors"]["latest"]["n"] == written["n"] and second["anchors"]["age_s"] < 300
    text = runner.invoke(app, ["audit", "verify"])
    assert text.exit_code == 0 and f"checked against anchor {written['n'] + 1}" in text.stdout
    cron = runner.invoke(app, ["audit", "anchor", "--json"])
    assert cron.exit_code == 0 and json.loads(cron.stdout)["n"] == written["n"] + 3
    with background_anchoring(0.05):
        time.sleep(0.5)
    with unit_of_work() as uow:
        status = anchor_status(uow, full=True)
    assert status.problem is None and status.count > written["n"] + 3
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0


# rule CH-4: entries left in the lowest and the highest streams after their heads were removed are found too
# (the walk looks for headless streams between the heads it has, and at both ends)
def test_headless_streams_at_both_ends(tuow) -> None:
    from sscard.audit.service import stream_for
    from sscard.config import get_settings

    n = get_settings().audit_streams
    keys = (f"t24-o:{i}" for i in range(1_000_000))
    ends = {0: None, n - 1: None}
    for key in keys:
        stream = stream_for(key, n)
        if stream in ends and ends[stream] is None:
            ends[stream] = key
        if all(ends.values()):
            break
    firsts = {s: _stream_of(tuow, key, 2)[0] for s, key in ends.items()}
    tuow.session.execute(delete(AuditStreamHead).where(AuditStreamHead.stream.in_(list(ends))))
    tuow.session.expire_all()
    report = verify_chain(tuow)
    for stream, first in firsts.items():
        [problem] = [p for p in report.problems if p.stream == stream]
        assert (problem.seq, problem.entry_id, problem.reason) == (
            first.seq, first.id, "entries in a stream that has no head (stream head removed)"
        )  # fmt: skip


# rule CH-4: `sscard audit verify` anchors the heads it walked, except a stream it found broken, which keeps its
# anchored state (an altered entry's stream is never anchored afresh); it tells its progress as it walks
def test_verify_keeps_a_broken_streams_anchor_and_tells_progress(tuow) -> None:
    from sscard.audit.service import stream_for, verify_and_anchor
    from sscard.config import get_settings

    # progress is told after each page walked: the broken stream (whose walk stops at the altered entry) is not
    # the last walked, the stream of the walk's own entries comes after it
    n = get_settings().audit_streams
    subject = next(s for s in (f"t24-p:{i}" for i in range(1000)) if stream_for(s, n) < stream_for("audit", n))
    entries = _stream_of(tuow, subject, 3)
    first = _anchor(tuow)
    stream = entries[0].stream
    tuow.session.execute(update(AuditEntry).where(AuditEntry.id == entries[1].id).values(result="denied"))
    more = _stream_of(tuow, subject, 1)[0]  # the head moves on past the altered entry
    tuow.session.expire_all()
    told: list[tuple[int, int]] = []
    report, _recorded, written = verify_and_anchor(tuow, actor=OPERATOR, progress=lambda a, b: told.append((a, b)))
    assert not report.ok and report.problem.entry_id == entries[1].id
    assert written is not None and written.heads[stream] == first.heads[stream] != (more.seq, more.hash)
    assert told and told[-1][0] == report.entries
    told.clear()
    checkpoint_chain(tuow, actor=OPERATOR, progress=lambda a, b: told.append((a, b)))
    assert told


# rule CH-4: a tail cut off after the last anchor but behind a checkpoint is found by the checkpoint, anchors or
# not: what the anchors vouch for is checked besides what the checkpoints vouch for, not instead of it
def test_a_tail_cut_behind_a_checkpoint_is_found_when_an_older_anchor_is_intact(tuow) -> None:
    entries = _stream_of(tuow, "t24-q:x", 3)
    _anchor(tuow)  # vouches for the first three
    entries += _stream_of(tuow, "t24-q:x", 2)
    assert checkpoint_chain(tuow, actor=OPERATOR)[0].ok  # vouches for all five
    _cut_tail(tuow, entries[-1], entries[-2])
    tuow.session.expire_all()
    report = verify_chain(tuow)
    assert [(p.stream, p.seq, p.entry_id) for p in report.problems] == [(entries[-1].stream, entries[-1].seq, None)]
    assert "removed from the end" in report.problem.reason and "checkpoint" in report.problem.reason


# rule CH-4: a stream without its head between two streams that hold entries (neither the lowest nor the
# highest) is found too
@pytest.mark.parametrize("where", ["middle", "just below the highest"])
def test_a_headless_stream_between_others_is_found(tuow, where: str) -> None:
    from sscard.audit.service import stream_for
    from sscard.config import get_settings

    n = get_settings().audit_streams
    by_stream = {stream_for(f"t24-r:{i}", n): f"t24-r:{i}" for i in range(200)}
    ordered = sorted(by_stream)
    if where == "middle":
        low, middle, high = ordered[0], ordered[len(ordered) // 2], ordered[-1]
    else:  # the highest stream with entries right after the headless one
        low, (middle, high) = ordered[0], next((a, b) for a, b in itertools.pairwise(ordered[1:]) if b == a + 1)
    assert low < middle < high
    entries = {s: _stream_of(tuow, by_stream[s], 2) for s in (low, middle, high)}
    tuow.session.execute(delete(AuditStreamHead).where(AuditStreamHead.stream == middle))
    tuow.session.expire_all()
    report = verify_chain(tuow)
    assert [(p.stream, p.seq, p.entry_id, p.reason) for p in report.problems] == [
        (middle, 1, entries[middle][0].id, "entries in a stream that has no head (stream head removed)")
    ]

"""Hash-chained audit log (CH-4)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update

from sscard.audit import Actor, Channel, record_event
from sscard.audit.models import AuditEntry
from sscard.audit.service import verify_chain

CLERK = Actor(kind="staff", id="clerk1", channel=Channel.COUNTER, role="counter_clerk", region="110100")


def _write(uow, n: int, subject_prefix: str = "card:") -> list[AuditEntry]:
    return [
        record_event(uow, actor=CLERK, action="card.activate", subject=f"{subject_prefix}{i}", details={"i": i})
        for i in range(n)
    ]


def _modified_at(report, target) -> None:
    """The report names ``target`` (stream, place, id) as the first entry whose content was changed."""
    assert (report.problem.stream, report.problem.seq, report.problem.entry_id) == (
        target.stream,
        target.seq,
        target.id,
    )
    assert report.problem.reason == "content does not match its hash (entry modified)"


# rule CH-4
def test_intact_chain_verifies(uow) -> None:
    _write(uow, 40)
    report = verify_chain(uow)
    assert report.ok, report.problem
    assert report.entries >= 40


# rule CH-4: a modified entry is found and named
def test_modified_entry_detected(uow) -> None:
    entries = _write(uow, 30)
    target = entries[12]
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == target.id).values(result="denied"))
    uow.session.expire_all()
    report = verify_chain(uow)
    assert not report.ok
    _modified_at(report, target)


# rule CH-4: a deleted entry breaks the chain at its successor
def test_deleted_entry_detected(uow) -> None:
    entries = _write(uow, 30, "person:")
    victim = entries[5]
    successor = uow.session.scalar(
        select(AuditEntry).where(AuditEntry.stream == victim.stream, AuditEntry.seq == victim.seq + 1)
    )
    uow.session.execute(delete(AuditEntry).where(AuditEntry.id == victim.id))
    uow.session.expire_all()
    report = verify_chain(uow)
    assert not report.ok
    if successor is not None:
        assert (report.problem.seq, report.problem.entry_id) == (successor.seq, successor.id)
        expected = f"sequence {successor.seq} where {victim.seq} was expected (entry deleted, inserted or moved)"
        assert report.problem.reason == expected
    else:
        assert report.problem.entry_id is None  # it was the tail


# rule CH-4: removing the newest entries is caught by the stream head
def test_truncated_tail_detected(uow) -> None:
    entries = _write(uow, 5, "tail:")
    last = entries[-1]
    uow.session.execute(delete(AuditEntry).where(AuditEntry.id == last.id))
    uow.session.expire_all()
    report = verify_chain(uow)
    assert not report.ok
    assert (report.problem.stream, report.problem.seq, report.problem.entry_id) == (last.stream, last.seq, None)
    expected = f"stream head records {last.seq} entries, found {last.seq - 1} (entries removed from the end)"
    assert report.problem.reason == expected


# rule CH-4: an inserted (forged) entry cannot carry a valid hash
def test_inserted_entry_detected(uow) -> None:
    entries = _write(uow, 10, "ins:")
    src = entries[3]
    uow.session.execute(
        update(AuditEntry)
        .where(AuditEntry.stream == src.stream, AuditEntry.seq > src.seq)
        .values(seq=AuditEntry.seq + 1000)
    )
    forged = AuditEntry(
        stream=src.stream,
        seq=src.seq + 1,
        at=src.at,
        actor_kind="staff",
        actor_id="mallory",
        role="x",
        channel="counter",
        region="110100",
        subject="card:forged",
        action="card.activate",
        result="ok",
        details="{}",
        prev_hash=src.hash,
        hash=b"\x01" * 32,
    )
    uow.session.add(forged)
    uow.session.flush()
    uow.session.expire_all()
    report = verify_chain(uow)
    assert not report.ok


# rule CH-4: swapping two entries' content (reordering) is caught
def test_reordered_entries_detected(uow) -> None:
    a = record_event(uow, actor=CLERK, action="a.first", subject="same", subject_key="k")
    b = record_event(uow, actor=CLERK, action="a.second", subject="same", subject_key="k")
    assert a.stream == b.stream
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == a.id).values(action="a.second"))
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == b.id).values(action="a.first"))
    uow.session.expire_all()
    report = verify_chain(uow)
    assert not report.ok and report.problem.entry_id == a.id


# rule CH-4: an entry whose link to its predecessor was rewritten is named, with why
def test_a_broken_link_is_named(uow) -> None:
    entries = _write(uow, 3, "link:")
    target = entries[1]
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == target.id).values(prev_hash=b"\x02" * 32))
    uow.session.expire_all()
    report = verify_chain(uow)
    assert (report.problem.stream, report.problem.seq, report.problem.entry_id) == (
        target.stream,
        target.seq,
        target.id,
    )
    assert report.problem.reason == (
        "link to the previous entry is broken (an earlier entry was changed, removed or reordered)"
    )


# rule CH-4: the entry is part of the caller's transaction
def test_rolled_back_change_leaves_no_entry(db_env) -> None:
    # db_env: the chain's check reads this database's own anchor file, which CLI tests that ran before on the
    # shared database may have anchored (with db alone it read the default path: "missing or empty").
    from sscard.db.session import unit_of_work

    db = db_env

    try:
        with unit_of_work(db.engine) as uow:
            record_event(uow, actor=CLERK, action="x.rollback", subject="rb")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with unit_of_work(db.engine) as uow:
        assert uow.session.scalar(select(AuditEntry).where(AuditEntry.action == "x.rollback")) is None
        assert verify_chain(uow).ok


# rule CH-4: a batch append chains its entries exactly like one-by-one appends
def test_batch_append_chains_like_single_appends(uow) -> None:
    from sscard.audit import AuditEvent, record_events
    from sscard.audit.service import stream_for
    from sscard.config import get_settings

    _write(uow, 5, "card:batch-before-")
    # Ten subjects, three events each, interleaved: several entries per stream in one batch.
    events = [
        AuditEvent(actor=CLERK, action="pin.verify", subject=f"card:batch-{i % 10}", details={"n": i})
        for i in range(30)
    ]
    record_events(uow, events)
    _write(uow, 5, "card:batch-after-")
    report = verify_chain(uow)
    assert report.ok, report.problem
    streams = get_settings().audit_streams
    for subject in {e.subject for e in events}:
        rows = uow.session.scalars(
            select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.id)
        ).all()
        assert [r.details for r in rows] == [f'{{"n":{i}}}' for i in range(30) if f"card:batch-{i % 10}" == subject]
        assert {r.stream for r in rows} == {stream_for(subject, streams)}
        assert [r.seq for r in rows] == sorted(r.seq for r in rows)


# rule CH-4: a batch append is checked like any other: a changed entry in it is found
def test_batch_append_tampering_detected(uow) -> None:
    from sscard.audit import AuditEvent, record_events

    record_events(uow, [AuditEvent(actor=CLERK, action="pin.verify", subject=f"card:t-{i}") for i in range(12)])
    target = uow.session.scalars(select(AuditEntry).where(AuditEntry.subject == "card:t-7")).one()
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == target.id).values(action="pin.change"))
    uow.session.expire_all()
    report = verify_chain(uow)
    assert not report.ok and report.problem.entry_id == target.id


# rule CH-4: batches appended at once on separate connections neither deadlock nor break a chain
def test_parallel_batch_appends_keep_every_chain_intact(db_env) -> None:
    import threading

    import pytest

    from sscard.audit import AuditEvent, record_events
    from sscard.db.session import unit_of_work

    db = db_env  # the chain's check reads this database's own anchor file (see the test above)
    if db.backend != "postgresql":
        pytest.skip("real parallelism needs PostgreSQL (SQLite serialises writers)")
    barrier = threading.Barrier(6, timeout=30)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        barrier.wait()
        try:
            for round_ in range(5):
                # Overlapping subjects in a different order per worker: the heads are locked in
                # stream order whatever the order of the events, so no two batches deadlock.
                subjects = [f"card:par-{(n * 7 + i) % 25}" for i in range(20)]
                with unit_of_work(db.engine) as uow:
                    record_events(uow, [AuditEvent(actor=CLERK, action="pin.verify", subject=s,
                                                   details={"w": n, "r": round_}) for s in subjects])  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with unit_of_work(db.engine) as uow:
        count = uow.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.subject.like("card:par-%"))
        )
        assert count == 6 * 5 * 20
        report = verify_chain(uow)
        assert report.ok, report.problem


# rule CH-4: an entry slipped in past a head is found in any stream, the last one included (the walk
# looks for such entries a few hundred streams per query)
@pytest.mark.parametrize("place", ["first", "last"])
def test_entry_past_the_head_found_in_any_stream(uow, place: str) -> None:
    from sscard.audit.models import AuditStreamHead
    from sscard.config import get_settings

    last = get_settings().audit_streams - 1 if place == "last" else 0
    head = uow.session.get(AuditStreamHead, last)
    assert head is not None
    seq = head.seq
    uow.session.add(AuditEntry(stream=last, seq=head.seq + 1, at=func.now(), actor_kind="staff", actor_id="mallory",
                               role="x", channel="counter", region="110100", subject="card:forged",
                               action="card.activate", result="ok", details="{}", prev_hash=head.last_hash,
                               hash=b"\x01" * 32))  # fmt: skip
    uow.session.flush()
    report = verify_chain(uow)
    assert not report.ok and report.problem is not None
    assert (report.problem.stream, report.problem.seq) == (last, seq + 1)
    assert (
        report.problem.reason
        == f"entry with sequence {seq + 1} past the stream head's {seq} (inserted outside the chain)"
    )


# rule CH-4: the bytes an entry's hash covers are a stored format: every entry ever written is verified
# against it, so it is pinned here field by field, in its order (a change would break every old chain)
def test_the_canonical_bytes_are_pinned() -> None:
    from datetime import UTC, datetime

    from sscard.audit.service import canonical_bytes, chain_hash
    from sscard.security_module import get_security_module

    at = datetime(2026, 3, 4, 5, 6, 7, 8, tzinfo=UTC)
    actor = Actor(kind="staff", id="clerk1", channel=Channel.COUNTER, role="counter_clerk", region="110100")
    content = canonical_bytes(stream=3, seq=17, at=at, actor=actor, subject="card:维", action="card.activate",
                              result="ok", details='{"i":1}')  # fmt: skip
    assert (
        content
        == (
            '["3","17","2026-03-04T05:06:07.000008+00:00","staff","clerk1","counter_clerk","counter","110100",'
            '"card:维","card.activate","ok","{\\"i\\":1}"]'
        ).encode()
    )
    prev = b"\x05" * 32
    assert chain_hash(prev, content) == get_security_module().audit_mac(prev + content)[:32]


# rule CH-4: a batch's links, MACed in one call of the module (one key look-up), are the bytes one
# ``audit_mac`` per link gives: each after its predecessor's link, stream by stream
def test_a_batch_of_links_is_chained_as_one_mac_per_link() -> None:
    from sscard.security_module import get_security_module
    from sscard.security_module.module import SecurityModule

    module = get_security_module()
    chains = [(b"\x01" * 32, [b"a", b"bb", b"ccc"]), (b"\x02" * 32, [b"d"]), (b"\x03" * 32, [])]
    mac = module.audit_mac  # each link spelt out: link i = MAC(link i-1 ‖ content i), cut to 32 bytes
    a = mac(b"\x01" * 32 + b"a")[:32]
    b = mac(a + b"bb")[:32]
    c = mac(b + b"ccc")[:32]
    d = mac(b"\x02" * 32 + b"d")[:32]
    expected = [[a, b, c], [d], []]
    assert module.audit_chains(chains) == expected
    assert SecurityModule.audit_chains(module, chains) == expected  # the interface's own, for other modules


# rule CH-4: what an append writes is what the walk checks: the stored hash is the chain hash of the
# entry's canonical bytes after its predecessor's hash, and every column is the one given
def test_an_entry_is_stored_as_given_and_chained_to_its_predecessor(uow) -> None:
    from sscard.audit.models import AuditStreamHead
    from sscard.audit.service import canonical_bytes, chain_hash, stream_for
    from sscard.config import get_settings

    first = record_event(uow, actor=CLERK, action="card.activate", subject="card:chained", details={"b": 2, "a": 1})
    second = record_event(uow, actor=CLERK, action="card.block", subject="card:chained", result="denied")
    stored = uow.session.get(AuditEntry, second.id)
    uow.session.refresh(stored)
    assert (stored.stream, stored.seq, stored.prev_hash) == (first.stream, first.seq + 1, first.hash)
    assert (stored.actor_kind, stored.actor_id, stored.role, stored.channel, stored.region) == (
        "staff", "clerk1", "counter_clerk", "counter", "110100"
    )  # fmt: skip
    assert (stored.subject, stored.action, stored.result, stored.details) == (
        "card:chained",
        "card.block",
        "denied",
        "{}",
    )
    assert uow.session.get(AuditEntry, first.id).details == '{"a":1,"b":2}'  # sorted keys, compact
    assert uow.session.get(AuditEntry, first.id).result == "ok"  # the result when none is given
    content = canonical_bytes(stream=stored.stream, seq=stored.seq, at=stored.at, actor=CLERK, subject="card:chained",
                              action="card.block", result="denied", details="{}")  # fmt: skip
    assert stored.hash == second.hash == chain_hash(first.hash, content)
    head = uow.session.get(AuditStreamHead, stored.stream)
    uow.session.refresh(head)
    assert (head.seq, head.last_hash) == (stored.seq, stored.hash)
    # a subject shown masked goes to the stream of its key (one card, one stream), stored as shown
    assert stream_for("card:shown", get_settings().audit_streams) != stored.stream
    third = record_event(uow, actor=CLERK, action="card.block", subject="card:shown", subject_key="card:chained")
    assert (third.stream, third.seq, third.prev_hash) == (stored.stream, stored.seq + 1, stored.hash)
    assert uow.session.get(AuditEntry, third.id).subject == "card:shown"


# rule CH-4: a subject's stream is fixed by its key (one card, one stream, in order, across releases)
def test_the_stream_of_a_subject_is_fixed_by_its_key() -> None:
    import hashlib

    from sscard.audit import AuditEvent
    from sscard.audit.service import stream_for

    for key in ("card:1", "person:42", "handover:7"):
        expected = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 64
        assert stream_for(key, 64) == expected
    event = AuditEvent(actor=CLERK, action="x", subject="card:shown", subject_key="card:1")
    assert event.stream(64) == stream_for("card:1", 64)
    assert AuditEvent(actor=CLERK, action="x", subject="card:1").stream(64) == stream_for("card:1", 64)


# rule CH-4: any column of an entry changed afterwards is found, each named as a modified entry
@pytest.mark.parametrize(
    "column, value",
    [
        ("actor_kind", "system"),
        ("actor_id", "mallory"),
        ("role", "auditor"),
        ("channel", "cli"),
        ("region", "310104"),
        ("subject", "card:other"),
        ("action", "card.cancel"),
        ("details", '{"i":99}'),
        ("at", None),
    ],
)
def test_every_column_is_covered_by_the_hash(uow, column: str, value: object) -> None:
    from datetime import timedelta

    entries = _write(uow, 3, "col:")
    target = entries[1]
    new = target.at + timedelta(microseconds=1) if column == "at" else value
    uow.session.execute(update(AuditEntry).where(AuditEntry.id == target.id).values({column: new}))
    uow.session.expire_all()
    report = verify_chain(uow)
    _modified_at(report, target)


# rule CH-4: a head whose hash alone was rewritten is named, with why
def test_a_rewritten_head_hash_is_named(uow) -> None:
    from sscard.audit.models import AuditStreamHead

    last = _write(uow, 2, "head:")[-1]
    uow.session.execute(
        update(AuditStreamHead).where(AuditStreamHead.stream == last.stream).values(last_hash=b"\x03" * 32)
    )
    uow.session.expire_all()
    report = verify_chain(uow)
    assert (report.problem.stream, report.problem.seq, report.problem.entry_id) == (last.stream, last.seq, None)
    assert report.problem.reason == f"stream head's hash differs from entry {last.seq}'s (head or entry rewritten)"
    assert report.problems == (report.problem,) and report.streams == len(report.heads)
    assert last.stream not in {h.stream for h in report.intact_heads}


# rule CH-4 (non-repudiation): a staff member's signed operation is signed as it is appended, singly or in a
# batch, over the entry as stored; an unsigned kind of operation, or a refusal, is not
def test_signed_operations_are_signed_as_they_are_appended(uow) -> None:
    from sscard.audit import AuditEvent, record_events
    from sscard.audit.models import AuditSignature
    from sscard.audit.signatures import verify_signatures

    single = record_event(uow, actor=CLERK, action="card.cancel", subject="card:signed-1")
    plain = record_event(uow, actor=CLERK, action="card.activate", subject="card:signed-2")
    refused = record_event(uow, actor=CLERK, action="card.cancel", subject="card:signed-3", result="refused")
    plain_events = [AuditEvent(actor=CLERK, action="card.activate", subject=f"card:signed-b{i}") for i in range(3)]
    signed_ok = AuditEvent(actor=CLERK, action="pin.reset", subject="card:signed-b9")
    refused_too = AuditEvent(actor=CLERK, action="pin.reset", subject="card:signed-b8", result="refused")
    record_events(uow, [*plain_events, signed_ok, refused_too])
    batched = uow.session.scalars(select(AuditEntry).where(AuditEntry.subject == "card:signed-b9")).one()
    signed = {s.entry_id: s.signer for s in uow.session.scalars(select(AuditSignature))}
    assert signed.get(single.id) == signed.get(batched.id) == "clerk1"
    assert plain.id not in signed and refused.id not in signed
    unsigned = uow.session.scalars(
        select(AuditEntry.id).where(AuditEntry.subject.in_(["card:signed-b0", "card:signed-b2", "card:signed-b8"]))
    )
    assert not set(unsigned) & signed.keys()
    report = verify_signatures(uow)
    assert report.ok, report.problems


# rule CH-4: a database made before more streams were configured gets each new stream's head on first use,
# by a single append and by a batch, and its chain stays whole
def test_streams_added_later_get_their_heads(uow, monkeypatch: pytest.MonkeyPatch) -> None:
    from sscard.audit import AuditEvent, record_events
    from sscard.audit.models import AuditStreamHead
    from sscard.audit.service import stream_for
    from sscard.config import get_settings, reset_settings_cache

    before = get_settings().audit_streams
    monkeypatch.setenv("SSCARD_AUDIT_STREAMS", str(before + 64))
    reset_settings_cache()
    try:
        total = before + 64
        keys = [f"card:new-stream-{i}" for i in range(400)]
        new = [k for k in keys if stream_for(k, total) >= before]
        batch = new[:2]
        single = next(k for k in new if stream_for(k, total) not in {stream_for(b, total) for b in batch})
        record_events(uow, [AuditEvent(actor=CLERK, action="pin.verify", subject=k) for k in batch])  # heads made
        # Back to a database with only the old streams and the batch's (their heads hold entries now).
        keep = {stream_for(b, total) for b in batch}
        stale = [h for h in uow.session.scalars(select(AuditStreamHead).where(AuditStreamHead.stream >= before))
                 if h.stream not in keep]  # fmt: skip
        for head in stale:
            uow.session.delete(head)
        uow.session.flush()
        first = record_event(uow, actor=CLERK, action="card.activate", subject=single)  # heads made again
        assert first.stream >= before and first.seq == 1 and first.prev_hash == b"\x00" * 32
        for key in [*batch, single]:
            head = uow.session.get(AuditStreamHead, stream_for(key, total))
            uow.session.refresh(head)
            assert head.seq == 1
        report = verify_chain(uow)
        assert report.ok, report.problem
        assert report.streams == total
    finally:
        reset_settings_cache()


# rule CH-4: the streams a batch locks first are those its entries append to; the entry count is every entry
def test_streams_of_and_count_entries(uow) -> None:
    from sscard.audit.service import count_entries, stream_for, streams_of
    from sscard.config import get_settings

    n = get_settings().audit_streams
    keys = ["card:s-1", "card:s-2", "card:s-1", "person:9"]
    assert streams_of(keys) == {stream_for(k, n) for k in keys}
    assert streams_of([]) == set()
    before = count_entries(uow)
    _write(uow, 3, "count:")
    assert count_entries(uow) == before + 3 == uow.session.scalar(select(func.count()).select_from(AuditEntry))


# rule CH-4: PostgreSQL's batch append sends its heads and entries as two JSON documents; what they carry is
# the chain as computed (every column but the id and the time, which is one parameter; hashes as hex; each
# entry numbered in the order given, which is the order of the inserted ids the walk follows)
def test_the_batch_statements_parameters_carry_the_chain_as_computed() -> None:
    import json
    from types import SimpleNamespace

    from sscard.audit import AuditEvent
    from sscard.audit.service import _ENTRY_COLUMNS, append_many_params, chain_entries

    other = Actor(kind="terminal", id="T1101050000000A", channel=Channel.TERMINAL, role="pharmacy", region="110105")
    events = {
        3: [AuditEvent(CLERK, "card.activate", "card:维", details={"i": 1}),
            AuditEvent(other, "pin.verify", "card:b", "wrong")],
        8: [AuditEvent(other, "settlement.pay", "card:c", details={"fen": 5})],
    }  # fmt: skip
    heads = {3: SimpleNamespace(seq=41, last_hash=b"\x01" * 32), 8: SimpleNamespace(seq=0, last_hash=b"\x00" * 32)}
    at, rows, moves = chain_entries(events, heads)
    params = append_many_params(at, rows, moves)
    assert set(params) == {"at", "heads", "entries"} and params["at"] == at
    assert json.loads(params["heads"]) == [[3, 43, rows[1]["hash"].hex()], [8, 1, rows[2]["hash"].hex()]]
    columns = ["stream", "seq", "actor_kind", "actor_id", "role", "channel", "region", "subject", "action",
               "result", "details", "prev_hash", "hash"]  # fmt: skip
    assert sorted(columns) == sorted(c.name for c in AuditEntry.__table__.c if c.name not in ("id", "at"))
    # Each entry an array of its columns in the statement's order; entries inserted in the order sent.
    sent = [dict(zip(_ENTRY_COLUMNS, entry, strict=True)) for entry in json.loads(params["entries"])]
    for entry, row in zip(sent, rows, strict=True):
        assert entry == {c: row[c].hex() if c.endswith("hash") else row[c] for c in columns}
    assert [(e["stream"], e["seq"], e["subject"], e["result"]) for e in sent] == [
        (3, 42, "card:维", "ok"), (3, 43, "card:b", "wrong"), (8, 1, "card:c", "ok")
    ]  # fmt: skip
    assert sent[0]["prev_hash"] == "01" * 32 and sent[1]["prev_hash"] == sent[0]["hash"]

"""What each loss step writes, compared whole (issue 26): the report row, the card's audit entry (its
fields, its details, its stream) and the holder's notice (CARD-5, CARD-1, CH-2, CH-4, CH-5).

The other loss tests check that each step happens; these check what it leaves behind, field by field, at a
time given by the caller (not the clock), so that a step writing a wrong field or the clock's time fails.
They call the services directly (no app): the card-lifecycle group of ``make mutation`` runs them per mutant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from sscard.audit import Actor, AuditEvent, Channel
from sscard.audit.models import AuditEntry
from sscard.audit.service import streams_of
from sscard.cards import lifecycle
from sscard.cards.errors import CardIllegalTransition, CardNotFound, LossReportInvalid, LossReportNoCard
from sscard.cards.lifecycle import card_event, card_stream_key, card_subject
from sscard.cards.models import Card, LossReport, LossReportState
from sscard.cards.notices import loss_notice_text
from sscard.cards.service import (
    activate_card,
    cancel_card,
    confirm_loss,
    expire_loss_reports,
    get_card,
    get_card_or_raise,
    issue_card,
    replace_card,
    report_loss_by_hotline,
)
from sscard.cards.states import CardState
from sscard.cards.types import CardType
from sscard.db.base import utcnow
from sscard.identity import mask_id_number
from sscard.notify.models import OutboxMessage
from sscard.notify.outbox import open_body
from sscard.policy.service import set_policy
from tests.people.factories import CALLER, CLERK, add_test_person, new_id_number, new_phone
from tests.staff.factories import ensure_region

ADMIN = Actor(kind="staff", id="admin1", channel=Channel.ADMIN, role="administrator", region="000000")
MEDICAL_REGION = "140905"  # a region of its own: its medical cards' provisional reports last 2 days


def _holder(uow, *, card_type: str = "social", region: str | None = None):
    number = new_id_number(region=region) if region else new_id_number()
    person = add_test_person(uow, id_number=number, phone=new_phone())
    card = issue_card(uow, person_id=person.id, card_type=card_type, actor=CLERK)
    activate_card(uow, card_no=card.card_no, actor=CLERK)
    return number, person, card


def _card_entries(uow, card) -> list[AuditEntry]:
    entries = uow.session.scalars(select(AuditEntry).where(AuditEntry.subject == card_subject(card.card_no)))
    return [e for e in entries if json.loads(e.details).get("card_id") == card.id]


def _last(uow, card, action: str) -> AuditEntry:
    return [e for e in _card_entries(uow, card) if e.action == action][-1]


def _who(entry: AuditEntry) -> tuple[str, ...]:
    return (entry.actor_kind, entry.actor_id, entry.channel, entry.role, entry.result)


def _notices(uow, person, topic: str) -> list[str]:
    messages = uow.session.scalars(
        select(OutboxMessage).where(OutboxMessage.person_id == person.id, OutboxMessage.topic == topic)
        .order_by(OutboxMessage.id)
    )  # fmt: skip
    return [open_body(m) for m in messages]


def _text(card, *, expires_at=None, **kwargs) -> str:
    zh, en = loss_notice_text(card_no=card.card_no, expires_at=expires_at, **kwargs)
    return f"{zh}\n{en}"


# rule CARD-5 / CH-4 / CH-5: an oral report at a given time writes a provisional report of that time, lapsing
# after the policy days, by the hotline; the card's entry names the person, the type, the transition, the
# report and its expiry; the holder is told when, through which channel and until when
def test_a_hotline_report_writes_its_report_entry_and_notice(uow) -> None:
    number, person, card = _holder(uow)
    activated = card.activated_at
    now = utcnow().replace(microsecond=0) - timedelta(hours=3)  # not the clock: the time given is the one used
    report = report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=now)
    expires = now + timedelta(days=5)
    stored = uow.session.get(LossReport, report.id)
    assert (stored.card_id, stored.channel, stored.state, stored.reported_by) == (
        card.id, "hotline", LossReportState.PROVISIONAL, "hotline"
    )  # fmt: skip
    assert (stored.reported_at, stored.expires_at, stored.closed_at, stored.confirmed_at) == (now, expires, None, None)
    entry = _last(uow, card, "card.report_loss")
    assert _who(entry) == ("caller", "hotline", "hotline", "caller", "ok")
    assert json.loads(entry.details) == {
        "card_id": card.id, "person_id": person.id, "type": "social", "from": "active", "to": "loss_reported",
        "report_id": report.id, "provisional": True, "expires_at": expires.isoformat(),
    }  # fmt: skip
    assert _notices(uow, person, "card.loss_reported") == [
        _text(card, event="reported", at=now, expires_at=expires, channel="hotline")
    ]
    # the card is blocked; its activation time is untouched and it is not closed
    assert get_card_or_raise(uow, card.card_no).state is CardState.LOSS_REPORTED
    assert activated is not None and card.activated_at == activated and card.closed_at is None

    # Called again an hour later: the same report, audited as such, and the holder is told again (someone
    # called about the card) with the first report's expiry, not a new one.
    later = now + timedelta(hours=1)
    again = report_loss_by_hotline(uow, ss_number=number, actor=CALLER, now=later)
    assert again.id == report.id and again.expires_at == expires
    repeat = _last(uow, card, "card.report_loss")
    assert _who(repeat) == ("caller", "hotline", "hotline", "caller", "already_reported")
    assert json.loads(repeat.details) == {
        "card_id": card.id, "person_id": person.id, "type": "social", "report_id": report.id
    }  # fmt: skip
    assert _notices(uow, person, "card.loss_reported")[1:] == [
        _text(card, event="reported", at=later, expires_at=expires, channel="hotline")
    ]


# rule CARD-5 (POL): the expiry is the policy's for the card's region and type (a medical card's 2 days, while
# the same holder's social card keeps the national 5)
def test_the_expiry_is_the_policy_of_the_cards_region_and_type(uow) -> None:
    ensure_region(uow, MEDICAL_REGION)
    set_policy(uow, region_code=MEDICAL_REGION, card_type="medical", values={"loss_report_expiry_days": 2},
               reason="short", actor=ADMIN)  # fmt: skip
    number, person, _ = _holder(uow, card_type="medical", region=MEDICAL_REGION)
    social = issue_card(uow, person_id=person.id, card_type="social", actor=CLERK)
    activate_card(uow, card_no=social.card_no, actor=CLERK)
    now = utcnow().replace(microsecond=0)
    medical = report_loss_by_hotline(uow, id_number=number, card_type="medical", actor=CALLER, now=now)
    assert medical.expires_at == now + timedelta(days=2)
    assert report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=now).expires_at == now + timedelta(days=5)


# rule CARD-5 / CH-4: what the hotline hears when it cannot block, in words; a number without a blockable card
# is audited under the masked number, by the caller, as "no_card"
def test_the_hotline_refusals_say_why_and_no_card_is_audited(uow) -> None:
    with pytest.raises(LossReportInvalid) as nothing:
        report_loss_by_hotline(uow, id_number="  ", ss_number="", actor=CALLER)
    assert nothing.value.detail == "give id_number or ss_number"
    with pytest.raises(LossReportInvalid) as two:
        report_loss_by_hotline(uow, id_number=new_id_number(), ss_number=new_id_number(), actor=CALLER)
    assert two.value.detail == "id_number and ss_number differ; give one of them"
    unknown = new_id_number()
    with pytest.raises(LossReportNoCard) as no_card:
        report_loss_by_hotline(uow, id_number=f" {unknown} ", actor=CALLER)
    assert no_card.value.detail == "no active card to report lost for this number"
    entry = uow.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
    assert (entry.action, entry.subject) == ("card.report_loss", f"id:{mask_id_number(unknown)}")
    assert _who(entry) == ("caller", "hotline", "hotline", "caller", "no_card")


# rule CH-2 / CARD-5: a channel that may not act on the holder's region hears "no card" (existence not disclosed),
# nothing is blocked; the region it is asked about is the holder's
def test_a_holder_outside_the_channels_regions_is_answered_as_no_card(uow) -> None:
    number, person, card = _holder(uow)
    asked: list[str] = []

    def elsewhere(region: str) -> bool:
        asked.append(region)
        return False

    with pytest.raises(LossReportNoCard):
        report_loss_by_hotline(uow, id_number=number, actor=CALLER, within=elsewhere)
    assert asked == [person.region_code]
    assert get_card_or_raise(uow, card.card_no).state is CardState.ACTIVE
    assert uow.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc())).result == "no_card"
    report = report_loss_by_hotline(uow, id_number=number, actor=CALLER, within=lambda r: r == person.region_code)
    assert report.card_id == card.id


# rule CARD-5 / CARD-1 / CH-4 / CH-5: a loss made formal straight at the counter (no hotline call first) is a
# confirmed report of the counter, at the time given; the entry names the evidence and the report; the holder
# is told when
def test_a_formal_report_at_the_counter_writes_its_report_entry_and_notice(uow) -> None:
    _, person, card = _holder(uow)
    now = utcnow().replace(microsecond=0) - timedelta(hours=2)
    report = confirm_loss(uow, card_no=card.card_no, actor=CLERK, evidence="  resident  ID card ", now=now)
    stored = uow.session.get(LossReport, report.id)
    assert (stored.card_id, stored.channel, stored.state, stored.evidence) == (
        card.id, "counter", LossReportState.CONFIRMED, "resident ID card"
    )  # fmt: skip
    assert (stored.reported_at, stored.reported_by, stored.confirmed_at, stored.confirmed_by) == (
        now, "clerk1", now, "clerk1"
    )  # fmt: skip
    assert stored.expires_at is None
    entry = _last(uow, card, "card.confirm_loss")
    assert _who(entry) == ("staff", "clerk1", "counter", "counter_clerk", "ok")
    assert json.loads(entry.details) == {
        "card_id": card.id, "person_id": person.id, "type": "social", "from": "active", "to": "lost",
        "evidence": "resident ID card", "report_id": report.id,
    }  # fmt: skip
    assert _notices(uow, person, "card.loss_confirmed") == [_text(card, event="confirmed", at=now, channel="counter")]


# rule CARD-5: confirming a hotline report (at the time given: before it lapsed) makes that report formal;
# its oral time stays
def test_confirming_a_hotline_report_keeps_it(uow) -> None:
    number, _, card = _holder(uow)
    reported = utcnow().replace(microsecond=0) - timedelta(days=30)  # lapsed by the clock, not by the time given
    provisional = report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=reported)
    confirmed_at = reported + timedelta(hours=5)
    report = confirm_loss(uow, card_no=card.card_no, actor=CLERK, evidence="resident ID card", now=confirmed_at)
    assert report.id == provisional.id
    stored = uow.session.get(LossReport, report.id)
    assert (stored.state, stored.channel, stored.reported_at, stored.confirmed_at) == (
        LossReportState.CONFIRMED, "hotline", reported, confirmed_at
    )  # fmt: skip
    assert (
        uow.session.scalar(select(LossReport.id).where(LossReport.card_id == card.id, LossReport.id != report.id))
        is None
    )


# rule CARD-1: a card that cannot be confirmed lost is refused before anything is written, naming the transition
def test_a_confirmation_from_a_wrong_state_writes_nothing(uow) -> None:
    person = add_test_person(uow, id_number=new_id_number())
    card = issue_card(uow, person_id=person.id, actor=CLERK)  # issued, never activated
    before = len(_card_entries(uow, card))
    with pytest.raises(CardIllegalTransition) as refused:
        confirm_loss(uow, card_no=card.card_no, actor=CLERK, evidence="resident ID card")
    assert (refused.value.from_state, refused.value.to_state) == ("issued", "lost")
    assert uow.session.scalar(select(LossReport.id).where(LossReport.card_id == card.id)) is None
    assert len(_card_entries(uow, card)) == before


# rule CARD-1 / CH-4: each transition stamps the card at the step's own time: issued and activated, closed by a
# cancel at the same instant as the loss report it closes, and a replacement issued at the instant the old
# card closed; every entry of a card is in that card's own audit stream
def test_the_card_times_are_those_of_its_steps_and_its_entries_share_a_stream(uow) -> None:
    number, _, card = _holder(uow)
    assert card.issued_at is not None and card.activated_at is not None and card.closed_at is None
    activated = card.activated_at
    report_loss_by_hotline(uow, id_number=number, actor=CALLER)
    assert card.activated_at == activated  # a loss report is not an activation
    cancel_card(uow, card_no=card.card_no, actor=CLERK, reason="holder_request")
    closed = uow.session.scalar(select(LossReport).where(LossReport.card_id == card.id))
    assert closed.state is LossReportState.CLOSED
    assert card.closed_at is not None and card.closed_at == closed.closed_at
    assert json.loads(_last(uow, card, "card.cancel").details)["closed_loss_report"] == closed.id

    _, _, lost = _holder(uow)
    confirm_loss(uow, card_no=lost.card_no, actor=CLERK, evidence="resident ID card")
    new = replace_card(uow, card_no=lost.card_no, actor=CLERK)
    assert lost.closed_at is not None and new.issued_at == lost.closed_at and new.closed_at is None
    for c in (card, lost, new):
        entries = _card_entries(uow, c)
        assert entries and {e.stream for e in entries} == streams_of([card_stream_key(c.card_no)]), c.card_no
        assert all(e.result == "ok" for e in entries)


# rule CARD-5: the expiry batch reads the due reports batch after batch, each row once, and decides on each card as
# it is now: a report it cannot expire (its card changed state in another transaction: here, by hand) neither
# stops it nor makes it read the same rows again and again, and is not counted
def test_the_batch_goes_past_a_report_it_cannot_expire(uow, monkeypatch) -> None:
    long_ago = utcnow() - timedelta(days=400)  # no other test's report lapsed that early: the count is exact
    reports = []
    for _ in range(3):
        number, _, card = _holder(uow)
        reports.append((report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=long_ago), card))
    (stuck, stuck_card), lapsed = reports[0], reports[1:]
    _set_state_elsewhere(uow, stuck_card, CardState.ACTIVE)  # the first by key: the batch must go past it
    reads = []
    execute = uow.session.execute

    def read(*args, **kwargs):
        reads.append(1)
        assert len(reads) < 100, "the batch reads the same rows again and again"
        return execute(*args, **kwargs)

    monkeypatch.setattr(uow.session, "execute", read)
    assert expire_loss_reports(uow, now=long_ago + timedelta(days=5, seconds=1), batch=1) == 2
    monkeypatch.undo()
    for report, card in lapsed:
        uow.session.refresh(report)
        assert report.state is LossReportState.EXPIRED and card.state is CardState.ACTIVE
    uow.session.refresh(stuck)
    assert stuck.state is LossReportState.PROVISIONAL
    assert get_card(uow, stuck_card.card_no).state is CardState.ACTIVE


def _set_state_elsewhere(uow, card, state: CardState) -> None:
    """Change the card's row the way another transaction would: not through this session's objects."""
    cards = Card.__table__
    uow.session.connection().execute(update(cards).where(cards.c.id == card.id).values(state=state))


# rule CARD-1: a counter step decides on the card as it is now, re-read under its lock: a card cancelled by
# another transaction since this one read it cannot be confirmed lost
def test_a_counter_step_decides_on_the_card_as_it_is_now(uow) -> None:
    _, _, card = _holder(uow)
    _set_state_elsewhere(uow, card, CardState.CANCELLED)
    with pytest.raises(CardIllegalTransition) as refused:
        confirm_loss(uow, card_no=card.card_no, actor=CLERK, evidence="resident ID card")
    assert (refused.value.from_state, refused.value.to_state) == ("cancelled", "lost")


# rule CARD-5: a card's open report is read as it is now: a report whose expiry another transaction moved into
# the past has lapsed for this one too
def test_the_open_report_is_read_as_it_is_now(uow) -> None:
    number, _, card = _holder(uow)
    report = report_loss_by_hotline(uow, id_number=number, actor=CALLER)
    reports = LossReport.__table__
    uow.session.connection().execute(
        update(reports).where(reports.c.id == report.id).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    assert get_card(uow, card.card_no).state is CardState.ACTIVE


# rule CARD-5: a hotline call decides on the holder's cards as they are now: a card another call blocked
# meanwhile is answered with that call's report, not blocked twice
def test_a_hotline_call_sees_a_report_made_meanwhile(uow) -> None:
    number, _, card = _holder(uow)  # this session saw the card active
    now = utcnow().replace(microsecond=0)
    made = uow.session.connection().execute(
        insert(LossReport.__table__)
        .values(card_id=card.id, channel="hotline", state=LossReportState.PROVISIONAL, reported_at=now,
                expires_at=now + timedelta(days=5), reported_by="hotline")
        .returning(LossReport.__table__.c.id)
    ).scalar_one()  # fmt: skip
    _set_state_elsewhere(uow, card, CardState.LOSS_REPORTED)
    assert report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=now).id == made
    assert uow.session.scalar(select(LossReport.id).where(LossReport.card_id == card.id, LossReport.id != made)) is None


# rule CARD-5: a hotline call decides on the holder's cards as they are now: a card whose report a counter
# withdrew meanwhile (in another transaction) is active again, and the call blocks it afresh
def test_a_hotline_call_sees_a_withdrawal_made_meanwhile(uow) -> None:
    number, _, card = _holder(uow)
    first = report_loss_by_hotline(uow, id_number=number, actor=CALLER)  # this session saw the card blocked
    reports = LossReport.__table__
    uow.session.connection().execute(
        update(reports).where(reports.c.id == first.id).values(state=LossReportState.WITHDRAWN)
    )
    _set_state_elsewhere(uow, card, CardState.ACTIVE)
    again = report_loss_by_hotline(uow, id_number=number, actor=CALLER)
    assert again.id != first.id and again.state is LossReportState.PROVISIONAL
    assert get_card(uow, card.card_no).state is CardState.LOSS_REPORTED


# rule CARD-5: a report lapses at its expiry time exactly: a call at that instant blocks afresh with a new report
# (the lapsed one expired, closed at that instant), and a read at that instant finds the card active
def test_a_report_lapses_at_its_expiry_instant(uow, monkeypatch) -> None:
    number, _, card = _holder(uow)
    at = utcnow().replace(microsecond=0) - timedelta(hours=1)
    old = report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=at - timedelta(days=5))
    assert old.expires_at == at
    new = report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=at)
    assert new.id != old.id and new.expires_at == at + timedelta(days=5)
    stored = uow.session.get(LossReport, old.id)
    assert (stored.state, stored.closed_at) == (LossReportState.EXPIRED, at)
    assert [e.action for e in _card_entries(uow, card)][-3:] == [
        "card.report_loss",
        "card.expire_loss",
        "card.report_loss",
    ]

    other_number, _, other = _holder(uow)
    report_loss_by_hotline(uow, id_number=other_number, actor=CALLER, now=at - timedelta(days=5))
    monkeypatch.setattr(lifecycle, "utcnow", lambda: at)  # a read at the expiry instant
    assert get_card(uow, other.card_no).state is CardState.ACTIVE


# rule CARD-1 / CH-4: a card the counter asks for and does not find is named as mistyped or, masked, as unknown
def test_a_counter_step_on_no_card_says_why(uow) -> None:
    with pytest.raises(CardNotFound) as mistyped:
        confirm_loss(uow, card_no="12", actor=CLERK, evidence="resident ID card")
    assert mistyped.value.detail == "a card number is a letter and 8 digits"
    with pytest.raises(CardNotFound) as unknown:
        confirm_loss(uow, card_no=" z00000001 ", actor=CLERK, evidence="resident ID card")
    assert unknown.value.detail == "no card Z0000****"


@dataclass(frozen=True)
class _Row:
    """A card as a batch reads it (``CardFacts``), without the ORM."""

    id: int
    card_no: str
    person_id: int
    card_type: CardType


# rule CH-4: the audit event about a card names it masked, keeps its history in the card's own stream, says
# "ok" unless told otherwise, and names the card, person and type before the step's own details
def test_the_audit_event_of_a_card() -> None:
    row = _Row(id=7, card_no="A12345678", person_id=9, card_type=CardType.MEDICAL)
    event = card_event(row, actor=CLERK, action="card.test", details={"step": 1})
    assert event == AuditEvent(
        actor=CLERK, action="card.test", subject="card:A1234****", result="ok",
        details={"card_id": 7, "person_id": 9, "type": "medical", "step": 1}, subject_key="card:A12345678",
    )  # fmt: skip
    assert card_event(row, actor=CLERK, action="card.test", result="refused").details == {
        "card_id": 7, "person_id": 9, "type": "medical"
    }  # fmt: skip

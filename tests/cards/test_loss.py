"""Loss reports on SQLite and PostgreSQL (CARD-5, CARD-1, CH-4)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from sscard.audit.models import AuditEntry
from sscard.audit.service import count_entries, verify_chain
from sscard.cards.errors import CardBlocked, CardIllegalTransition, CardNotFound, LossReportInvalid, LossReportNoCard
from sscard.cards.models import LossReport, LossReportState
from sscard.cards.numbers import mask_card_no
from sscard.cards.service import (
    activate_card,
    confirm_loss,
    expire_loss_reports,
    get_card_or_raise,
    get_usable_card_or_raise,
    issue_card,
    replace_card,
    report_loss_by_hotline,
    withdraw_loss,
)
from sscard.cards.states import CardState
from sscard.db.base import utcnow
from sscard.identity import InvalidCitizenId
from sscard.people.errors import EvidenceRequired
from tests.people.factories import CALLER, CLERK, add_test_person, new_id_number


def _active_card(uow, card_type: str = "social", id_number: str | None = None):
    person = add_test_person(uow, id_number=id_number or new_id_number())
    card = issue_card(uow, person_id=person.id, card_type=card_type, actor=CLERK)
    activate_card(uow, card_no=card.card_no, actor=CLERK)
    return person, card


def _reports(uow) -> int:
    return uow.session.scalar(select(func.count()).select_from(LossReport))


# rule CARD-5: an oral report by ID blocks the card at once and expires after the policy days
def test_hotline_report_blocks_at_once(uow) -> None:
    number = new_id_number()
    _, card = _active_card(uow, id_number=number)
    before = utcnow()
    report = report_loss_by_hotline(uow, id_number=number, actor=CALLER)
    assert report.state is LossReportState.PROVISIONAL and report.channel == "hotline"
    assert before + timedelta(days=5) <= report.expires_at <= utcnow() + timedelta(days=5)
    assert get_card_or_raise(uow, card.card_no).state is CardState.LOSS_REPORTED
    with pytest.raises(CardBlocked):
        get_usable_card_or_raise(uow, card.card_no)
    entry = uow.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "card.report_loss").order_by(AuditEntry.id.desc())
    )
    assert entry.channel == "hotline" and entry.actor_kind == "caller" and number not in entry.details


# rule CARD-5 / ID-1: the social security number is the citizen ID number; no password
def test_hotline_report_by_ss_number(uow) -> None:
    number = new_id_number()
    _, card = _active_card(uow, id_number=number)
    report = report_loss_by_hotline(uow, ss_number=number.lower(), actor=CALLER)
    assert report.card_id == card.id
    # Calling again is not an error and does not extend the block.
    again = report_loss_by_hotline(uow, id_number=number, ss_number=number, actor=CALLER)
    assert again.id == report.id and again.expires_at == report.expires_at


# rule CARD-5: bad or unknown numbers; the same answer for "nobody" and "no card" (nothing revealed)
def test_hotline_bad_input(uow) -> None:
    person = add_test_person(uow)
    number_without_card = new_id_number()
    add_test_person(uow, id_number=number_without_card)
    issue_card(uow, person_id=person.id, actor=CLERK)
    reports, audits = _reports(uow), count_entries(uow)
    with pytest.raises(LossReportInvalid):
        report_loss_by_hotline(uow, actor=CALLER)
    with pytest.raises(LossReportInvalid):
        report_loss_by_hotline(uow, id_number=new_id_number(), ss_number=new_id_number(), actor=CALLER)
    with pytest.raises(InvalidCitizenId):
        report_loss_by_hotline(uow, id_number="110105194912310021", actor=CALLER)
    with pytest.raises(LossReportNoCard) as exc_unknown:
        report_loss_by_hotline(uow, id_number=new_id_number(), actor=CALLER)
    with pytest.raises(LossReportNoCard) as exc_no_card:
        report_loss_by_hotline(uow, id_number=number_without_card, actor=CALLER)
    assert exc_unknown.value.detail == exc_no_card.value.detail
    # An issued, never activated card cannot be used, so there is nothing to block (CARD-4).
    with pytest.raises(LossReportNoCard):
        report_loss_by_hotline(uow, id_number=_number_of(person), actor=CALLER)
    # No report; the three "no card" refusals are audited alike (issue 17 item 7), the bad input is not.
    assert (_reports(uow), count_entries(uow)) == (reports, audits + 3)


def _number_of(person) -> str:

    return person.id_number


# rule CARD-5: without a type the social card is meant; a rural-only holder's card is found too
def test_hotline_picks_card(uow) -> None:
    number = new_id_number()
    person, rural = _active_card(uow, card_type="rural", id_number=number)
    assert report_loss_by_hotline(uow, id_number=number, actor=CALLER).card_id == rural.id
    social = issue_card(uow, person_id=person.id, actor=CLERK)
    activate_card(uow, card_no=social.card_no, actor=CLERK)
    assert report_loss_by_hotline(uow, id_number=number, actor=CALLER).card_id == social.id


# rule CARD-5: the batch expires lapsed reports and unblocks the cards; fresh ones stay
def test_expiry_batch(uow) -> None:
    number_old, number_new = new_id_number(), new_id_number()
    _, old_card = _active_card(uow, id_number=number_old)
    _, new_card = _active_card(uow, id_number=number_new)
    long_ago = utcnow() - timedelta(days=6)
    lapsed = report_loss_by_hotline(uow, id_number=number_old, actor=CALLER, now=long_ago)
    report_loss_by_hotline(uow, id_number=number_new, actor=CALLER)
    assert expire_loss_reports(uow, now=utcnow()) >= 1
    uow.session.refresh(lapsed)
    assert lapsed.state is LossReportState.EXPIRED and lapsed.closed_at is not None
    assert get_card_or_raise(uow, old_card.card_no).state is CardState.ACTIVE
    assert get_card_or_raise(uow, new_card.card_no).state is CardState.LOSS_REPORTED
    assert expire_loss_reports(uow, now=utcnow()) == 0  # idempotent
    entry = uow.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "card.expire_loss").order_by(AuditEntry.id.desc())
    )
    assert entry.actor_kind == "system" and entry.channel == "system"
    assert verify_chain(uow).ok


# rule CARD-5: a lapsed report never blocks, even before the batch runs (applied when the card is read)
def test_lazy_expiry_on_read(uow) -> None:
    number = new_id_number()
    _, card = _active_card(uow, id_number=number)
    report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=utcnow() - timedelta(days=5, seconds=1))
    assert get_usable_card_or_raise(uow, card.card_no).state is CardState.ACTIVE
    # And a new call blocks afresh.
    report = report_loss_by_hotline(uow, id_number=number, actor=CALLER)
    assert report.state is LossReportState.PROVISIONAL
    assert get_card_or_raise(uow, card.card_no).state is CardState.LOSS_REPORTED


# rule CARD-5 / CH-2: confirmation at a counter with the ID document makes the loss formal
def test_confirm_loss(uow) -> None:
    from tests.people.factories import new_phone

    number = new_id_number()
    person = add_test_person(uow, id_number=number, phone=new_phone())
    card = issue_card(uow, person_id=person.id, actor=CLERK)
    activate_card(uow, card_no=card.card_no, actor=CLERK)
    provisional = report_loss_by_hotline(uow, id_number=number, actor=CALLER)
    with pytest.raises(EvidenceRequired):
        confirm_loss(uow, card_no=card.card_no, actor=CLERK, evidence=" ")
    report = confirm_loss(uow, card_no=card.card_no, actor=CLERK, evidence=f"resident ID card {number}")
    assert report.id == provisional.id and report.state is LossReportState.CONFIRMED
    assert report.confirmed_by == "clerk1" and number not in report.evidence
    assert get_card_or_raise(uow, card.card_no).state is CardState.LOST
    # rule CH-5: the oral report and the formal one are each told to the holder (outbox, same transaction)
    from sscard.notify.models import OutboxMessage

    topics = uow.session.scalars(select(OutboxMessage.topic).where(OutboxMessage.person_id == card.person_id)).all()
    assert sorted(set(topics)) == ["card.loss_confirmed", "card.loss_reported"]
    # A confirmed loss never lapses.
    expire_loss_reports(uow, now=utcnow() + timedelta(days=30))
    assert get_card_or_raise(uow, card.card_no).state is CardState.LOST
    with pytest.raises(CardIllegalTransition):
        confirm_loss(uow, card_no=card.card_no, actor=CLERK, evidence="resident ID card")
    new = replace_card(uow, card_no=card.card_no, actor=CLERK)
    assert new.state is CardState.ISSUED


# rule CARD-5: a lapsed report cannot be confirmed as such, but a formal report at the counter works
def test_confirm_after_lapse_is_a_fresh_formal_report(uow) -> None:
    number = new_id_number()
    _, card = _active_card(uow, id_number=number)
    old = report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=utcnow() - timedelta(days=9))
    report = confirm_loss(uow, card_no=card.card_no, actor=CLERK, evidence="resident ID card")
    assert report.id != old.id and report.expires_at is None
    uow.session.refresh(old)
    assert old.state is LossReportState.EXPIRED


# rule CARD-1: the holder found the card: the counter withdraws the report
def test_withdraw(uow) -> None:
    number = new_id_number()
    _, card = _active_card(uow, id_number=number)
    report = report_loss_by_hotline(uow, id_number=number, actor=CALLER)
    withdraw_loss(uow, card_no=card.card_no, actor=CLERK, evidence="resident ID card")
    uow.session.refresh(report)
    assert report.state is LossReportState.WITHDRAWN
    assert get_usable_card_or_raise(uow, card.card_no).state is CardState.ACTIVE
    with pytest.raises(CardIllegalTransition):
        withdraw_loss(uow, card_no=card.card_no, actor=CLERK, evidence="resident ID card")


# rule CARD-1 / CH-4: the whole path writes one audit entry per transition, chain intact
def test_every_transition_audited(uow) -> None:
    number = new_id_number()
    _, card = _active_card(uow, id_number=number)
    report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=utcnow() - timedelta(days=6))
    expire_loss_reports(uow, now=utcnow())
    report_loss_by_hotline(uow, id_number=number, actor=CALLER)
    withdraw_loss(uow, card_no=card.card_no, actor=CLERK, evidence="ID card")
    report_loss_by_hotline(uow, id_number=number, actor=CALLER)
    confirm_loss(uow, card_no=card.card_no, actor=CLERK, evidence="ID card")
    new = replace_card(uow, card_no=card.card_no, actor=CLERK)
    rows = uow.session.execute(
        select(AuditEntry.action, AuditEntry.details).where(AuditEntry.subject.like("card:%")).order_by(AuditEntry.id)
    ).all()
    mine = [a for a, d in rows if f'"card_id":{card.id},' in d]
    assert mine == [
        "card.apply",
        "card.issue",
        "card.personalise",  # CARD-7
        "card.activate",
        "card.report_loss",
        "card.expire_loss",
        "card.report_loss",
        "card.withdraw_loss",
        "card.report_loss",
        "card.confirm_loss",
        "card.replace",
        "card.replaced_by",
    ]
    assert [a for a, d in rows if f'"card_id":{new.id},' in d] == ["card.apply", "card.issue", "card.personalise"]
    assert verify_chain(uow).ok


def _card_entry(uow, action: str, card_id: int) -> dict:
    """The details of the card's latest audit entry of ``action`` (other tests' cards share the table)."""
    entries = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()
    return [d for d in (json.loads(e.details) for e in entries) if d.get("card_id") == card_id][-1]


# rule CARD-1 / CARD-5 / CH-4 (issue 26, surviving mutants): a withdrawal goes by the time it is given (a
# report still open then is withdrawn, however long ago that was by the clock), closes the report at that
# time, and its audit entry names the report and the ID document checked
def test_withdraw_goes_by_the_time_given_and_audits_what_was_checked(uow) -> None:
    number = new_id_number()
    _, card = _active_card(uow, id_number=number)
    reported = utcnow() - timedelta(days=30)
    report = report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=reported)
    found = reported + timedelta(days=1)
    withdraw_loss(uow, card_no=card.card_no, actor=CLERK, evidence="  resident   ID card ", now=found)
    uow.session.refresh(report)
    assert report.state is LossReportState.WITHDRAWN and report.closed_at == found
    details = _card_entry(uow, "card.withdraw_loss", card.id)
    assert (details["evidence"], details["report_id"]) == ("resident ID card", report.id)


# rule CARD-5 / CH-4 (issue 26, surviving mutants): the expiry's audit entry names the report and its expiry
def test_the_expiry_entry_names_the_report_and_its_expiry(uow) -> None:
    number = new_id_number()
    _, card = _active_card(uow, id_number=number)
    report = report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=utcnow() - timedelta(days=30))
    assert expire_loss_reports(uow, now=utcnow()) >= 1
    details = _card_entry(uow, "card.expire_loss", card.id)
    assert (details["report_id"], details["expires_at"]) == (report.id, report.expires_at.isoformat())


# rule CARD-1 / CH-4 (issue 26, surviving mutants): "no such card" says whether the number was mistyped, and
# names a well-formed number only masked
def test_a_card_not_found_says_why(uow) -> None:
    with pytest.raises(CardNotFound) as mistyped:
        get_card_or_raise(uow, "12")
    assert mistyped.value.detail == "a card number is a letter and 8 digits"
    with pytest.raises(CardNotFound) as unknown:
        get_card_or_raise(uow, " z00000001 ")
    assert unknown.value.detail == f"no card {mask_card_no('Z00000001')}"


# rule CARD-5 (issue 26, surviving mutant): a report lapses at its expiry time exactly, in the batch too
def test_the_batch_expires_a_report_at_its_expiry_time(uow) -> None:
    number = new_id_number()
    _, card = _active_card(uow, id_number=number)
    report = report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=utcnow() - timedelta(days=1))
    assert expire_loss_reports(uow, now=report.expires_at) >= 1
    uow.session.refresh(report)
    assert report.state is LossReportState.EXPIRED

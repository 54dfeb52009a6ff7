"""Loss reports (CARD-5): oral report by hotline, formal confirmation at a counter, lapse, withdrawal.

An oral report needs only the citizen ID / social security number (the same number, ID-1) and no
password; it blocks the card at once and lapses after the policy days unless confirmed at a counter
with the ID document. Reporting loss never touches data or accounts. Every report, oral or formal,
is told to the holder on the phone and e-mail on file (CH-5), in the report's transaction.

What the hotline hears (issue 17 item 7): a number that is unknown, of another region, or without a
card that can be blocked gets one and the same refusal (``LOSS_REPORT_NO_CARD``), so the answer says
no more than the rule needs: whether this call blocked a card, and until when.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from sscard.audit import Actor, record_event
from sscard.cards.errors import LossReportInvalid, LossReportNoCard
from sscard.cards.lifecycle import (
    audit_card,
    expire_if_lapsed,
    expire_report,
    lock_card_or_raise,
    open_loss_report,
    transition,
)
from sscard.cards.models import Card, LossReport, LossReportState
from sscard.cards.notices import notify_loss_event
from sscard.cards.states import CardEvent, CardState, next_state
from sscard.cards.types import CardType, parse_card_type
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.identity import mask_id_number, parse_citizen_id
from sscard.people.models import Person
from sscard.people.service import find_person_by_id_number
from sscard.people.validation import normalise_evidence
from sscard.policy.service import loss_report_expiry_days

# Without a card type, a caller means their social security card, else their only other card.
_TYPE_PREFERENCE = (CardType.SOCIAL, CardType.MEDICAL, CardType.RURAL)


def report_loss_by_hotline(
    uow: UnitOfWork,
    *,
    id_number: str | None = None,
    ss_number: str | None = None,
    actor: Actor,
    card_type: CardType | str | None = None,
    now: datetime | None = None,
    within: Callable[[str], bool] | None = None,
) -> LossReport:
    """Block the holder's active card at once with a provisional report that lapses unless confirmed.

    ``within(region_code)`` says whether the channel may act on a person of that region (CH-2); a
    person outside is answered as an unknown number, so the hotline does not disclose existence.
    """
    number = _one_number(id_number, ss_number)
    wanted = parse_card_type(card_type) if card_type is not None else None
    now = now or utcnow()
    person = find_person_by_id_number(uow, number)
    if person is not None and within is not None and not within(person.region_code):
        person = None
    card = _blockable_card(uow, person.id, wanted, now) if person is not None else None
    if card is None or person is None:
        # Audited (the entrypoint commits it) under the masked number whatever the reason, so a caller
        # trying numbers one by one leaves a trace, and the trace does not say which reason applied.
        record_event(
            uow, actor=actor, action="card.report_loss", subject=f"id:{mask_id_number(number)}", result="no_card"
        )
        raise LossReportNoCard("no active card to report lost for this number")

    if card.state is CardState.LOSS_REPORTED:
        # Calling again is not an error: the card is already blocked, the caller hears the same expiry.
        existing = open_loss_report(uow, card.id)
        if existing is not None:
            audit_card(
                uow,
                card,
                actor=actor,
                action="card.report_loss",
                result="already_reported",
                details={"report_id": existing.id},
            )
            # Every report is told to the holder (CH-5), a repeated one too: someone called about the card.
            notify_loss_event(
                uow, person=person, card=card, event="reported", at=now, expires_at=existing.expires_at,
                channel=actor.channel.value,
            )  # fmt: skip
            return existing
    expires_at = now + timedelta(
        days=loss_report_expiry_days(uow, region_code=card.region_code, card_type=card.card_type)
    )
    report = LossReport(
        card_id=card.id,
        channel=actor.channel.value,
        state=LossReportState.PROVISIONAL,
        reported_at=now,
        expires_at=expires_at,
        reported_by=actor.id[:64],
    )
    uow.session.add(report)
    uow.flush()
    transition(
        uow,
        card,
        CardEvent.REPORT_LOSS,
        actor=actor,
        now=now,
        details={"report_id": report.id, "provisional": True, "expires_at": expires_at.isoformat()},
    )
    # CH-5: the holder hears of it on the phone and e-mail on file, queued in this transaction.
    notify_loss_event(
        uow, person=person, card=card, event="reported", at=now, expires_at=expires_at, channel=actor.channel.value
    )
    return report


def _one_number(id_number: str | None, ss_number: str | None) -> str:
    given = [n.strip() for n in (id_number, ss_number) if n and n.strip()]
    if not given:
        raise LossReportInvalid("give id_number or ss_number")
    # The social security number IS the citizen ID number (ID-1): two given must be the same person.
    numbers = {parse_citizen_id(n).number for n in given}
    if len(numbers) > 1:
        raise LossReportInvalid("id_number and ss_number differ; give one of them")
    return numbers.pop()


def _blockable_card(uow: UnitOfWork, person_id: int, wanted: CardType | None, now: datetime) -> Card | None:
    cards = uow.session.scalars(
        select(Card)
        .where(Card.person_id == person_id, Card.state.in_([CardState.ACTIVE, CardState.LOSS_REPORTED]))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    by_type = {c.card_type: c for c in cards}  # CARD-2: at most one live card per type
    for ctype in (wanted,) if wanted is not None else _TYPE_PREFERENCE:
        if ctype in by_type:
            card = by_type[ctype]
            report = open_loss_report(uow, card.id)
            if report is not None and report.expires_at is not None and report.expires_at <= now:
                expire_report(uow, report, card, now=now)  # a lapsed report: block afresh
            return card
    return None


def confirm_loss(
    uow: UnitOfWork, *, card_no: str, actor: Actor, evidence: str, now: datetime | None = None
) -> LossReport:
    """Make a loss formal at a counter after checking the ID document (CARD-1, CARD-5, CH-2)."""
    note = normalise_evidence(evidence)
    now = now or utcnow()
    card = lock_card_or_raise(uow, card_no, now=now)
    next_state(card.state, CardEvent.CONFIRM_LOSS)  # names the illegal transition before anything is written
    report = open_loss_report(uow, card.id) if card.state is CardState.LOSS_REPORTED else None
    if report is None:
        # Formal report straight at the counter, without a hotline call first.
        report = LossReport(card_id=card.id, channel=actor.channel.value, reported_at=now, reported_by=actor.id[:64])
        uow.session.add(report)
    report.state = LossReportState.CONFIRMED
    report.confirmed_at = now
    report.confirmed_by = actor.id[:64]
    report.evidence = note
    uow.flush()
    transition(
        uow, card, CardEvent.CONFIRM_LOSS, actor=actor, now=now, details={"evidence": note, "report_id": report.id}
    )
    person = uow.session.get(Person, card.person_id)
    if person is not None:  # CH-5: a formal loss report is told to the holder as well
        notify_loss_event(uow, person=person, card=card, event="confirmed", at=now, channel=actor.channel.value)
    return report


def withdraw_loss(uow: UnitOfWork, *, card_no: str, actor: Actor, evidence: str, now: datetime | None = None) -> Card:
    """The holder found the card: close the provisional report and unblock it (counter, ID checked)."""
    note = normalise_evidence(evidence)
    now = now or utcnow()
    card = lock_card_or_raise(uow, card_no, now=now)
    report = open_loss_report(uow, card.id)
    if report is not None:
        report.state = LossReportState.WITHDRAWN
        report.closed_at = now
    details = {"evidence": note, "report_id": report.id if report is not None else None}
    return transition(uow, card, CardEvent.WITHDRAW_LOSS, actor=actor, now=now, details=details)


def expire_loss_reports(uow: UnitOfWork, *, now: datetime, batch: int = 500) -> int:
    """Batch: expire every provisional report whose policy days have passed; returns how many."""
    expired = 0
    last_id = 0
    while True:
        due = uow.session.execute(
            select(LossReport.id, LossReport.card_id)
            .where(
                LossReport.state == LossReportState.PROVISIONAL,
                LossReport.expires_at <= now,
                LossReport.id > last_id,
            )
            .order_by(LossReport.id)
            .limit(batch)
        ).all()
        if not due:
            return expired
        for report_id, card_id in due:
            last_id = report_id
            # Lock, then decide: a counter may have confirmed the report since it was selected.
            card = uow.session.scalar(
                select(Card).where(Card.id == card_id).with_for_update().execution_options(populate_existing=True)
            )
            if card is not None and expire_if_lapsed(uow, card, now=now):
                expired += 1

"""Rules that no card test pinned down before issue 26: every transition has its own audit entry (cancel
and the deceased path included), and a hotline report's expiry comes from the card's regional policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sscard.audit import Actor, Channel
from sscard.audit.models import AuditEntry
from sscard.audit.service import verify_chain
from sscard.cards.models import CloseReason
from sscard.cards.person_status import set_person_status
from sscard.cards.service import (
    activate_card,
    cancel_card,
    confirm_loss,
    expire_loss_reports,
    get_card_or_raise,
    issue_card,
    report_loss_by_hotline,
)
from sscard.cards.states import CardState
from sscard.db.base import utcnow
from sscard.policy.service import set_policy
from tests.people.factories import CALLER, CLERK, add_test_person, new_id_number
from tests.staff.factories import ensure_region

ADMIN = Actor(kind="staff", id="admin1", channel=Channel.ADMIN, role="administrator", region="000000")
SHORT_REGION = "140903"  # a region of its own: its policy keeps provisional reports 3 days


def _entries(uow, card) -> list[tuple[str, str]]:
    rows = uow.session.execute(
        select(AuditEntry.action, AuditEntry.details).where(AuditEntry.subject.like("card:%")).order_by(AuditEntry.id)
    ).all()
    return [(a, d) for a, d in rows if f'"card_id":{card.id},' in d]


def _actions(uow, card) -> list[str]:
    return [a for a, _ in _entries(uow, card)]


# rule CARD-1 / CH-4: a cancel is a transition of its own, audited with its reason, from every live state
@pytest.mark.parametrize("state", ["issued", "active", "loss_reported", "lost"])
def test_a_cancel_writes_its_own_audit_entry(uow, state: str) -> None:
    number = new_id_number()
    person = add_test_person(uow, id_number=number)
    card = issue_card(uow, person_id=person.id, card_type="social", actor=CLERK)
    if state != "issued":
        activate_card(uow, card_no=card.card_no, actor=CLERK)
    if state in ("loss_reported", "lost"):
        report_loss_by_hotline(uow, id_number=number, actor=CALLER)
    if state == "lost":
        confirm_loss(uow, card_no=card.card_no, actor=CLERK, evidence="ID card")
    before = _actions(uow, card)
    cancel_card(uow, card_no=card.card_no, actor=CLERK, reason=CloseReason.HOLDER_REQUEST)
    after = _entries(uow, card)
    assert [a for a, _ in after] == [*before, "card.cancel"]
    details = after[-1][1]
    assert f'"from":"{state}"' in details and '"to":"cancelled"' in details and '"reason":"holder_request"' in details
    assert get_card_or_raise(uow, card.card_no).state is CardState.CANCELLED
    assert verify_chain(uow).ok


# rule CARD-1 / CH-4: a deceased holder's live cards are each cancelled, each with its own entry
def test_the_deceased_path_audits_each_cancelled_card(uow) -> None:
    number = new_id_number()
    person = add_test_person(uow, id_number=number)
    social = issue_card(uow, person_id=person.id, card_type="social", actor=CLERK)
    activate_card(uow, card_no=social.card_no, actor=CLERK)
    report_loss_by_hotline(uow, id_number=number, actor=CALLER)  # a blocked card is live: cancelled too
    medical = issue_card(uow, person_id=person.id, card_type="medical", actor=CLERK)
    before = {c.id: _actions(uow, c) for c in (social, medical)}

    set_person_status(uow, person_id=person.id, status="deceased", actor=CLERK)

    for card in (social, medical):
        after = _entries(uow, card)
        assert [a for a, _ in after] == [*before[card.id], "card.cancel"], card.card_type
        assert '"reason":"holder_deceased"' in after[-1][1] and '"to":"cancelled"' in after[-1][1]
        assert get_card_or_raise(uow, card.card_no).state is CardState.CANCELLED
    person_entry = uow.session.scalar(
        select(AuditEntry.details)
        .where(AuditEntry.action == "person.set_status", AuditEntry.details.contains('"cards_cancelled":2'))
        .order_by(AuditEntry.id.desc())
    )
    assert person_entry is not None
    assert verify_chain(uow).ok


# rule CARD-5 (POL): the provisional report lapses after the days of the card's regional policy, not the
# national default of 5
def test_the_hotline_report_expiry_comes_from_the_cards_region_policy(uow) -> None:
    ensure_region(uow, SHORT_REGION)
    set_policy(uow, region_code=SHORT_REGION, values={"loss_report_expiry_days": 3}, reason="short", actor=ADMIN)
    number = new_id_number(region=SHORT_REGION)
    person = add_test_person(uow, id_number=number)
    card = issue_card(uow, person_id=person.id, card_type="social", actor=CLERK)
    activate_card(uow, card_no=card.card_no, actor=CLERK)
    assert card.region_code == SHORT_REGION
    now = utcnow().replace(microsecond=0)

    report = report_loss_by_hotline(uow, id_number=number, actor=CALLER, now=now)
    assert report.expires_at == now + timedelta(days=3)
    entry = _entries(uow, card)[-1][1]
    assert (now + timedelta(days=3)).isoformat() in entry  # the transition's audit says the same expiry

    expire_loss_reports(uow, now=now + timedelta(days=3) - timedelta(seconds=1))
    assert get_card_or_raise(uow, card.card_no).state is CardState.LOSS_REPORTED  # not lapsed yet
    expire_loss_reports(uow, now=now + timedelta(days=3, seconds=1))
    assert get_card_or_raise(uow, card.card_no).state is CardState.ACTIVE  # lapsed on day 3, not day 5

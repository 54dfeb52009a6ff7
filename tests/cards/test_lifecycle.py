"""Card lifecycle on SQLite and PostgreSQL (CARD-1..CARD-4, CARD-6, CH-4)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from sscard.audit.models import AuditEntry
from sscard.audit.service import count_entries, verify_chain
from sscard.cards.errors import (
    CardBlocked,
    CardIllegalTransition,
    CardInputInvalid,
    CardLiveExists,
    CardNotActive,
    CardNotFound,
    CardSpecInvalid,
    CardTypeInvalid,
)
from sscard.cards.models import Card, CardSerial, CloseReason
from sscard.cards.numbers import is_card_no
from sscard.cards.person_status import set_person_status
from sscard.cards.schemas import CardRead
from sscard.cards.service import (
    activate_card,
    apply_for_card,
    cancel_card,
    confirm_loss,
    get_card_or_raise,
    get_usable_card_or_raise,
    issue_card,
    list_cards_of_person,
    replace_card,
)
from sscard.cards.states import CardState
from sscard.cards.types import CardMedium, CardType
from sscard.people.errors import PersonDeceased, PersonNotFound
from tests.people.factories import CLERK, add_test_person


def _count(uow, model) -> int:
    return uow.session.scalar(select(func.count()).select_from(model))


def _actions(uow, card: Card) -> list[str]:
    stmt = select(AuditEntry.action, AuditEntry.details).where(AuditEntry.subject == f"card:{card.card_no[:5]}****")
    return [a for a, d in uow.session.execute(stmt.order_by(AuditEntry.id)) if f'"card_id":{card.id},' in d]


# rule CARD-1: issue → activate, each step audited with actor and channel
def test_issue_and_activate(uow) -> None:
    person = add_test_person(uow)
    card = issue_card(uow, person_id=person.id, actor=CLERK)
    assert is_card_no(card.card_no) and card.state is CardState.ISSUED
    assert (card.card_type, card.generation, card.medium) == (CardType.SOCIAL, 3, CardMedium.DUAL_INTERFACE)
    assert card.region_code == person.region_code and card.issued_at is not None
    with pytest.raises(CardNotActive) as exc:  # rule CARD-4
        get_usable_card_or_raise(uow, card.card_no)
    assert exc.value.code == "CARD_NOT_ACTIVE"
    activate_card(uow, card_no=card.card_no.lower(), actor=CLERK)
    assert get_usable_card_or_raise(uow, card.card_no).state is CardState.ACTIVE
    assert _actions(uow, card) == ["card.apply", "card.issue", "card.personalise", "card.activate"]  # CARD-7
    entry = uow.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "card.activate").order_by(AuditEntry.id.desc())
    )
    assert (entry.actor_id, entry.channel, entry.role) == ("clerk1", "counter", "counter_clerk")
    assert card.card_no not in entry.subject and entry.subject.endswith("****")
    assert verify_chain(uow).ok


# rule CARD-1: an application can be issued later; issuing again finds it
def test_apply_then_issue(uow) -> None:
    person = add_test_person(uow)
    applied = apply_for_card(uow, person_id=person.id, card_type="medical", actor=CLERK)
    assert applied.state is CardState.APPLIED
    issued = issue_card(uow, person_id=person.id, card_type="medical", actor=CLERK)
    assert issued.id == applied.id and issued.state is CardState.ISSUED


# rule CARD-2: at most one live card per person per type; other types are independent
def test_one_live_card_per_type(uow) -> None:
    person = add_test_person(uow)
    social = issue_card(uow, person_id=person.id, actor=CLERK)
    serials, cards, audits = _count(uow, CardSerial), _count(uow, Card), count_entries(uow)
    with pytest.raises(CardLiveExists) as exc:
        issue_card(uow, person_id=person.id, card_type="social", actor=CLERK)
    assert exc.value.status == 409 and social.card_no not in exc.value.detail
    with pytest.raises(CardLiveExists):
        apply_for_card(uow, person_id=person.id, actor=CLERK)
    assert (_count(uow, CardSerial), _count(uow, Card), count_entries(uow)) == (serials, cards, audits)
    rural = issue_card(uow, person_id=person.id, card_type="rural", actor=CLERK)
    assert rural.card_no != social.card_no and rural.card_type is CardType.RURAL


# rule CARD-2: the database itself refuses a second live card of a type (partial unique index)
def test_live_card_index_in_database(uow) -> None:
    person = add_test_person(uow)
    card = issue_card(uow, person_id=person.id, actor=CLERK)
    twin = Card(
        card_no="Z99999998",
        person_id=person.id,
        card_type=CardType.SOCIAL,
        medium=CardMedium.CONTACT,
        state=CardState.ACTIVE,
        region_code=card.region_code,
    )
    with pytest.raises(IntegrityError), uow.session.begin_nested():
        uow.session.add(twin)
    # A final-state card does not count: history may hold many.
    closed = Card(
        card_no="Z99999997",
        person_id=person.id,
        card_type=CardType.SOCIAL,
        medium=CardMedium.CONTACT,
        state=CardState.CANCELLED,
        region_code=card.region_code,
    )
    with uow.session.begin_nested():
        uow.session.add(closed)


# rule CARD-2: replacement gets a new number and the old card is invalid for every use
def test_replacement(uow) -> None:
    person = add_test_person(uow)
    old = issue_card(uow, person_id=person.id, actor=CLERK)
    activate_card(uow, card_no=old.card_no, actor=CLERK)
    confirm_loss(uow, card_no=old.card_no, actor=CLERK, evidence="resident ID card checked")
    new = replace_card(uow, card_no=old.card_no, actor=CLERK)
    assert new.card_no != old.card_no and new.replaces_card_id == old.id
    assert new.state is CardState.ISSUED and new.card_type is old.card_type
    old = get_card_or_raise(uow, old.card_no)
    assert old.state is CardState.REPLACED and old.close_reason is CloseReason.REPLACED and old.closed_at
    with pytest.raises(CardBlocked) as exc:
        get_usable_card_or_raise(uow, old.card_no)
    assert exc.value.code == "CARD_BLOCKED"
    for op in (activate_card, replace_card):
        with pytest.raises(CardIllegalTransition):
            op(uow, card_no=old.card_no, actor=CLERK)
    with pytest.raises(CardIllegalTransition):
        cancel_card(uow, card_no=old.card_no, actor=CLERK)
    assert _actions(uow, old)[-2:] == ["card.replace", "card.replaced_by"]
    assert [c.id for c in list_cards_of_person(uow, person_id=person.id, live_only=True)] == [new.id]
    assert verify_chain(uow).ok


# rule CARD-2: exchanging a damaged active card; a provisional report must be confirmed first
def test_replace_from_active_and_not_from_provisional(uow) -> None:
    person = add_test_person(uow)
    card = issue_card(uow, person_id=person.id, actor=CLERK, generation=2, financial=True, bank_code="ICBC")
    with pytest.raises(CardIllegalTransition) as exc:
        replace_card(uow, card_no=card.card_no, actor=CLERK)  # issued, never activated
    assert (exc.value.from_state, exc.value.to_state) == ("issued", "replaced")
    activate_card(uow, card_no=card.card_no, actor=CLERK)
    new = replace_card(uow, card_no=card.card_no, actor=CLERK)
    # The replacement is a current-generation card keeping the bank side (CARD-3, CARD-6).
    assert (new.generation, new.financial, new.bank_code, new.medium) == (3, True, "ICBC", CardMedium.DUAL_INTERFACE)


# rule CARD-1: cancellation, with a reason; final afterwards
def test_cancel(uow) -> None:
    person = add_test_person(uow)
    card = issue_card(uow, person_id=person.id, actor=CLERK)
    with pytest.raises(CardInputInvalid):
        cancel_card(uow, card_no=card.card_no, actor=CLERK, reason="replaced")
    with pytest.raises(CardInputInvalid):
        cancel_card(uow, card_no=card.card_no, actor=CLERK, reason="bored")
    cancel_card(uow, card_no=card.card_no, actor=CLERK, reason="issued_in_error")
    assert get_card_or_raise(uow, card.card_no).state is CardState.CANCELLED
    with pytest.raises(CardIllegalTransition):
        cancel_card(uow, card_no=card.card_no, actor=CLERK)
    again = issue_card(uow, person_id=person.id, actor=CLERK)  # CARD-2: a cancelled card frees the slot
    assert again.state is CardState.ISSUED


# rule CARD-1 / PER-1: a deceased holder's cards are all cancelled, and no new card is issued
def test_deceased_cancels_cards(uow) -> None:
    person = add_test_person(uow)
    social = issue_card(uow, person_id=person.id, actor=CLERK)
    activate_card(uow, card_no=social.card_no, actor=CLERK)
    rural = issue_card(uow, person_id=person.id, card_type="rural", actor=CLERK)
    set_person_status(uow, person_id=person.id, status="deceased", actor=CLERK)
    for card in (social, rural):
        card = get_card_or_raise(uow, card.card_no)
        assert card.state is CardState.CANCELLED and card.close_reason is CloseReason.HOLDER_DECEASED
    with pytest.raises(PersonDeceased):
        issue_card(uow, person_id=person.id, card_type="medical", actor=CLERK)
    entry = uow.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "person.set_status").order_by(AuditEntry.id.desc())
    )
    assert '"cards_cancelled":2' in entry.details
    assert verify_chain(uow).ok


# Bad input: unknown cards, persons and types; nothing written
def test_bad_input(uow) -> None:
    person = add_test_person(uow)
    cards, serials, audits = _count(uow, Card), _count(uow, CardSerial), count_entries(uow)
    for number in ("A00000000", "not-a-card", "", "I12345678"):
        with pytest.raises(CardNotFound) as exc:
            get_card_or_raise(uow, number)
        assert exc.value.code == "CARD_NOT_FOUND"
        with pytest.raises(CardNotFound):
            activate_card(uow, card_no=number, actor=CLERK)
    with pytest.raises(PersonNotFound):
        issue_card(uow, person_id=10**9, actor=CLERK)
    with pytest.raises(CardTypeInvalid):
        issue_card(uow, person_id=person.id, card_type="platinum", actor=CLERK)
    with pytest.raises(CardSpecInvalid):
        issue_card(uow, person_id=person.id, card_type="rural", actor=CLERK, financial=True)
    assert (_count(uow, Card), _count(uow, CardSerial), count_entries(uow)) == (cards, serials, audits)


# rule CARD-3 / CARD-6: the read model says what is on the card
def test_card_read(uow) -> None:
    person = add_test_person(uow)
    card = issue_card(uow, person_id=person.id, actor=CLERK, generation=2, financial=True, bank_code="boc")
    read = CardRead.of(card)
    assert read.applications == ["hrss", "financial"] and read.magstripe and read.bank_code == "BOC"
    assert read.card_no_masked == card.card_no[:5] + "****"

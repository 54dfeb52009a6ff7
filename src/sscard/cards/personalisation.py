"""The card's personalisation record (CARD-7, seeds 000 and 001).

The card face and the chip both carry the holder's name, gender and social security number (= the
citizen ID number). When a card is issued — a first card or a replacement — the record keeps exactly
what was personalised: name, gender, citizen ID, the card number on the face, the chip's serial, the
date and the personalisation bureau. It is written from the person record as it is at that moment, so
a replacement after a correction carries the corrected data while the old card's record keeps what
the old card shows.

A counter checks a presented card (what it reads from the chip and sees on the face) against the
record, field by field: the answer names each field as matching or not and shows the recorded value
masked only (ID-5); the check is audited with the fields' names, never their values (CH-4).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from sscard.audit import Actor
from sscard.cards.errors import CardInputInvalid, PersonalisationNotRecorded
from sscard.cards.lifecycle import audit_card, get_card_or_raise
from sscard.cards.models import Card, CardPersonalisation
from sscard.cards.numbers import mask_card_no, normalise_card_no
from sscard.db.base import china_today
from sscard.db.session import UnitOfWork
from sscard.errors import DomainError
from sscard.identity import parse_citizen_id
from sscard.identity.masking import mask_id_number, mask_name
from sscard.identity.protected import ID_NUMBER, NAME, RowBinding
from sscard.people.models import Person
from sscard.people.validation import normalise_gender, normalise_name

FIELDS = ("name", "gender", "id_number", "card_no", "chip_serial")


def bureau_of(region_code: str) -> str:
    """The personalisation bureau of a region: its province's card centre (制卡中心)."""
    return f"{region_code[:2]}0000 社会保障卡制卡中心"


def record_row(column: str, card_no: str) -> RowBinding:
    """The record a sealed value belongs to: its card's number (one record per card; ID-5 integrity at rest,
    so a value copied from another card's record fails on read)."""
    return RowBinding("card_personalisation", column, card_no.encode())


def record_personalisation(
    uow: UnitOfWork, *, card: Card, person: Person, actor: Actor, bureau: str | None = None
) -> CardPersonalisation:
    """Keep what is personalised on ``card`` from the person record as it is now (CARD-7); audited."""
    record = CardPersonalisation(
        card_id=card.id,
        name_enc=NAME.seal(person.name, row=record_row("name_enc", card.card_no)),
        gender=person.gender,
        id_number_enc=ID_NUMBER.seal(person.id_number, row=record_row("id_number_enc", card.card_no)),
        card_no=card.card_no,
        chip_serial=secrets.token_hex(8).upper(),
        personalised_on=china_today(),
        bureau=(bureau or bureau_of(card.region_code))[:64],
    )
    uow.session.add(record)
    uow.flush()
    audit_card(
        uow,
        card,
        actor=actor,
        action="card.personalise",
        details={"chip_serial": record.chip_serial, "bureau": record.bureau, "on": record.personalised_on.isoformat()},
    )
    return record


def personalisation_of(uow: UnitOfWork, *, card_id: int) -> CardPersonalisation | None:
    return uow.session.scalar(select(CardPersonalisation).where(CardPersonalisation.card_id == card_id))


def get_personalisation_or_raise(uow: UnitOfWork, card: Card) -> CardPersonalisation:
    record = personalisation_of(uow, card_id=card.id)
    if record is None:
        raise PersonalisationNotRecorded(f"card {mask_card_no(card.card_no)} has no personalisation record")
    return record


@dataclass(frozen=True, slots=True)
class FieldCheck:
    field: str
    match: bool
    recorded_masked: str


@dataclass(frozen=True, slots=True)
class PersonalisationCheck:
    card_no_masked: str
    matches: bool
    fields: list[FieldCheck]
    chip_serial: str
    personalised_on: Any
    bureau: str
    # Fields where the person record has changed since personalisation (a replacement carries them).
    person_changed: list[str]


def _normalised(field: str, value: str) -> str:
    """The presented value in the form the record keeps; unreadable input never matches."""
    try:
        if field == "name":
            return normalise_name(value)
        if field == "gender":
            return normalise_gender(value)
        if field == "id_number":
            return parse_citizen_id(value).number
    except DomainError:
        return "\x00unreadable"
    if field == "card_no":
        return normalise_card_no(value)
    return "".join(value.split()).upper()


def _recorded(record: CardPersonalisation) -> dict[str, tuple[str, str]]:
    """Each field's recorded value and its masked form."""
    name = NAME.open(record.name_enc, row=record_row("name_enc", record.card_no))
    id_number = ID_NUMBER.open(record.id_number_enc, row=record_row("id_number_enc", record.card_no))
    return {
        "name": (name, mask_name(name)),
        "gender": (record.gender, record.gender),
        "id_number": (id_number, mask_id_number(id_number)),
        "card_no": (record.card_no, mask_card_no(record.card_no)),
        "chip_serial": (record.chip_serial, record.chip_serial),
    }


def check_presented_card(
    uow: UnitOfWork, *, card_no: str, presented: dict[str, str | None], person: Person, actor: Actor
) -> PersonalisationCheck:
    """Compare what a presented card carries with the record of ``card_no`` field by field (CARD-7)."""
    given = {f: v for f, v in presented.items() if f in FIELDS and v is not None and str(v).strip()}
    if not given:
        raise CardInputInvalid(f"give at least one of {', '.join(FIELDS)} as read from the card")
    card = get_card_or_raise(uow, card_no)
    record = get_personalisation_or_raise(uow, card)
    recorded = _recorded(record)
    checks = [
        FieldCheck(field=f, match=_normalised(f, str(given[f])) == recorded[f][0], recorded_masked=recorded[f][1])
        for f in FIELDS
        if f in given
    ]
    current = {"name": person.name, "gender": person.gender, "id_number": person.id_number}
    changed = [f for f, value in current.items() if recorded[f][0] != value]
    mismatches = [c.field for c in checks if not c.match]
    audit_card(
        uow,
        card,
        actor=actor,
        action="card.personalisation_check",
        details={"checked": [c.field for c in checks], "mismatches": mismatches, "person_changed": changed},
        result="ok" if not mismatches else "mismatch",
    )
    return PersonalisationCheck(
        card_no_masked=mask_card_no(card.card_no),
        matches=not mismatches,
        fields=checks,
        chip_serial=record.chip_serial,
        personalised_on=record.personalised_on,
        bureau=record.bureau,
        person_changed=changed,
    )

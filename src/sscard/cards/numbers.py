"""Card numbers: a letter and 8 digits, derived one-to-one from a database-allocated serial.

Uniqueness does not rest on chance: every number comes from a distinct serial (an identity column
the database hands out once), the mapping serial → number is injective, and ``card.card_no`` is
unique in the schema as the last line of defence.
"""

from __future__ import annotations

import re

from sqlalchemy import insert

from sscard.cards.errors import CardNumbersExhausted
from sscard.cards.models import CardSerial
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork

# No I or O: on a card face and over the phone they are read as 1 and 0.
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
BLOCK = 10**8
CAPACITY = len(LETTERS) * BLOCK
CARD_NO = re.compile(r"^[A-HJ-NP-Z][0-9]{8}$")


def format_card_no(serial: int) -> str:
    """The card number of ``serial`` (1 → ``A00000001``); injective over 1 ≤ serial < CAPACITY."""
    if not 1 <= serial < CAPACITY:
        raise CardNumbersExhausted(f"serial {serial} is outside the card number space")
    return f"{LETTERS[serial // BLOCK]}{serial % BLOCK:08d}"


def is_card_no(value: str) -> bool:
    return bool(CARD_NO.match(value))


def normalise_card_no(raw: str) -> str:
    """Upper-cased, spaces removed; validity is checked by ``is_card_no``."""
    return "".join((raw or "").split()).upper()


def mask_card_no(card_no: str) -> str:
    """``A1234****``: enough to recognise one's own card, not to use someone else's."""
    return card_no[:5] + "*" * max(0, len(card_no) - 5)


def card_no_tail(card_no: str) -> str:
    """``*****6789``: the last four, so a holder tells their own cards apart (the portal's list)."""
    return "*" * max(0, len(card_no) - 4) + card_no[-4:]


def allocate_card_no(uow: UnitOfWork) -> str:
    """Take the next serial from the database and turn it into a card number."""
    serial = uow.session.execute(insert(CardSerial).values(allocated_at=utcnow()).returning(CardSerial.id)).scalar_one()
    return format_card_no(int(serial))

"""Cards, their loss reports and the card-number serial (CARD-1..CARD-6)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Date, Enum, ForeignKey, Index, LargeBinary, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sscard.cards.states import LIVE_STATES, CardState
from sscard.cards.types import CardMedium, CardType
from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


def _enum(cls: type[StrEnum], length: int = 16) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class CloseReason(StrEnum):
    REPLACED = "replaced"
    HOLDER_DECEASED = "holder_deceased"
    HOLDER_REQUEST = "holder_request"
    ISSUED_IN_ERROR = "issued_in_error"


class LossReportState(StrEnum):
    PROVISIONAL = "provisional"  # oral report: card blocked until confirmed or expired (CARD-5)
    CONFIRMED = "confirmed"  # formal loss at a counter with the ID document
    EXPIRED = "expired"  # not confirmed within the policy days: the card is active again
    WITHDRAWN = "withdrawn"  # the holder found the card
    CLOSED = "closed"  # the card was cancelled while the report was open


_LIVE_SQL = "state IN ({})".format(", ".join(f"'{s.value}'" for s in sorted(LIVE_STATES)))


class CardSerial(Base):
    """One row per card number ever allocated; the identity column makes every number distinct."""

    __tablename__ = "card_serial"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    allocated_at: Mapped[datetime]


class Card(Base):
    __tablename__ = "card"
    __table_args__ = (
        # CARD-2 in the database itself: at most one live card per person and card type, on both
        # backends (a partial unique index), so even two racing transactions cannot both commit one.
        Index(
            "uq_card_live_person_type",
            "person_id",
            "card_type",
            unique=True,
            sqlite_where=text(_LIVE_SQL),
            postgresql_where=text(_LIVE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    card_no: Mapped[str] = mapped_column(String(9), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    card_type: Mapped[CardType] = mapped_column(_enum(CardType))
    generation: Mapped[int | None] = mapped_column(SmallInteger)
    financial: Mapped[bool] = mapped_column(Boolean, default=False)
    bank_code: Mapped[str | None] = mapped_column(String(16))
    medium: Mapped[CardMedium] = mapped_column(_enum(CardMedium))
    magstripe: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[CardState] = mapped_column(_enum(CardState), default=CardState.APPLIED)
    # Issuing region (the holder's region at issue): selects policy (POL) and scopes counter staff.
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    replaces_card_id: Mapped[int | None] = mapped_column(ForeignKey("card.id"))
    close_reason: Mapped[CloseReason | None] = mapped_column(_enum(CloseReason, 32))
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"Card(id={self.id}, no={self.card_no[:5]}****, type={self.card_type}, state={self.state})"


class LossReport(Base):
    __tablename__ = "card_loss_report"
    __table_args__ = (
        # One open (provisional) report per card; the expiry batch scans by (state, expires_at).
        Index(
            "uq_card_loss_report_open",
            "card_id",
            unique=True,
            sqlite_where=text("state = 'provisional'"),
            postgresql_where=text("state = 'provisional'"),
        ),
        Index("ix_card_loss_report_state_expires", "state", "expires_at"),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[LossReportState] = mapped_column(_enum(LossReportState))
    reported_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]  # None for a report made formally at a counter
    reported_by: Mapped[str] = mapped_column(String(64))
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    # CH-2: which identity document the counter checked (masked free text, never a full ID).
    evidence: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None]

    card: Mapped[Card] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"LossReport(id={self.id}, card_id={self.card_id}, state={self.state})"


class CardPersonalisation(Base):
    """CARD-7: what was personalised on the card's face and in its chip, kept as it was printed.

    Name and citizen ID number are sealed (ID-5) like the person's own; the record never changes after
    issue, so a later correction of the person shows as a difference and a replacement takes the
    corrected data."""

    __tablename__ = "card_personalisation"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), unique=True)
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    gender: Mapped[str] = mapped_column(String(1))
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    card_no: Mapped[str] = mapped_column(String(9))  # the number printed on the face
    chip_serial: Mapped[str] = mapped_column(String(32), unique=True)  # the chip's serial (its unique id)
    personalised_on: Mapped[date] = mapped_column(Date)
    bureau: Mapped[str] = mapped_column(String(64))  # the personalisation bureau (制卡中心)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:  # never the name or the number
        return f"CardPersonalisation(card_id={self.card_id}, chip={self.chip_serial}, on={self.personalised_on})"

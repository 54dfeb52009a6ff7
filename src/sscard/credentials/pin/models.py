"""The card PIN state (PIN-1, PIN-2, PIN-5, PIN-8, PIN-11).

One row per card, created lazily the first time a card's PIN is used wrongly or changed: a card
whose PIN was never touched has no row at all and its initial PIN is derived by policy rule at
verification time (PIN-1), so issuing a million cards writes no credential row.

Only a keyed verification value computed inside the security module is kept (PIN-11), with the
key version that computed it. ``pvv`` empty means the PIN is **not enabled** (PIN-2).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, LargeBinary, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow


class CardPin(Base):
    __tablename__ = "card_pin"
    __table_args__ = (
        CheckConstraint("failures >= 0", name="failures_not_negative"),
        CheckConstraint("(pvv IS NULL) = (pvk_version IS NULL)", name="pvv_has_key_version"),
    )

    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), primary_key=True, autoincrement=False)
    # PIN-2: NULL = not enabled (the initial PIN, derived by rule, applies and no PIN is required).
    pvv: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    pvk_version: Mapped[int | None] = mapped_column(SmallInteger)
    # PIN-5: consecutive failures across every channel; only ever changed by single atomic statements.
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked_at: Mapped[datetime | None]
    # PIN-8: the state before the holder's last change, so a counter can restore it after a failed
    # modification. ``restorable`` is false once restored, reset or cancelled.
    restorable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    prior_pvv: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    prior_pvk_version: Mapped[int | None] = mapped_column(SmallInteger)
    changed_at: Mapped[datetime | None]
    changed_channel: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:  # never the verification value
        return f"CardPin(card_id={self.card_id}, enabled={self.pvv is not None}, failures={self.failures})"

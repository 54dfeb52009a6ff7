"""The RMB debit account of a financial card (FIN-2, FIN-3).

``debit_account`` links a card (issued through a bank, with the financial function) to its holder's
ledger account of kind ``debit`` (never negative) through the issuing bank (``bank_code``, FIN-3). The
money itself lives in the ledger; this row says which card and bank it belongs to and who opened it.
A replacement card of the same holder links to the same ledger account (one debit account a person).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class DebitAccount(Base):
    __tablename__ = "debit_account"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    bank_code: Mapped[str] = mapped_column(String(16))
    ledger_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_account.id"), index=True)
    opened_by: Mapped[str] = mapped_column(String(64))  # the bank clerk's username
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"DebitAccount(id={self.id}, card_id={self.card_id}, bank={self.bank_code})"

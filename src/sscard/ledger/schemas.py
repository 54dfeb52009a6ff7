"""What the ledger shows outside: balances and movements."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel


class MovementRead(BaseModel):
    posting_id: int
    kind: str
    business_date: date
    amount_fen: int
    reversal: bool


class AccountRead(BaseModel):
    account_id: int
    kind: str
    balance_fen: int

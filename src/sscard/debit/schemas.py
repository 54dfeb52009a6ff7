"""Wire models of the debit routes (FIN-2). Amounts are integer fen (StrictInt: "12.5" or 12.5 is refused)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from sscard.credentials.pin.schemas import CARD_NO_FIELD, PIN_BLOCK_PATTERN
from sscard.settlement.schemas import TXN_ID_PATTERN

AMOUNT_FIELD = Field(description="Integer fen, 1 .. 1,000,000,000.", examples=[50_000])


class AmountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_fen: StrictInt = AMOUNT_FIELD


class TransferIn(AmountIn):
    to_card_no: str = CARD_NO_FIELD


class DebitAccountOut(BaseModel):
    account_id: int
    bank_code: str
    balance_fen: int


class MovementOut(BaseModel):
    posting_id: int
    amount_fen: int
    balance_fen: int


class ConsumptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_no: str = CARD_NO_FIELD
    amount_fen: StrictInt = AMOUNT_FIELD
    txn_id: str = Field(pattern=TXN_ID_PATTERN, description="The terminal's own transaction id (idempotency key).")
    pin_block: str | None = Field(
        default=None, pattern=PIN_BLOCK_PATTERN, description="ISO 9564 format-4 PIN block, hex (PIN-2)."
    )


class ConsumptionOut(BaseModel):
    ok: bool = True
    code: str | None = None
    txn_id: str
    amount_fen: int
    balance_fen: int
    pin_enabled: bool
    business_date: str


class HolderMovement(BaseModel):
    posting_id: int
    kind: str
    business_date: str
    amount_fen: int


class HolderDebitAccount(BaseModel):
    bank_code: str
    cards: list[str] = Field(description="The linked cards, masked.")
    balance_fen: int
    movements: list[HolderMovement] = Field(description="Newest first.")

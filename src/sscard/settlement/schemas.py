"""Wire models of the terminal settlement routes (FIN-1). PIN blocks travel as hex, never a clear PIN."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from sscard.credentials.pin.schemas import CARD_NO_FIELD, PIN_BLOCK_PATTERN

TXN_ID_PATTERN = r"^[A-Za-z0-9._-]{1,32}$"


class SettlementIn(BaseModel):
    """A payment from the medical personal account; ``partial``: pay what the account holds if less."""

    model_config = ConfigDict(extra="forbid")

    card_no: str = CARD_NO_FIELD
    amount_fen: StrictInt = Field(description="Integer fen, 1 .. 100,000,000.", examples=[2580])
    txn_id: str = Field(pattern=TXN_ID_PATTERN, description="The terminal's own transaction id (idempotency key).")
    pin_block: str | None = Field(
        default=None,
        pattern=PIN_BLOCK_PATTERN,
        description="ISO 9564 format-4 PIN block, hex; needed when the PIN is enabled (PIN-2).",
    )
    partial: StrictBool = False


class RefundIn(BaseModel):
    """A refund of a settlement of this terminal; without ``amount_fen``, all that is left to refund."""

    model_config = ConfigDict(extra="forbid")

    txn_id: str = Field(pattern=TXN_ID_PATTERN, description="The settlement's transaction id.")
    refund_txn_id: str = Field(pattern=TXN_ID_PATTERN, description="The refund's own transaction id.")
    amount_fen: StrictInt | None = None


class ReversalIn(BaseModel):
    """A same-day reversal of a settlement of this terminal (before any refund)."""

    model_config = ConfigDict(extra="forbid")

    txn_id: str = Field(pattern=TXN_ID_PATTERN, description="The settlement's transaction id.")
    reversal_txn_id: str = Field(pattern=TXN_ID_PATTERN, description="The reversal's own transaction id.")


class SettlementOut(BaseModel):
    """The answer (stored, and given again as is to the same request)."""

    ok: bool = True
    code: str | None = None
    txn_id: str
    amount_fen: int
    paid_fen: int
    remainder_fen: int = Field(description="What the account could not pay (partial payments only).")
    balance_fen: int = Field(description="The medical personal account's balance after this payment.")
    pin_enabled: bool
    business_date: str


class RefundOut(BaseModel):
    ok: bool = True
    code: str | None = None
    txn_id: str
    original_txn_id: str
    refunded_fen: int
    refundable_fen: int
    balance_fen: int
    business_date: str


class ReversalOut(BaseModel):
    ok: bool = True
    code: str | None = None
    txn_id: str
    original_txn_id: str
    reversed_fen: int
    balance_fen: int
    business_date: str

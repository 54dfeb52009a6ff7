"""How the settlement posting kinds are named to a holder (statements, portal movements)."""

from __future__ import annotations

from sscard.ledger.models import PostingKind

POSTING_KIND_LABELS: dict[str, dict[str, str]] = {
    PostingKind.SETTLEMENT.value: {"zh": "医保个人账户结算", "en": "Medical settlement"},
    PostingKind.SETTLEMENT_REFUND.value: {"zh": "医保结算退款", "en": "Medical settlement refund"},
    PostingKind.SETTLEMENT_REVERSAL.value: {"zh": "医保结算冲正", "en": "Medical settlement reversal"},
}

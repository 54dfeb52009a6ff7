"""Pure pieces of settlement (no database): the request digest and the kinds' labels (FIN-1)."""

from __future__ import annotations

from sscard.ledger.models import PostingKind
from sscard.settlement.daily import KIND_OF, SETTLEMENT_KINDS
from sscard.settlement.labels import POSTING_KIND_LABELS
from sscard.settlement.txn_store import request_digest


# rule FIN-1: "the same request" is its purpose and money-moving fields, in any order; anything else differs
def test_request_digest() -> None:
    a = request_digest("settle", card_no="A001", amount_fen=100, partial=False)
    assert a == request_digest("settle", partial=False, amount_fen=100, card_no="A001")
    assert a != request_digest("settle", card_no="A001", amount_fen=101, partial=False)
    assert a != request_digest("settle", card_no="A002", amount_fen=100, partial=False)
    assert a != request_digest("settle", card_no="A001", amount_fen=100, partial=True)
    assert a != request_digest("refund", card_no="A001", amount_fen=100, partial=False)


# rule FIN-1 (personal data at rest): the stored digest is keyed: a database reader who guesses a card
# number and amount cannot confirm the guess by hashing it
def test_request_digest_is_keyed() -> None:
    import hashlib
    import json

    fields = {"purpose": "settle", "card_no": "6217000010001234567", "amount_fen": 100, "partial": False}
    digest = request_digest("settle", card_no="6217000010001234567", amount_fen=100, partial=False)
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    assert len(digest) == 64  # fits terminal_txn.request_digest
    assert digest != hashlib.sha256(canonical).hexdigest()
    assert digest != hashlib.sha256(json.dumps(fields).encode()).hexdigest()


# rule FIN-1 / INS-4: every settlement posting kind is reconciled and named for the holder's statement
def test_every_settlement_kind_is_reconciled_and_labelled() -> None:
    kinds = {k.value for k in PostingKind if k.value.startswith("settlement")}
    assert kinds == SETTLEMENT_KINDS == set(KIND_OF.values())
    assert kinds == set(POSTING_KIND_LABELS)
    assert all(label["zh"] and label["en"] for label in POSTING_KIND_LABELS.values())

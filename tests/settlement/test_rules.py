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


# rule FIN-1: the service's own bounds on an amount (whatever the schema in front of it lets through): a whole
# number of fen from 1 to 100,000,000, never a bool; no amount (a refund of the rest) passes
def test_the_amount_bounds_of_the_service() -> None:
    import pytest

    from sscard.settlement.errors import AmountInvalid
    from sscard.settlement.service import MAX_AMOUNT_FEN, _check_amount

    assert MAX_AMOUNT_FEN == 100_000_000
    for fine in (1, 2, MAX_AMOUNT_FEN, None):
        _check_amount(fine)
    for wrong in (0, -1, MAX_AMOUNT_FEN + 1, True, False, 1.0, "1"):
        with pytest.raises(AmountInvalid) as refused:
            _check_amount(wrong, what="refund amount")  # type: ignore[arg-type]
        assert refused.value.detail == "the refund amount must be a whole number of fen from 1 to 100000000"


# rule FIN-1 / PIN-4: only designated medical institutions settle
def test_the_medical_kinds() -> None:
    from sscard.settlement.service import MEDICAL_KINDS

    assert frozenset({"hospital", "pharmacy", "clinic", "community_health_station"}) == MEDICAL_KINDS

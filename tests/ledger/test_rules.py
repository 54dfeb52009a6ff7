"""The ledger's pure rules, without a database (FIN, INS-3)."""

from __future__ import annotations

from datetime import date

import pytest

from sscard.ledger.errors import InsufficientFunds, LegInvalid, LegsUnbalanced
from sscard.ledger.rules import AccountState, LedgerReport, Leg, apply_changes, net_by_account, prove, validate_legs


# rule FIN-2: the legs of a posting sum to zero (double entry)
def test_unbalanced_legs_are_refused() -> None:
    with pytest.raises(LegsUnbalanced):
        validate_legs([Leg(1, 100), Leg(2, -99)])
    validate_legs([Leg(1, 100), Leg(2, -60), Leg(3, -40)])


@pytest.mark.parametrize(
    "legs", [[Leg(1, 0), Leg(2, 0)], [Leg(1, 5)], [Leg(1, 1.5), Leg(2, -1.5)], [Leg(1, True), Leg(2, -1)]]
)
def test_bad_legs_are_refused(legs) -> None:
    with pytest.raises(LegInvalid):
        validate_legs(legs)


# rule FIN-2: a personal account never goes below zero; a system account may
def test_non_negative_account_cannot_go_below_zero() -> None:
    changes = net_by_account([Leg(2, -150), Leg(1, 150)])
    assert list(changes) == [1, 2]  # id order: the order rows are locked in
    with pytest.raises(InsufficientFunds):
        apply_changes({1: 0, 2: 100}, changes, may_go_negative={1: True, 2: False})
    assert apply_changes({1: 0, 2: 100}, changes, may_go_negative={1: True, 2: True}) == {1: 150, 2: -50}
    assert apply_changes({1: 0, 2: 200}, changes, may_go_negative={1: False, 2: False}) == {1: 150, 2: 50}


# rule FIN-2: the ledger's proof finds each kind of discrepancy
def test_prove_names_each_discrepancy() -> None:
    postings = {1: [Leg(1, 100), Leg(2, -100)], 2: [Leg(1, 5), Leg(2, -4)], 3: []}
    accounts = [AccountState(1, 105, False), AccountState(2, -104, True), AccountState(3, -1, False)]
    report = prove(accounts, postings)
    kinds = [(d.kind, d.ref) for d in report.discrepancies]
    assert kinds == [
        ("posting_unbalanced", "posting:2"),
        ("posting_without_legs", "posting:3"),
        ("balance_mismatch", "account:3"),
        ("below_zero", "account:3"),
    ]
    assert not report.ok
    good = prove([AccountState(1, 100, False), AccountState(2, -100, True)], {1: [Leg(1, 100), Leg(2, -100)]})
    assert good.ok and good.legs == 2


# rule FIN-2 (issue 26, surviving mutants): the proof counts what it checked and says what is wrong, and
# its report reads the same as a dict (what `sscard ledger check --json` prints)
def test_prove_counts_and_explains() -> None:
    postings = {1: [Leg(1, 100), Leg(2, -100)], 2: [Leg(1, 5), Leg(2, -4)], 3: []}
    accounts = [AccountState(1, 105, False), AccountState(2, -104, True), AccountState(3, 0, False)]
    report = prove(accounts, postings)
    assert (report.postings, report.legs, report.accounts) == (3, 4, 3)
    details = {d.ref: d.detail for d in report.discrepancies}
    assert details == {"posting:2": "legs sum to 1 fen", "posting:3": "no legs"}
    as_dict = report.as_dict()
    assert as_dict["ok"] is False and (as_dict["accounts"], as_dict["postings"], as_dict["legs"]) == (3, 3, 4)
    assert as_dict["first_discrepancy"] == {"kind": "posting_unbalanced", "ref": "posting:2",
                                            "detail": "legs sum to 1 fen"}  # fmt: skip
    assert as_dict["discrepancies"][1] == {"kind": "posting_without_legs", "ref": "posting:3", "detail": "no legs"}
    good = prove([AccountState(1, 100, False), AccountState(2, -100, True)], {1: [Leg(1, 100), Leg(2, -100)]})
    assert good.as_dict() == {"ok": True, "accounts": 2, "postings": 1, "legs": 2, "carried_before": None,
                              "first_discrepancy": None, "discrepancies": []}  # fmt: skip
    assert LedgerReport(carried_before=date(2025, 7, 1)).as_dict()["carried_before"] == "2025-07-01"


# rule FIN-2 (issue 26, surviving mutants): the boundaries and what each refusal says
def test_the_boundaries_and_the_words_of_each_refusal() -> None:
    from sscard.ledger.rules import account_faults

    with pytest.raises(LegInvalid) as one_leg:
        validate_legs([Leg(1, 5)])
    assert one_leg.value.detail == "a posting needs at least two legs"  # its own words, not the class title
    with pytest.raises(LegInvalid, match="account 2: amount must be a non-zero whole number"):
        validate_legs([Leg(1, 5), Leg(2, 0)])
    with pytest.raises(LegsUnbalanced, match="the legs sum to 1 fen, not 0"):
        validate_legs([Leg(1, 100), Leg(2, -99)])
    assert dict(net_by_account([Leg(1, 30), Leg(2, -50), Leg(1, 20)])) == {1: 50, 2: -50}  # legs add up
    changes = net_by_account([Leg(2, -100), Leg(1, 100)])
    # exactly to zero is allowed on a personal account; one fen below is not
    assert apply_changes({1: 0, 2: 100}, changes, may_go_negative={1: False, 2: False}) == {1: 100, 2: 0}
    with pytest.raises(InsufficientFunds, match="account 2 would fall to -1 fen") as refused:
        apply_changes({1: 0, 2: 99}, changes, may_go_negative={1: False, 2: False})
    assert refused.value.extra == {"account_id": 2, "balance_fen": 99}  # what the problem answer carries
    assert account_faults(AccountState(7, 0, False), 0) == []  # zero is not below zero
    faults = {f.kind: f.detail for f in account_faults(AccountState(7, -3, False), 5)}
    assert faults == {"balance_mismatch": "balance -3 fen, its legs sum to 5 fen",
                      "below_zero": "balance -3 fen on a non-negative account"}  # fmt: skip

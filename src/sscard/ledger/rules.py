"""The ledger's pure rules: balanced legs, non-negative accounts, and the proof ``check`` runs.

No database here, so each rule is tested on its own (tests/ledger/test_rules.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from sscard.ledger.errors import InsufficientFunds, LegInvalid, LegsUnbalanced


@dataclass(frozen=True, slots=True)
class Leg:
    """One signed amount on one account: positive credits a personal account, negative debits it."""

    account_id: int
    amount_fen: int


def validate_legs(legs: Sequence[Leg]) -> None:
    """Refuse a posting whose legs are fewer than two, not whole non-zero fen, or do not sum to zero."""
    if len(legs) < 2:
        raise LegInvalid("a posting needs at least two legs")
    for leg in legs:
        if isinstance(leg.amount_fen, bool) or not isinstance(leg.amount_fen, int) or leg.amount_fen == 0:
            raise LegInvalid(f"leg on account {leg.account_id}: amount must be a non-zero whole number of fen")
    total = sum(leg.amount_fen for leg in legs)
    if total != 0:
        raise LegsUnbalanced(f"the legs sum to {total} fen, not 0")


def net_by_account(legs: Iterable[Leg]) -> dict[int, int]:
    """Each account's net change, accounts in id order (the order their rows are locked in)."""
    net: dict[int, int] = defaultdict(int)
    for leg in legs:
        net[leg.account_id] += leg.amount_fen
    return dict(sorted(net.items()))


def apply_changes(
    balances: Mapping[int, int], changes: Mapping[int, int], *, may_go_negative: Mapping[int, bool]
) -> dict[int, int]:
    """The new balances after ``changes``; an account that may not go negative never ends below zero."""
    after: dict[int, int] = {}
    for account_id, delta in changes.items():
        new = balances[account_id] + delta
        if new < 0 and not may_go_negative[account_id]:
            raise InsufficientFunds(
                f"account {account_id} would fall to {new} fen", account_id=account_id, balance_fen=balances[account_id]
            )
        after[account_id] = new
    return after


@dataclass(frozen=True, slots=True)
class Discrepancy:
    # posting_unbalanced | posting_without_legs | leg_misdated | balance_mismatch | below_zero |
    # leg_without_account | txn_not_posted | txn_unknown_institution | txn_unknown_card
    kind: str
    ref: str  # "posting:12" / "account:3"
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "ref": self.ref, "detail": self.detail}


@dataclass(slots=True)
class LedgerReport:
    accounts: int = 0
    postings: int = 0
    legs: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)
    carried_before: date | None = None  # the cut: older months archived, each account's balance carried

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "accounts": self.accounts,
            "postings": self.postings,
            "legs": self.legs,
            "carried_before": None if self.carried_before is None else self.carried_before.isoformat(),
            "first_discrepancy": self.discrepancies[0].as_dict() if self.discrepancies else None,
            "discrepancies": [d.as_dict() for d in self.discrepancies],
        }


@dataclass(frozen=True, slots=True)
class AccountState:
    account_id: int
    balance_fen: int
    may_go_negative: bool


def prove(accounts: Iterable[AccountState], postings: Mapping[int, Sequence[Leg]]) -> LedgerReport:
    """The ledger's proof in memory: legs of every posting sum to zero, every cached balance equals the
    sum of its legs, and no account that may not go negative is below zero (``check`` runs the same
    three in SQL, and that each leg carries its posting's business date)."""
    report = LedgerReport(postings=len(postings))
    sums: dict[int, int] = defaultdict(int)
    for posting_id in sorted(postings):
        legs = postings[posting_id]
        report.legs += len(legs)
        if not legs:
            report.discrepancies.append(Discrepancy("posting_without_legs", f"posting:{posting_id}", "no legs"))
        total = sum(leg.amount_fen for leg in legs)
        if total:
            report.discrepancies.append(
                Discrepancy("posting_unbalanced", f"posting:{posting_id}", f"legs sum to {total} fen")
            )
        for leg in legs:
            sums[leg.account_id] += leg.amount_fen
    for account in sorted(accounts, key=lambda a: a.account_id):
        report.accounts += 1
        report.discrepancies.extend(account_faults(account, sums.get(account.account_id, 0)))
    return report


def account_faults(account: AccountState, leg_sum: int) -> list[Discrepancy]:
    ref = f"account:{account.account_id}"
    faults = []
    if account.balance_fen != leg_sum:
        faults.append(
            Discrepancy("balance_mismatch", ref, f"balance {account.balance_fen} fen, its legs sum to {leg_sum} fen")
        )
    if account.balance_fen < 0 and not account.may_go_negative:
        faults.append(Discrepancy("below_zero", ref, f"balance {account.balance_fen} fen on a non-negative account"))
    return faults

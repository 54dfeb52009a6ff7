"""What a yearly statement says (INS-4), assembled from ledger legs and declarations without a database.

``assemble_statement`` is pure: the loader (``loading.py``) reads the rows, this module adds them up,
the renderer (``render.py``) lays them out. Per personal account (pension, medical):

* opening balance: every leg that counts before 1 January of the year;
* credits per month: contribution postings and their reversals netted, by the month the contribution
  is for (its declaration's period; the loader dates those legs so), so a correction, which reverses and
  re-posts, leaves in each month what finally counts, and a late declaration lands in its own month;
* interest: interest postings of the year;
* debits: every other leg of the year (medical settlements, refunds, transfers out; issue 20), signed;
* closing balance: opening + credits + interest + debits, which equals every leg counting by 31 December.

The employers and months come from the declarations of the year that were not superseded by a later
revision. ``content_digest`` is the SHA-256 of the canonical JSON of all of it plus the person's row id:
the verification code is stored with it, so a statement whose figures were altered does not verify.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

PENSION = "pension_personal"
MEDICAL = "medical_personal"
ACCOUNT_KINDS = (PENSION, MEDICAL)

# The languages a statement is printed in, and whom it is for: here rather than in render.py, so that
# what only records or looks up statements does not load reportlab (issue 18 item 5).
Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")


@dataclass(frozen=True, slots=True)
class Holder:
    """Who the statement is for, as printed: the name in full (it is the holder's own document) and
    the citizen ID masked (a lost statement must not hand out the full number)."""

    name: str
    id_masked: str


CREDIT_KINDS = frozenset({"contribution", "contribution_reversal"})
INTEREST_KINDS = frozenset({"interest"})


@dataclass(frozen=True, slots=True)
class LegRow:
    """One leg on a personal account: the account's kind, the posting's kind, the date it counts on (a
    contribution's period, else the posting's business date), the signed amount."""

    account_kind: str
    posting_kind: str
    business_date: date
    amount_fen: int


@dataclass(frozen=True, slots=True)
class DeclarationRow:
    """One declaration in force (not superseded) for a month of the year."""

    employer_name: str  # "" for a flexible or self-employed worker's own contribution
    employer_uscc: str  # "" likewise
    period: date  # first day of the month
    base_fen: int
    late: bool = False
    corrected: bool = False


@dataclass(frozen=True, slots=True)
class AccountYear:
    kind: str
    opening_fen: int
    credits_by_month: tuple[int, ...]  # 12 values, January first
    interest_fen: int
    debits_fen: int  # signed: 0 or negative
    closing_fen: int

    @property
    def credits_fen(self) -> int:
        return sum(self.credits_by_month)

    def totals(self) -> dict[str, int]:
        return {
            "opening_fen": self.opening_fen,
            "credits_fen": self.credits_fen,
            "interest_fen": self.interest_fen,
            "debits_fen": self.debits_fen,
            "closing_fen": self.closing_fen,
        }


@dataclass(frozen=True, slots=True)
class EmployerYear:
    name: str
    uscc: str
    months: tuple[int, ...]  # 1..12, ascending
    late_months: tuple[int, ...] = ()
    corrected_months: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class StatementData:
    """Everything a statement shows but the holder's name and ID, which the renderer is given apart."""

    person_id: int
    year: int
    region_code: str
    accounts: tuple[AccountYear, ...]  # pension, then medical
    employers: tuple[EmployerYear, ...] = field(default=())

    def account(self, kind: str) -> AccountYear:
        return next(a for a in self.accounts if a.kind == kind)

    def totals(self) -> dict[str, dict[str, int]]:
        """What the verification answer discloses and the statement prints: each account's five figures."""
        return {a.kind: a.totals() for a in self.accounts}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): the stored snapshot and the input of the digest."""
        return json.dumps(self._plain(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def _plain(self) -> dict[str, Any]:
        """``dataclasses.asdict(self)`` built by hand: asdict deep-copies every value and cost ~0.35 ms a
        statement, three times per statement (render, snapshot, digest). Same keys, same values."""
        return {
            "person_id": self.person_id,
            "year": self.year,
            "region_code": self.region_code,
            "accounts": [
                {
                    "kind": a.kind,
                    "opening_fen": a.opening_fen,
                    "credits_by_month": list(a.credits_by_month),
                    "interest_fen": a.interest_fen,
                    "debits_fen": a.debits_fen,
                    "closing_fen": a.closing_fen,
                }
                for a in self.accounts
            ],
            "employers": [
                {
                    "name": e.name,
                    "uscc": e.uscc,
                    "months": list(e.months),
                    "late_months": list(e.late_months),
                    "corrected_months": list(e.corrected_months),
                }
                for e in self.employers
            ],
        }

    def content_digest(self, snapshot: str | None = None) -> str:
        """SHA-256 of ``to_json()`` (``snapshot``: that JSON when the caller has it already)."""
        return hashlib.sha256((snapshot if snapshot is not None else self.to_json()).encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> StatementData:
        raw: dict[str, Any] = json.loads(text)
        return cls(
            person_id=raw["person_id"],
            year=raw["year"],
            region_code=raw["region_code"],
            accounts=tuple(
                AccountYear(**{**a, "credits_by_month": tuple(a["credits_by_month"])}) for a in raw["accounts"]
            ),
            employers=tuple(
                EmployerYear(
                    name=e["name"],
                    uscc=e["uscc"],
                    months=tuple(e["months"]),
                    late_months=tuple(e["late_months"]),
                    corrected_months=tuple(e["corrected_months"]),
                )
                for e in raw["employers"]
            ),
        )


def _account_year(kind: str, year: int, legs: Iterable[LegRow]) -> AccountYear:
    opening = interest = debits = 0
    months = [0] * 12
    start, end = date(year, 1, 1), date(year, 12, 31)
    for leg in legs:
        if leg.account_kind != kind or leg.business_date > end:
            continue
        if leg.business_date < start:
            opening += leg.amount_fen
        elif leg.posting_kind in CREDIT_KINDS:
            months[leg.business_date.month - 1] += leg.amount_fen
        elif leg.posting_kind in INTEREST_KINDS:
            interest += leg.amount_fen
        else:
            debits += leg.amount_fen
    closing = opening + sum(months) + interest + debits
    return AccountYear(kind, opening, tuple(months), interest, debits, closing)


def _employers(year: int, declarations: Iterable[DeclarationRow]) -> tuple[EmployerYear, ...]:
    grouped: dict[tuple[str, str], list[DeclarationRow]] = {}
    for row in declarations:
        if row.period.year == year:
            grouped.setdefault((row.employer_uscc, row.employer_name), []).append(row)
    result = []
    for (uscc, name), rows in sorted(grouped.items()):
        result.append(
            EmployerYear(
                name=name,
                uscc=uscc,
                months=tuple(sorted({r.period.month for r in rows})),
                late_months=tuple(sorted({r.period.month for r in rows if r.late})),
                corrected_months=tuple(sorted({r.period.month for r in rows if r.corrected})),
            )
        )
    return tuple(result)


def assemble_statement(
    *,
    person_id: int,
    year: int,
    region_code: str,
    legs: Iterable[LegRow],
    declarations: Iterable[DeclarationRow] = (),
) -> StatementData:
    """The statement of one person and year from their personal accounts' legs and their declarations."""
    legs = list(legs)
    return StatementData(
        person_id=person_id,
        year=year,
        region_code=region_code,
        accounts=tuple(_account_year(kind, year, legs) for kind in ACCOUNT_KINDS),
        employers=_employers(year, declarations),
    )

"""Yearly interest credited into the pension and medical personal accounts (INS-3, INS-4).

The rate is the region's policy value for the year (``interest_rate_bp_by_year``, basis points; one
rate for both accounts). The
interest of a year is computed by the monthly product method (月积数法): each month earns on its
opening balance, so

    interest = rate × (1/12) × Σ (balance at the start of month k), k = 1..12
             = rate / 12 × (12 × opening balance + Σ over the year's movements of amount × (12 − month))

(a credit in March earns for April to December: 9 months; a debit stops earning the same way). In
integer fen: ``numerator = (12 × opening + Σ amount × (12 − month)) × rate_bp``, ``denominator =
12 × 10 000``, rounded half up to the fen (``(2 × numerator + denominator) // (2 × denominator)``).
A non-positive product earns nothing and posts nothing.

Each account gets one ``interest`` posting for the year, dated 31 December, ``source_ref``
``interest:<year>:<account id>``, against the ``interest_expense`` account of its region. A re-run
skips accounts already credited (and a unique index refuses a racing duplicate): idempotent per
account + year.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Date, case, extract, func, literal, select
from sqlalchemy.exc import IntegrityError

from sscard.audit import Actor, record_event
from sscard.db.base import china_today
from sscard.db.session import UnitOfWork
from sscard.insurance.accounts.errors import InterestRateMissing, InterestYearOpen
from sscard.ledger import archive
from sscard.ledger.models import (
    PERSONAL_KINDS,
    AccountKind,
    LedgerAccount,
    LedgerLeg,
    LedgerPosting,
    PostingKind,
    leg_posting,
)
from sscard.ledger.rules import Leg
from sscard.ledger.service import NewPosting, open_account, post_many
from sscard.policy.service import get_effective_policy
from sscard.regions.codes import NATIONAL, region_prefix

BATCH = 500


def interest_fen(*, opening_fen: int, weighted_fen: int, rate_bp: int) -> int:
    """The year's interest in fen (monthly product method, half up). ``weighted_fen`` is
    Σ amount × (12 − month) over the year's movements."""
    product = 12 * opening_fen + weighted_fen
    if product <= 0 or rate_bp <= 0:
        return 0
    numerator = product * rate_bp
    denominator = 12 * 10_000
    return (2 * numerator + denominator) // (2 * denominator)


def source_ref(year: int, account_id: int) -> str:
    return f"interest:{year}:{account_id}"


def interest_rate_bp(uow: UnitOfWork, *, region_code: str, year: int) -> int:
    """The credited interest rate of ``year`` in the region's policy (INTEREST_RATE_MISSING if none)."""
    rate = get_effective_policy(uow, region_code=region_code).interest_rate_bp_by_year.get(str(year))
    if rate is None:
        raise InterestRateMissing(f"no credited interest rate for {year} in the policy of region {region_code}")
    return int(rate)


@dataclass
class InterestRun:
    year: int
    credited: int = 0  # accounts credited by this run
    already: int = 0  # accounts credited by an earlier run
    nothing_due: int = 0  # zero or no balance: nothing to credit
    total_fen: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)  # fen credited per account kind


@dataclass(frozen=True, slots=True)
class _Due:
    account_id: int
    kind: str
    region_code: str
    person_id: int
    opening_fen: int
    weighted_fen: int


def _region_filter(region_code: str | None) -> object | None:
    if region_code is None or region_code == NATIONAL:
        return None
    return LedgerAccount.region_code.like(region_prefix(region_code) + "%")


def _products(
    uow: UnitOfWork, *, year: int, region_code: str | None, person_ids: Sequence[int] | None
) -> Iterator[_Due]:
    """Each personal account's opening balance and weighted movements of ``year`` (one grouped query)."""
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    # Older months archived (docs/partitioning.md): a year from the cut on opens with the balance carried at
    # the cut (an account may have nothing else); an earlier year is refused (PERIOD_ARCHIVED).
    first = archive.refuse_before(uow.session, start, f"interest of {year}")
    moves = (
        select(
            LedgerLeg.account_id.label("account_id"),
            LedgerPosting.business_date.label("business_date"),
            LedgerPosting.kind.label("kind"),
            LedgerLeg.amount_fen.label("amount_fen"),
        )
        .join(LedgerPosting, leg_posting())
        .where(LedgerPosting.business_date < end)
    )
    carried = archive.carried_at(first)
    if carried is None or first is None:
        m = moves.subquery()
    else:
        at_cut = literal(first - timedelta(days=1), Date)
        m = moves.union_all(select(carried.c.account_id, at_cut, literal("carried"), carried.c.balance_fen)).subquery()
    month = extract("month", m.c.business_date)
    in_year = (m.c.business_date >= start) & (m.c.business_date < end)
    not_interest = m.c.kind != PostingKind.INTEREST.value
    opening = func.coalesce(func.sum(case((m.c.business_date < start, m.c.amount_fen), else_=0)), 0)
    weighted = func.coalesce(func.sum(case((in_year & not_interest, m.c.amount_fen * (12 - month)), else_=0)), 0)
    query = (
        select(
            LedgerAccount.id,
            LedgerAccount.kind,
            LedgerAccount.region_code,
            LedgerAccount.person_id,
            opening.label("opening"),
            weighted.label("weighted"),
        )
        .join(m, m.c.account_id == LedgerAccount.id)
        .where(LedgerAccount.kind.in_([k.value for k in PERSONAL_KINDS]))
        .group_by(LedgerAccount.id, LedgerAccount.kind, LedgerAccount.region_code, LedgerAccount.person_id)
        .order_by(LedgerAccount.id)
    )
    where = _region_filter(region_code)
    if where is not None:
        query = query.where(where)  # type: ignore[arg-type]
    if person_ids is not None:
        query = query.where(LedgerAccount.person_id.in_(list(person_ids)))
    for row in uow.session.execute(query):
        yield _Due(row.id, row.kind, row.region_code, row.person_id, int(row.opening), int(row.weighted))


def _already_credited(uow: UnitOfWork, refs: Sequence[str]) -> set[str]:
    return set(
        uow.session.scalars(
            select(LedgerPosting.source_ref).where(
                LedgerPosting.kind == PostingKind.INTEREST.value, LedgerPosting.source_ref.in_(refs)
            )
        )
    )


def credit_interest(
    uow: UnitOfWork,
    *,
    year: int,
    actor: Actor,
    region_code: str | None = None,
    person_id: int | None = None,
    person_ids: Sequence[int] | None = None,
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> InterestRun:
    """Credit ``year``'s interest into every personal account (of a region, or of some persons).

    Refused for a year that has not ended (``INTEREST_YEAR_OPEN``) and when a region's policy has no
    rate for it (``INTEREST_RATE_MISSING``, nothing posted). Audited once per run, with the totals.
    """
    today = today or china_today()
    if year >= today.year:
        raise InterestYearOpen(f"{year} has not ended; interest is credited after 31 December")
    run = InterestRun(year=year)
    rates: dict[str, int] = {}
    expense: dict[str, int] = {}
    if person_id is not None:
        person_ids = [person_id, *(person_ids or [])]
    due = list(_products(uow, year=year, region_code=region_code, person_ids=person_ids))
    for chunk_start in range(0, len(due), BATCH):
        chunk = due[chunk_start : chunk_start + BATCH]
        done = _already_credited(uow, [source_ref(year, d.account_id) for d in chunk])
        postings: list[NewPosting] = []
        for d in chunk:
            if source_ref(year, d.account_id) in done:
                run.already += 1
                continue
            if d.region_code not in rates:
                rates[d.region_code] = interest_rate_bp(uow, region_code=d.region_code, year=year)
            amount = interest_fen(opening_fen=d.opening_fen, weighted_fen=d.weighted_fen, rate_bp=rates[d.region_code])
            if amount <= 0:
                run.nothing_due += 1
                continue
            if d.region_code not in expense:
                expense[d.region_code] = open_account(
                    uow, kind=AccountKind.INTEREST_EXPENSE.value, region_code=d.region_code
                ).id
            rate = rates[d.region_code]
            postings.append(
                NewPosting(
                    kind=PostingKind.INTEREST.value,
                    legs=[Leg(d.account_id, amount), Leg(expense[d.region_code], -amount)],
                    business_date=date(year, 12, 31),
                    source_ref=source_ref(year, d.account_id),
                    memo=f"{year}年度记账利息 interest {year} at {rate / 100:.2f}%",
                )
            )
            run.credited += 1
            run.total_fen += amount
            run.by_kind[d.kind] = run.by_kind.get(d.kind, 0) + amount
        if postings:
            try:
                with uow.session.begin_nested():
                    post_many(uow, postings=postings, actor=actor)
            except IntegrityError:
                # Another run credited some of these meanwhile (the unique index): redo them one by one.
                _one_by_one(uow, postings=postings, actor=actor, run=run)
        if progress is not None:
            progress(len(chunk))
    record_event(
        uow,
        actor=actor,
        action="insurance.interest.credit",
        subject=f"interest:{year}:{region_code or NATIONAL}",
        details={
            "year": year,
            "credited": run.credited,
            "already": run.already,
            "nothing_due": run.nothing_due,
            "total_fen": run.total_fen,
            "rates_bp": rates,
            "persons": len(person_ids) if person_ids is not None else None,
        },
    )
    return run


def _is_unique_violation(exc: IntegrityError) -> bool:
    """A duplicate key (the year's interest already posted), not another refusal: a month archived meanwhile
    is the default partition's CHECK, which must not be counted as "already credited"."""
    sqlstate = getattr(exc.orig, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return bool(sqlstate == "23505")
    return "UNIQUE constraint failed" in str(exc.orig)  # SQLite


def _one_by_one(uow: UnitOfWork, *, postings: Sequence[NewPosting], actor: Actor, run: InterestRun) -> None:
    for new in postings:
        try:
            with uow.session.begin_nested():
                post_many(uow, postings=[new], actor=actor)
        except IntegrityError as exc:
            if not _is_unique_violation(exc):
                raise
            run.credited -= 1
            run.already += 1
            run.total_fen -= new.legs[0].amount_fen


def accounts_in_scope(uow: UnitOfWork, *, region_code: str | None) -> int:
    """How many personal accounts a run over ``region_code`` visits (for a progress bar)."""
    query = (
        select(func.count()).select_from(LedgerAccount).where(LedgerAccount.kind.in_([k.value for k in PERSONAL_KINDS]))
    )
    where = _region_filter(region_code)
    if where is not None:
        query = query.where(where)  # type: ignore[arg-type]
    return int(uow.session.scalar(query) or 0)

"""Reading what statements are made of, for many persons at once (a batch costs four queries).

The persons are one bound list (``db.statements.member_of``: ``= ANY(array)`` on PostgreSQL), so a
query's text is the same for every batch: parsed once by the driver, prepared once by the server.

The rows go to ``data.assemble_statement``; nothing here adds up amounts beyond what SQL groups.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from sscard.db.statements import member_of
from sscard.employers.models import Employer
from sscard.insurance.models import ContributionDeclaration
from sscard.ledger import archive
from sscard.ledger.models import LedgerAccount, LedgerLeg, LedgerPosting, leg_posting
from sscard.regions.codes import RegionLevel, is_region_code, level_of
from sscard.statements.data import (
    ACCOUNT_KINDS,
    CREDIT_KINDS,
    DeclarationRow,
    LegRow,
    StatementData,
    assemble_statement,
)

CHINA = ZoneInfo("Asia/Shanghai")
OPENING = "opening"  # the posting kind given to the pre-aggregated legs before the year


def region_filter(column: object, region: str | None) -> object:
    """``column`` lies within ``region`` (a province or city covers its districts); True without one."""
    if not region:
        return True
    if not is_region_code(region):
        raise ValueError("a region code is six digits")
    level = level_of(region)
    if level is RegionLevel.NATIONAL:
        return True
    prefix = {RegionLevel.PROVINCE: region[:2], RegionLevel.CITY: region[:4]}.get(level)
    return column.startswith(prefix) if prefix else column == region  # type: ignore[attr-defined]


def _open_year(session: Session, year: int) -> date | None:
    """The ledger's cut (``ledger.archive``) when the year's figures are all attached; a year that begins
    before the cut is archived (``PeriodArchived``): its statement can no longer be made, only the one
    issued before (stored with its snapshot) be shown."""
    return archive.refuse_before(session, date(year, 1, 1), f"the statement of {year}")


def _active_by(year: int, first: date | None) -> ColumnElement[bool]:
    """The personal account (``LedgerAccount``) was in use by the year's end: a leg posted by then, or
    a declaration for a month of the year (December's, posted in January, counts), or a balance carried at
    the cut ``first`` (older months archived). Not ``opened_at``: accounts of records taken over from an
    older system are opened on the day of the takeover."""
    posted = (
        select(LedgerLeg.id)
        .join(LedgerPosting, leg_posting())
        .where(LedgerLeg.account_id == LedgerAccount.id, LedgerPosting.business_date <= date(year, 12, 31))
        .exists()
    )
    declared = (
        select(ContributionDeclaration.id)
        .where(
            ContributionDeclaration.person_id == LedgerAccount.person_id,
            ContributionDeclaration.period >= date(year, 1, 1),
            ContributionDeclaration.period <= date(year, 12, 31),
        )
        .exists()
    )
    carried = archive.carried_at(first)
    if carried is None:
        return or_(posted, declared)
    return or_(posted, declared, select(carried.c.account_id).where(carried.c.account_id == LedgerAccount.id).exists())


def contributors(session: Session, *, year: int, region: str | None = None) -> list[tuple[int, str]]:
    """(person id, region of their personal accounts) of everyone whose personal accounts were in use by
    the year's end (see ``_active_by``), in ``region``, by person id."""
    query = (
        select(LedgerAccount.person_id, func.min(LedgerAccount.region_code))
        .where(
            LedgerAccount.kind.in_(ACCOUNT_KINDS),
            LedgerAccount.person_id.is_not(None),
            region_filter(LedgerAccount.region_code, region),  # type: ignore[arg-type]
            _active_by(year, _open_year(session, year)),
        )
        .group_by(LedgerAccount.person_id)
        .order_by(LedgerAccount.person_id)
    )
    return [(int(pid), str(code)) for pid, code in session.execute(query) if pid is not None]


def contributor_region(session: Session, *, person_id: int, year: int) -> str | None:
    """The region of the person's personal accounts if they were in use by the year's end, else None."""
    return session.scalar(
        select(func.min(LedgerAccount.region_code)).where(
            LedgerAccount.person_id == person_id,
            LedgerAccount.kind.in_(ACCOUNT_KINDS),
            _active_by(year, _open_year(session, year)),
        )
    )


def _legs(session: Session, person_ids: Sequence[int], year: int) -> dict[int, list[LegRow]]:
    start, end = date(year, 1, 1), date(year, 12, 31)
    # A contribution (and its reversal) counts in the month it is for, its declaration's period, not
    # on the day it was posted: December's declaration posted in January belongs to December.
    declaration = aliased(ContributionDeclaration)
    effective = func.coalesce(declaration.period, LedgerPosting.business_date)
    base = (
        select(LedgerAccount.person_id, LedgerAccount.kind)
        .join(LedgerLeg, LedgerLeg.account_id == LedgerAccount.id)
        .join(LedgerPosting, leg_posting())
        .outerjoin(
            declaration,
            and_(
                declaration.person_id == LedgerAccount.person_id,  # the indexed way in
                declaration.posting_id == func.coalesce(LedgerPosting.reverses_id, LedgerPosting.id),
                LedgerPosting.kind.in_(CREDIT_KINDS),
            ),
        )
        .where(
            member_of(LedgerAccount.person_id, "person_ids", _dialect(session)),
            LedgerAccount.kind.in_(ACCOUNT_KINDS),
        )
    )
    ids = {"person_ids": list(person_ids)}
    result: dict[int, list[LegRow]] = defaultdict(list)
    # Everything before the year in one figure per account: a 30-year contributor costs one row.
    opening = base.add_columns(func.sum(LedgerLeg.amount_fen)).where(effective < start)
    for pid, kind, total in session.execute(opening.group_by(LedgerAccount.person_id, LedgerAccount.kind), ids):
        result[pid].append(LegRow(kind, OPENING, date(year - 1, 12, 31), int(total or 0)))
    carried = archive.carried_at(_open_year(session, year))
    if carried is not None:  # older months archived: each account's balance at the cut opens it too
        at_cut = (
            select(LedgerAccount.person_id, LedgerAccount.kind, carried.c.balance_fen)
            .join(carried, carried.c.account_id == LedgerAccount.id)
            .where(member_of(LedgerAccount.person_id, "person_ids", _dialect(session)),
                   LedgerAccount.kind.in_(ACCOUNT_KINDS))
        )  # fmt: skip
        for pid, kind, total in session.execute(at_cut, ids):
            result[pid].append(LegRow(kind, OPENING, date(year - 1, 12, 31), int(total)))
    within = base.add_columns(LedgerPosting.kind, effective, LedgerLeg.amount_fen).where(
        and_(effective >= start, effective <= end)
    )
    for pid, kind, posting_kind, effective_date, amount in session.execute(within, ids):
        result[pid].append(LegRow(kind, posting_kind, _as_date(effective_date), int(amount)))
    return result


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _as_date(value: date | str) -> date:
    # SQLite returns COALESCE over two DATE columns as text.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _declarations(session: Session, person_ids: Sequence[int], year: int) -> dict[int, list[DeclarationRow]]:
    query = (
        select(
            ContributionDeclaration.person_id,
            Employer.name,
            Employer.uscc,
            ContributionDeclaration.period,
            ContributionDeclaration.base_fen,
            ContributionDeclaration.late,
            ContributionDeclaration.corrected,
        )
        .outerjoin(Employer, Employer.id == ContributionDeclaration.employer_id)
        .where(
            member_of(ContributionDeclaration.person_id, "person_ids", _dialect(session)),
            ContributionDeclaration.period >= date(year, 1, 1),
            ContributionDeclaration.period <= date(year, 12, 31),
            ContributionDeclaration.superseded.is_(False),
        )
    )
    result: dict[int, list[DeclarationRow]] = defaultdict(list)
    for pid, name, uscc, period, base, late, corrected in session.execute(query, {"person_ids": list(person_ids)}):
        result[pid].append(DeclarationRow(name or "", uscc or "", period, int(base), bool(late), bool(corrected)))
    return result


def load_statements(session: Session, persons: Sequence[tuple[int, str]], *, year: int) -> list[StatementData]:
    """The statement data of each (person id, region) given, in the order given."""
    ids = [pid for pid, _ in persons]
    legs = _legs(session, ids, year)
    declarations = _declarations(session, ids, year)
    return [
        assemble_statement(
            person_id=pid, year=year, region_code=region, legs=legs.get(pid, ()), declarations=declarations.get(pid, ())
        )
        for pid, region in persons
    ]

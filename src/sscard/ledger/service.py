"""The ledger's services: open accounts, post balanced legs, reverse, read balances, prove it all.

Postings lock every account they touch (``SELECT ... FOR UPDATE``) in id order, so two postings
sharing accounts never deadlock, and the cached ``balance_fen`` moves in the same transaction as its
legs. Nothing here updates or deletes a posting or a leg: a mistake is undone by ``reverse``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import Subquery, Table, bindparam, column, func, insert, select, table, text, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import attributes
from sqlalchemy.orm.util import identity_key

from sscard.audit import Actor
from sscard.db.base import china_today, utcnow
from sscard.db.bulk import copy_rows, next_ids
from sscard.db.session import UnitOfWork
from sscard.db.statements import dialect_of, upsert
from sscard.ledger import archive
from sscard.ledger.errors import AccountClosed, AccountNotFound, AlreadyReversed
from sscard.ledger.models import (
    PERSONAL_KINDS,
    Institution,
    LedgerAccount,
    LedgerLeg,
    LedgerPosting,
    PostingKind,
    leg_posting,
)
from sscard.ledger.rules import Discrepancy, LedgerReport, Leg, apply_changes, net_by_account, validate_legs

_ACCOUNT = cast(Table, LedgerAccount.__table__)
_POSTING = cast(Table, LedgerPosting.__table__)
_LEG = cast(Table, LedgerLeg.__table__)
_INSTITUTION = cast(Table, Institution.__table__)


@dataclass(frozen=True, slots=True)
class NewPosting:
    """A posting to make (``post_many`` makes many in one go: the contributions import)."""

    kind: str
    legs: Sequence[Leg]
    business_date: date
    source_ref: str
    memo: str | None = None
    reverses_id: int | None = None


def get_account(
    uow: UnitOfWork,
    *,
    kind: str,
    person_id: int | None = None,
    region_code: str = "",
    institution_id: int | None = None,
) -> LedgerAccount | None:
    """The personal account of ``kind`` of a person, the system account of ``kind`` of an institution
    (issue 20), or else the system account of ``kind`` of a region."""
    query = select(LedgerAccount).where(LedgerAccount.kind == kind)
    if person_id is not None:
        query = query.where(LedgerAccount.person_id == person_id)
    elif institution_id is not None:
        query = query.where(LedgerAccount.institution_id == institution_id)
    else:
        query = query.where(
            LedgerAccount.person_id.is_(None),
            LedgerAccount.institution_id.is_(None),
            LedgerAccount.region_code == region_code,
        )
    return uow.session.scalars(query).one_or_none()


def open_account(
    uow: UnitOfWork,
    *,
    kind: str,
    region_code: str,
    person_id: int | None = None,
    may_go_negative: bool | None = None,
    institution_id: int | None = None,
) -> LedgerAccount:
    """The account of ``kind`` for a person (personal) or a region (system), opened on first use.

    Two transactions opening the same account race on its unique index: the loser reads the winner's.
    ``may_go_negative`` defaults to False for personal kinds, True for system accounts.
    """

    def find() -> LedgerAccount | None:
        return get_account(uow, kind=kind, person_id=person_id, region_code=region_code, institution_id=institution_id)

    found = find()
    if found is not None:
        return found
    if may_go_negative is None:
        may_go_negative = person_id is None and kind not in PERSONAL_KINDS
    account = LedgerAccount(
        kind=kind,
        person_id=person_id,
        institution_id=institution_id,
        region_code=region_code,
        balance_fen=0,
        may_go_negative=may_go_negative,
    )
    try:
        with uow.session.begin_nested():
            uow.session.add(account)
    except IntegrityError:
        found = find()
        if found is None:
            raise
        return found
    return account


def ensure_institution(uow: UnitOfWork, *, region_code: str, name: str, institution_type: str) -> int:
    """The id of the ``institution`` row (a medical institution, a bank, a POS terminal's outlet), made on
    its first use; race-safe: a concurrent first use inserts nothing twice."""
    find = select(_INSTITUTION.c.id).where(_INSTITUTION.c.region_code == region_code, _INSTITUTION.c.name == name)
    found = uow.session.scalar(find)
    if found is None:
        ins = upsert(uow, _INSTITUTION).values(
            region_code=region_code, name=name, institution_type=institution_type, created_at=utcnow()
        )
        cols = [_INSTITUTION.c.region_code, _INSTITUTION.c.name]
        uow.session.execute(ins.on_conflict_do_nothing(index_elements=cols))
        found = uow.session.execute(find).scalar_one()
    return int(found)


def _lock(uow: UnitOfWork, account_ids: Sequence[int]) -> dict[int, Any]:
    """Lock the rows of ``account_ids`` in id order (one order for everyone: no deadlock)."""
    rows = uow.session.execute(
        select(_ACCOUNT.c.id, _ACCOUNT.c.balance_fen, _ACCOUNT.c.may_go_negative, _ACCOUNT.c.closed_at)
        .where(_ACCOUNT.c.id.in_(sorted(account_ids)))
        .order_by(_ACCOUNT.c.id)
        .with_for_update()
    ).all()
    found = {row.id: row for row in rows}
    for account_id in account_ids:
        if account_id not in found:
            raise AccountNotFound(f"ledger account {account_id} does not exist")
        if found[account_id].closed_at is not None:
            raise AccountClosed(f"ledger account {account_id} is closed")
    return found


def _prepared(
    uow: UnitOfWork, postings: Sequence[NewPosting], actor: Actor | Sequence[Actor], channel: str | None
) -> tuple[dict[int, int], list[dict[str, Any]]]:
    """Each posting checked, the accounts locked (id order) and their balances after: (balances, rows)."""
    actors = [actor] * len(postings) if isinstance(actor, Actor) else list(actor)
    if len(actors) != len(postings):
        raise ValueError("one actor per posting")
    for new in postings:
        validate_legs(new.legs)
    changes = net_by_account(leg for new in postings for leg in new.legs)
    locked = _lock(uow, list(changes))
    after = apply_changes(
        {i: r.balance_fen for i, r in locked.items()},
        changes,
        may_go_negative={i: r.may_go_negative for i, r in locked.items()},
    )
    now = utcnow()
    rows = [
        {
            "kind": new.kind,
            "business_date": new.business_date,
            "created_at": now,
            "actor": by.id[:64],
            "channel": (channel or by.channel.value)[:16],
            "source_ref": new.source_ref,
            "reverses_id": new.reverses_id,
            "memo": new.memo,
        }
        for new, by in zip(postings, actors, strict=True)
    ]
    return after, rows


def _loaded_balances(uow: UnitOfWork, after: dict[int, int]) -> None:
    """Keep loaded ORM objects in step with the rows just updated."""
    for aid, bal in after.items():
        obj = uow.session.identity_map.get(identity_key(LedgerAccount, aid))
        if obj is not None:
            attributes.set_committed_value(obj, "balance_fen", bal)


def post_many(
    uow: UnitOfWork, *, postings: Sequence[NewPosting], actor: Actor | Sequence[Actor], channel: str | None = None
) -> list[int]:
    """Make ``postings`` (each balanced) in one go; returns their ids in order. All or nothing.
    ``actor``: one for all, or each posting's own (a batch of terminal requests, ``settlement/batch.py``)."""
    if not postings:
        return []
    after, posting_rows = _prepared(uow, postings, actor, channel)
    session = uow.session
    ids = list(session.scalars(insert(_POSTING).returning(_POSTING.c.id, sort_by_parameter_order=True), posting_rows))
    session.execute(
        insert(_LEG),
        [
            {
                "posting_id": pid,
                "account_id": leg.account_id,
                "amount_fen": leg.amount_fen,
                "posted_on": new.business_date,
            }
            for pid, new in zip(ids, postings, strict=True)
            for leg in new.legs
        ],
    )
    session.execute(
        update(_ACCOUNT).where(_ACCOUNT.c.id == bindparam("aid")).values(balance_fen=bindparam("bal")),
        [{"aid": aid, "bal": bal} for aid, bal in after.items()],
    )
    _loaded_balances(uow, after)
    return ids


_POSTING_COLUMNS = ("kind", "business_date", "created_at", "actor", "channel", "source_ref", "reverses_id", "memo")
# ``a.id = ANY(:ids)`` too: without it the planner hashes the array and reads the whole table (one
# sequential scan of ledger_account a batch, growing with it: EXPLAIN, bench/README.md fourteenth session).
_NEW_BALANCES = text(
    "UPDATE ledger_account AS a SET balance_fen = v.balance_fen "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:balances AS bigint[])) AS v(id, balance_fen) "
    "WHERE a.id = v.id AND a.id = ANY(CAST(:ids AS bigint[]))"
)


def post_many_in_sets(
    uow: UnitOfWork, *, postings: Sequence[NewPosting], actor: Actor | Sequence[Actor], channel: str | None = None
) -> list[int]:
    """``post_many`` for thousands of postings on PostgreSQL (``db.bulk.writes_in_sets``): the same
    checks and locks, then the postings and their legs by COPY (ids from the sequence) and the balances
    in one statement. Same result, row for row."""
    if not postings:
        return []
    after, posting_rows = _prepared(uow, postings, actor, channel)
    ids = next_ids(uow, _POSTING, len(postings))
    rows = ((pid, *(row[c] for c in _POSTING_COLUMNS)) for pid, row in zip(ids, posting_rows, strict=True))
    copy_rows(uow, _POSTING, ("id", *_POSTING_COLUMNS), rows)
    copy_rows(uow, _LEG, ("posting_id", "account_id", "amount_fen", "posted_on"),
              ((pid, leg.account_id, leg.amount_fen, new.business_date) for pid, new in zip(ids, postings, strict=True)
               for leg in new.legs))  # fmt: skip
    uow.session.execute(_NEW_BALANCES, {"ids": list(after), "balances": list(after.values())})
    _loaded_balances(uow, after)
    return ids


def post(
    uow: UnitOfWork,
    *,
    kind: str,
    legs: Sequence[Leg],
    business_date: date,
    actor: Actor,
    source_ref: str,
    channel: str | None = None,
    memo: str | None = None,
) -> LedgerPosting:
    """Post balanced ``legs`` (a credit to a personal account is a positive leg on it)."""
    new = NewPosting(kind=kind, legs=legs, business_date=business_date, source_ref=source_ref, memo=memo)
    (posting_id,) = post_many(uow, postings=[new], actor=actor, channel=channel)
    return uow.session.get_one(LedgerPosting, posting_id)


def legs_of(uow: UnitOfWork, posting_id: int) -> list[Leg]:
    rows = uow.session.execute(
        select(_LEG.c.account_id, _LEG.c.amount_fen).where(_LEG.c.posting_id == posting_id).order_by(_LEG.c.id)
    ).all()
    return [Leg(r.account_id, r.amount_fen) for r in rows]


def reversal_kind(kind: str) -> str:
    return PostingKind.CONTRIBUTION_REVERSAL.value if kind == PostingKind.CONTRIBUTION else PostingKind.REVERSAL.value


def reverse(
    uow: UnitOfWork,
    *,
    posting: LedgerPosting,
    actor: Actor,
    source_ref: str,
    channel: str | None = None,
    business_date: date | None = None,
    memo: str | None = None,
) -> LedgerPosting:
    """Undo ``posting`` with a new posting of the opposite legs (at most once: POSTING_ALREADY_REVERSED)."""
    legs = legs_of(uow, posting.id)
    _lock(uow, sorted({leg.account_id for leg in legs}))  # serialises two reversals of the same posting
    if uow.session.scalar(select(_POSTING.c.id).where(_POSTING.c.reverses_id == posting.id)) is not None:
        raise AlreadyReversed(f"posting {posting.id} has already been reversed")
    new = NewPosting(
        kind=reversal_kind(posting.kind),
        legs=[Leg(leg.account_id, -leg.amount_fen) for leg in legs],
        business_date=business_date or china_today(),
        source_ref=source_ref,
        memo=memo,
        reverses_id=posting.id,
    )
    (posting_id,) = post_many(uow, postings=[new], actor=actor, channel=channel)
    return uow.session.get_one(LedgerPosting, posting_id)


def balance(uow: UnitOfWork, account: LedgerAccount | int) -> int:
    """The account's balance in fen, as committed in this transaction."""
    account_id = account if isinstance(account, int) else account.id
    value = uow.session.scalar(select(_ACCOUNT.c.balance_fen).where(_ACCOUNT.c.id == account_id))
    if value is None:
        raise AccountNotFound(f"ledger account {account_id} does not exist")
    return int(value)


def balance_on(uow: UnitOfWork, *, account_id: int, on: date) -> int:
    """The balance at the end of business date ``on`` (sum of the legs of postings dated up to it, and the
    balance carried at the cut when older months are archived; a day before the cut: ``PeriodArchived``)."""
    first = archive.refuse_before(uow.session, on + timedelta(days=1), f"the balance on {on}")
    total = uow.session.scalar(
        select(func.coalesce(func.sum(_LEG.c.amount_fen), 0))
        .join(_POSTING, leg_posting())
        .where(_LEG.c.account_id == account_id, _POSTING.c.business_date <= on)
    )
    return archive.carried_balance(uow.session, account_id, first) + int(total or 0)


@dataclass(frozen=True, slots=True)
class Movement:
    posting_id: int
    kind: str
    business_date: date
    amount_fen: int
    source_ref: str
    reverses_id: int | None


def movements(
    uow: UnitOfWork, *, account_id: int, start: date | None = None, end: date | None = None
) -> list[Movement]:
    """The account's legs with their postings, oldest first, optionally between two business dates. When
    older months are archived: the legs still attached (no ``start``), or ``PeriodArchived`` for a ``start``
    before the cut."""
    if start is not None:
        archive.refuse_before(uow.session, start, f"the movements from {start}")
    query = (
        select(
            _POSTING.c.id,
            _POSTING.c.kind,
            _POSTING.c.business_date,
            _LEG.c.amount_fen,
            _POSTING.c.source_ref,
            _POSTING.c.reverses_id,
        )  # fmt: skip
        .join(_POSTING, leg_posting())
        .where(_LEG.c.account_id == account_id)
        .order_by(_POSTING.c.business_date, _POSTING.c.id)
    )
    if start is not None:
        query = query.where(_POSTING.c.business_date >= start)
    if end is not None:
        query = query.where(_POSTING.c.business_date <= end)
    return [Movement(*row) for row in uow.session.execute(query).all()]


def check(uow: UnitOfWork, *, limit: int = 100) -> LedgerReport:
    """Prove the ledger in SQL: every posting's legs sum to zero (and it has legs) and carry its business
    date, every cached balance equals the sum of its legs, no non-negative account is below zero, and
    the references no foreign key guards (``_reference_faults``). At most ``limit`` of each kind. When
    older months are archived (PostgreSQL): every cached balance equals the balance carried at the cut
    plus its legs still attached, those are all dated from the cut on, and the carried balances sum to
    zero."""
    from sscard.ledger.rules import AccountState, account_faults

    s = uow.session
    report = LedgerReport(
        accounts=s.scalar(select(func.count()).select_from(_ACCOUNT)) or 0,
        postings=s.scalar(select(func.count()).select_from(_POSTING)) or 0,
        legs=s.scalar(select(func.count()).select_from(_LEG)) or 0,
    )
    leg_sum = func.coalesce(func.sum(_LEG.c.amount_fen), 0)
    unbalanced = s.execute(
        select(_POSTING.c.id, leg_sum.label("total"), func.count(_LEG.c.id).label("n"))
        .outerjoin(_LEG, _LEG.c.posting_id == _POSTING.c.id)
        .group_by(_POSTING.c.id)
        .having((leg_sum != 0) | (func.count(_LEG.c.id) == 0))
        .order_by(_POSTING.c.id)
        .limit(limit)
    ).all()
    for row in unbalanced:
        if row.n == 0:
            report.discrepancies.append(Discrepancy("posting_without_legs", f"posting:{row.id}", "no legs"))
        else:
            report.discrepancies.append(
                Discrepancy("posting_unbalanced", f"posting:{row.id}", f"legs sum to {row.total} fen")
            )
    # A leg is filed under its posting's business month (the partition key on PostgreSQL, docs/partitioning.md).
    misdated = s.execute(
        select(_LEG.c.id, _LEG.c.posted_on, _POSTING.c.id.label("posting_id"), _POSTING.c.business_date)
        .join(_POSTING, _POSTING.c.id == _LEG.c.posting_id)
        .where(_LEG.c.posted_on != _POSTING.c.business_date)
        .order_by(_LEG.c.id)
        .limit(limit)
    ).all()
    for row in misdated:
        detail = f"leg {row.id} dated {row.posted_on}, its posting {row.business_date}"
        report.discrepancies.append(Discrepancy("leg_misdated", f"posting:{row.posting_id}", detail))
    first = archive.cut(s)
    report.carried_before = first
    carried = archive.carried_at(first)
    legs = select(_LEG.c.account_id, _LEG.c.amount_fen)
    if carried is None or first is None:
        by_account = legs.subquery()
    else:
        _check_cut(uow, report, first, carried, limit=limit)
        by_account = legs.union_all(select(carried.c.account_id, carried.c.balance_fen)).subquery()
    sums = (
        select(by_account.c.account_id, func.sum(by_account.c.amount_fen).label("total"))
        .group_by(by_account.c.account_id)
        .subquery()
    )
    total = func.coalesce(sums.c.total, 0)
    suspects = s.execute(
        select(_ACCOUNT.c.id, _ACCOUNT.c.balance_fen, _ACCOUNT.c.may_go_negative, total.label("total"))
        .outerjoin(sums, sums.c.account_id == _ACCOUNT.c.id)
        .where((_ACCOUNT.c.balance_fen != total) | ((_ACCOUNT.c.balance_fen < 0) & ~_ACCOUNT.c.may_go_negative))
        .order_by(_ACCOUNT.c.id)
        .limit(limit)
    ).all()
    for row in suspects:
        state = AccountState(row.id, row.balance_fen, bool(row.may_go_negative))
        report.discrepancies.extend(account_faults(state, int(row.total)))
    report.discrepancies.extend(_reference_faults(uow, limit, since=first))
    return report


def _check_cut(uow: UnitOfWork, report: LedgerReport, first: date, carried: Subquery, *, limit: int) -> None:
    """Archived ledger months: every posting and leg still attached is dated on or after the cut, and the
    balances carried at it sum to zero (each archived posting's legs did)."""
    s = uow.session
    early = s.execute(
        select(_POSTING.c.id, _POSTING.c.business_date).where(_POSTING.c.business_date < first)
        .order_by(_POSTING.c.id).limit(limit)
    ).all()  # fmt: skip
    for row in early:
        detail = f"dated {row.business_date}, before the cut {first} (its month is archived)"
        report.discrepancies.append(Discrepancy("posting_before_cut", f"posting:{row.id}", detail))
    early_legs = s.execute(
        select(_LEG.c.id, _LEG.c.posting_id, _LEG.c.posted_on).where(_LEG.c.posted_on < first)
        .order_by(_LEG.c.id).limit(limit)
    ).all()  # fmt: skip
    for leg in early_legs:
        detail = f"leg {leg.id} dated {leg.posted_on}, before the cut {first} (its month is archived)"
        report.discrepancies.append(Discrepancy("leg_before_cut", f"posting:{leg.posting_id}", detail))
    carried_total = int(s.scalar(select(func.coalesce(func.sum(carried.c.balance_fen), 0))) or 0)
    if carried_total != 0:
        detail = f"the balances carried at {first} sum to {carried_total} fen, not zero"
        report.discrepancies.append(Discrepancy("carried_unbalanced", f"cut:{first}", detail))


# Read by name: the stored terminal transactions (``settlement.models.TerminalTxn``) and the cards import
# the ledger, not the other way round. Only the columns the check reads.
_TXN = table(
    "terminal_txn",
    *(
        column(c)
        for c in ("id", "posting_id", "account_id", "amount_fen", "institution_id", "card_id", "business_date")
    ),
)
_CARD = table("card", column("id"))


def _reference_faults(uow: UnitOfWork, limit: int, *, since: date | None = None) -> list[Discrepancy]:
    """What the foreign keys of the legs and of the stored terminal transactions guarded before migration
    0024_payment_references, proved instead (at most ``limit`` of each kind): every leg's account exists;
    every stored terminal transaction's posting moves its amount on its account (a leg of exactly that),
    its institution exists, and so does its card when it names one. ``since``: the ledger's cut, when
    older months are archived; a transaction dated before it has its legs in the archive, not here."""
    s, found = uow.session, []
    orphans = s.execute(
        select(_LEG.c.id, _LEG.c.posting_id, _LEG.c.account_id)
        .where(~select(_ACCOUNT.c.id).where(_ACCOUNT.c.id == _LEG.c.account_id).exists())
        .order_by(_LEG.c.id)
        .limit(limit)
    ).all()
    for row in orphans:
        detail = f"leg {row.id} on account {row.account_id}: no such account"
        found.append(Discrepancy("leg_without_account", f"posting:{row.posting_id}", detail))
    moved = (
        select(_LEG.c.id)
        .where(
            _LEG.c.posting_id == _TXN.c.posting_id,
            _LEG.c.account_id == _TXN.c.account_id,
            _LEG.c.amount_fen == _TXN.c.amount_fen,
        )
        .exists()
    )
    checks = (
        ("txn_not_posted", ~moved, "its posting {posting_id} moves no {amount_fen} fen on account {account_id}"),
        (
            "txn_unknown_institution",
            ~select(_INSTITUTION.c.id).where(_INSTITUTION.c.id == _TXN.c.institution_id).exists(),
            "no institution {institution_id}",
        ),
        (
            "txn_unknown_card",
            _TXN.c.card_id.is_not(None) & ~select(_CARD.c.id).where(_CARD.c.id == _TXN.c.card_id).exists(),
            "no card {card_id}",
        ),
    )
    in_ledger = _TXN.c.business_date >= since if since is not None else true()
    for kind, fault, detail in checks:
        for txn in s.execute(select(_TXN).where(fault, in_ledger).order_by(_TXN.c.id).limit(limit)).mappings():
            found.append(Discrepancy(kind, f"terminal_txn:{txn['id']}", detail.format(**txn)))
    return found


# PostgreSQL: the missing accounts of a batch in one statement (a row per statement was ~330 a batch).
_OPEN_PERSONAL = text(
    "INSERT INTO ledger_account (kind, person_id, region_code, balance_fen, may_go_negative, opened_at) "
    "SELECT :kind, p.person_id, p.region_code, 0, false, :now "
    "FROM unnest(CAST(:persons AS bigint[]), CAST(:regions AS text[])) AS p(person_id, region_code) "
    "ON CONFLICT (kind, person_id) WHERE person_id IS NOT NULL DO NOTHING"
)


def ensure_personal_accounts(uow: UnitOfWork, *, kind: str, person_regions: dict[int, str]) -> dict[int, int]:
    """Person id → the id of their personal account of ``kind``, opening the missing ones in one
    statement (``ON CONFLICT DO NOTHING``: a concurrent opener's row wins, nobody gets two)."""
    if not person_regions:
        return {}
    ids = sorted(person_regions)
    query = select(_ACCOUNT.c.person_id, _ACCOUNT.c.id).where(_ACCOUNT.c.kind == kind, _ACCOUNT.c.person_id.in_(ids))
    found = {row.person_id: row.id for row in uow.session.execute(query)}
    missing = [pid for pid in ids if pid not in found]
    if missing:
        now = utcnow()
        if dialect_of(uow) == "postgresql":
            regions = [person_regions[pid] for pid in missing]
            params = {"kind": kind, "now": now, "persons": missing, "regions": regions}
            uow.session.execute(_OPEN_PERSONAL, params)
        else:
            stmt = upsert(uow, _ACCOUNT).on_conflict_do_nothing(
                index_elements=["kind", "person_id"], index_where=text("person_id IS NOT NULL")
            )
            uow.session.execute(
                stmt,
                [
                    {
                        "kind": kind,
                        "person_id": pid,
                        "region_code": person_regions[pid],
                        "balance_fen": 0,
                        "may_go_negative": False,
                        "opened_at": now,
                    }  # fmt: skip
                    for pid in missing
                ],
            )
        found.update(
            {row.person_id: row.id for row in uow.session.execute(query.where(_ACCOUNT.c.person_id.in_(missing)))}
        )
    return found

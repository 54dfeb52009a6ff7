"""Monthly contribution declarations and their postings (INS-3, INS-7).

One path for every channel: ``declare_batch`` checks each declaration against the database (person,
registration, period, base, what was declared before), then writes the valid ones together — the
declarations, their parts, one balanced posting each (the personal-account shares credited, the rest
to the region's pooling fund, the total against its contribution clearing account) — so the CSV
import writes a thousand lines in a handful of statements and the API one line the same way.

Idempotent per (employer, person, period): the same base again is "already present"; another base
is ``DECLARATION_CONFLICT`` (a correction is ``correct_declaration``: a reversing posting plus a new
revision marked corrected, never an edit). Two transactions declaring the same key race on the
unique index: the loser finds the winner's row (``declare_contribution``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from sscard.audit import Actor, record_event
from sscard.db.base import utcnow
from sscard.db.bulk import copy_rows, next_ids, writes_in_sets
from sscard.db.partitions import archived_before
from sscard.db.session import UnitOfWork
from sscard.errors import DomainError
from sscard.insurance import errors as E
from sscard.insurance.models import (
    ContributionDeclaration,
    ContributionPart,
    DeclarationDocument,
    InsuranceParticipation,
    InsuranceRegistration,
    InsuranceType,
)
from sscard.insurance.rules import BaseBounds, PartAmounts, Rates, clamped_base, compute_parts, declared_late
from sscard.ledger.models import AccountKind, PostingKind
from sscard.ledger.rules import Leg
from sscard.ledger.service import NewPosting, ensure_personal_accounts, open_account, post_many, post_many_in_sets
from sscard.people.service import person_subject
from sscard.policy.service import get_effective_policy

_DECL = cast(Table, ContributionDeclaration.__table__)
_PART = cast(Table, ContributionPart.__table__)
POOLING_FUND = "pooling_fund"  # system account per region: the pooled (non-personal) parts

POSTED, ALREADY_PRESENT, REJECTED = "posted", "already_present", "rejected"
ERRORS: dict[str, type[DomainError]] = {
    cls.code: cls
    for cls in (
        E.NotRegistered,
        E.PeriodInFuture,
        E.PeriodArchived,
        E.PeriodBeforeRegistration,
        E.BaseInvalid,
        E.BaseAbsurd,
        E.DeclarationConflict,
    )  # fmt: skip
}


@dataclass(frozen=True, slots=True)
class DeclarationInput:
    line: int  # the CSV line (or 1 for a single declaration)
    employer_id: int | None  # None: a self-registered worker's own declaration
    person_id: int
    period: date  # first of the month
    declared_base_fen: int
    industry_class: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    line: int
    status: str  # posted | already_present | rejected
    declaration_id: int | None = None
    code: str | None = None
    message: str = ""


@dataclass(slots=True)
class Planned:
    item: DeclarationInput
    registration: InsuranceRegistration
    base_fen: int
    parts: list[PartAmounts]
    late: bool
    revision: int = 1


class PolicyCache:
    """Bounds and rates per (region, period): the policy in force on the period's first day."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, date], tuple[BaseBounds, Rates]] = {}

    def get(self, uow: UnitOfWork, region_code: str, period: date) -> tuple[BaseBounds, Rates]:
        key = (region_code, period)
        if key not in self._cache:
            at = datetime(period.year, period.month, 1, tzinfo=UTC)
            policy = get_effective_policy(uow, region_code=region_code, at=max(at, datetime(2000, 1, 1, tzinfo=UTC)))
            self._cache[key] = (BaseBounds.of(policy), Rates.of(policy))
        return self._cache[key]


def _registrations(uow: UnitOfWork, items: Sequence[DeclarationInput]) -> dict[tuple[int, int | None], list[Any]]:
    persons = sorted({i.person_id for i in items})
    rows = uow.session.scalars(select(InsuranceRegistration).where(InsuranceRegistration.person_id.in_(persons)))
    out: dict[tuple[int, int | None], list[Any]] = defaultdict(list)
    for r in rows:
        out[(r.person_id, r.employer_id)].append(r)
    return out


def participations_by_registration(
    uow: UnitOfWork, registration_ids: set[int]
) -> dict[int, list[InsuranceParticipation]]:
    out: dict[int, list[InsuranceParticipation]] = defaultdict(list)
    if registration_ids:
        for p in uow.session.scalars(
            select(InsuranceParticipation).where(InsuranceParticipation.registration_id.in_(sorted(registration_ids)))
        ):
            out[p.registration_id].append(p)
    return out


def _current(uow: UnitOfWork, items: Sequence[DeclarationInput]) -> dict[tuple[int | None, int, date], Any]:
    """The current (not superseded) declaration of each key in ``items``."""
    persons = sorted({i.person_id for i in items})
    periods = sorted({i.period for i in items})
    rows = uow.session.execute(
        select(
            _DECL.c.id,
            _DECL.c.employer_id,
            _DECL.c.person_id,
            _DECL.c.period,
            _DECL.c.declared_base_fen,
            _DECL.c.revision,
        ).where(_DECL.c.person_id.in_(persons), _DECL.c.period.in_(periods), _DECL.c.superseded.is_(False))  # fmt: skip
    ).all()
    return {(r.employer_id, r.person_id, r.period): r for r in rows}


def _covering(registrations: list[InsuranceRegistration], period: date) -> InsuranceRegistration | None:
    for r in registrations:
        if r.employment_start.replace(day=1) <= period and (r.ended_on is None or r.ended_on >= period):
            return r
    return None


def types_in(participations: list[InsuranceParticipation], period: date) -> list[InsuranceType]:
    return [
        p.insurance_type
        for p in participations
        if p.start_date.replace(day=1) <= period and (p.stop_date is None or p.stop_date >= period)
    ]


def plan(
    uow: UnitOfWork,
    items: Sequence[DeclarationInput],
    *,
    today: date,
    policies: PolicyCache,
) -> tuple[list[Planned], list[Outcome], list[tuple[int, Planned]]]:
    """Check each declaration; (what to write, what is already present or rejected, lines repeating a
    planned one in the same batch). Writes nothing."""
    registrations = _registrations(uow, items)
    current = _current(uow, items)
    planned: list[Planned] = []
    done: list[Outcome] = []
    chosen: list[tuple[DeclarationInput, InsuranceRegistration]] = []
    in_batch: dict[tuple[int | None, int, date], Planned] = {}
    repeats: list[tuple[int, Planned]] = []
    this_month = today.replace(day=1)
    # Months detached for archive (PostgreSQL) take no declaration: the database refuses the row, and a
    # correction there would start a second revision 1 beside the archived one.
    attached_from = archived_before(uow.session.connection(), _DECL.name)
    for item in items:
        if item.period > this_month:
            done.append(Outcome(item.line, REJECTED, None, E.PeriodInFuture.code, f"period {item.period:%Y-%m}"))
            continue
        if attached_from is not None and item.period < attached_from:
            done.append(Outcome(item.line, REJECTED, None, E.PeriodArchived.code, f"period {item.period:%Y-%m}"))
            continue
        regs = registrations.get((item.person_id, item.employer_id))
        if not regs:
            done.append(Outcome(item.line, REJECTED, None, E.NotRegistered.code, E.NotRegistered.title))
            continue
        reg = _covering(regs, item.period)
        if reg is None:
            done.append(
                Outcome(item.line, REJECTED, None, E.PeriodBeforeRegistration.code, E.PeriodBeforeRegistration.title)
            )
            continue
        chosen.append((item, reg))
    participations = participations_by_registration(uow, {reg.id for _, reg in chosen})
    for item, reg in chosen:
        bounds, rates = policies.get(uow, reg.region_code, item.period)
        try:
            base = clamped_base(item.declared_base_fen, bounds)
        except (E.BaseInvalid, E.BaseAbsurd) as exc:
            done.append(Outcome(item.line, REJECTED, None, exc.code, exc.detail))
            continue
        key = (item.employer_id, item.person_id, item.period)
        if key in in_batch:  # the same month twice in one request: once is enough, two bases conflict
            first = in_batch[key]
            if first.item.declared_base_fen == item.declared_base_fen:
                repeats.append((item.line, first))
            else:
                done.append(Outcome(item.line, REJECTED, None, E.DeclarationConflict.code,
                                    f"the same month as item {first.item.line} with another base"))  # fmt: skip
            continue
        before = current.get(key)
        if before is not None:
            if before.declared_base_fen == item.declared_base_fen:
                done.append(Outcome(item.line, ALREADY_PRESENT, before.id))
            else:
                done.append(
                    Outcome(
                        item.line,
                        REJECTED,
                        before.id,
                        E.DeclarationConflict.code,
                        f"declared before with base {before.declared_base_fen} fen (declaration {before.id})",
                    )
                )
            continue
        parts = compute_parts(
            base_fen=base,
            types=types_in(participations[reg.id], item.period),
            kind=reg.kind,
            rates=rates,
            industry_class=item.industry_class,
        )
        in_batch[key] = Planned(item, reg, base, parts, declared_late(item.period, today))
        planned.append(in_batch[key])
    return planned, done, repeats


_PENSION, _MEDICAL = InsuranceType.BASIC_PENSION, InsuranceType.EMPLOYEE_MEDICAL


def _legs(
    parts: list[PartAmounts], *, pension: int | None, medical: int | None, pooling: int, clearing: int
) -> list[Leg]:
    total = pension_fen = medical_fen = 0
    for p in parts:  # one pass, the members named once (an enum member's look-up costs, 10,000 parts a batch)
        total += p.employer_fen + p.individual_fen
        if p.insurance_type is _PENSION:
            pension_fen += p.personal_account_fen
        elif p.insurance_type is _MEDICAL:
            medical_fen += p.personal_account_fen
    legs = []
    if pension_fen and pension is not None:
        legs.append(Leg(pension, pension_fen))
    if medical_fen and medical is not None:
        legs.append(Leg(medical, medical_fen))
    if total - pension_fen - medical_fen:
        legs.append(Leg(pooling, total - pension_fen - medical_fen))
    if total:
        legs.append(Leg(clearing, -total))
    return legs


class SystemAccounts:
    """The region's clearing and pooling accounts, opened once and remembered."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], int] = {}

    def get(self, uow: UnitOfWork, kind: str, region_code: str) -> int:
        key = (kind, region_code)
        if key not in self._ids:
            self._ids[key] = open_account(uow, kind=kind, region_code=region_code).id
        return self._ids[key]


_DECL_COLUMNS = ("id", "employer_id", "person_id", "registration_id", "period", "revision", "declared_base_fen",
                 "base_fen", "document_id", "late", "corrected", "superseded", "posting_id", "created_at")  # fmt: skip
_PART_COLUMNS = ("declaration_id", "period", "insurance_type", "employer_fen", "individual_fen", "personal_account_fen")


def write(
    uow: UnitOfWork,
    planned: Sequence[Planned],
    *,
    document: DeclarationDocument,
    actor: Actor,
    today: date,
    system: SystemAccounts,
    corrected: bool = False,
) -> list[Outcome]:
    """Write planned declarations: rows, parts, one posting each, the posting ids. No audit entry here.

    PostgreSQL writes in sets (``db/bulk.py``): ids from the sequences first, then the postings and legs,
    the declarations naming their postings, their parts, each table by one COPY. SQLite writes the
    declarations, their parts, the postings, then the declarations' posting ids."""
    if not planned:
        return []
    now = utcnow()
    in_sets = writes_in_sets(uow)
    ids = (
        next_ids(uow, _DECL, len(planned)) if in_sets else _insert_declarations(uow, planned, document, now, corrected)
    )
    regions = {p.item.person_id: p.registration.region_code for p in planned}
    pension = ensure_personal_accounts(uow, kind=AccountKind.PENSION_PERSONAL, person_regions=regions)
    medical = ensure_personal_accounts(uow, kind=AccountKind.MEDICAL_PERSONAL, person_regions=regions)
    postings, posted_for = [], []
    for did, p in zip(ids, planned, strict=True):
        region = p.registration.region_code
        legs = _legs(
            p.parts,
            pension=pension.get(p.item.person_id),
            medical=medical.get(p.item.person_id),
            pooling=system.get(uow, POOLING_FUND, region),
            clearing=system.get(uow, AccountKind.CONTRIBUTION_CLEARING, region),
        )
        if legs:
            postings.append(
                NewPosting(PostingKind.CONTRIBUTION, legs, today, f"declaration:{did}", f"{p.item.period:%Y-%m}")
            )
            posted_for.append(did)
    if in_sets:
        posting_of = dict(zip(posted_for, post_many_in_sets(uow, postings=postings, actor=actor), strict=True))
        copy_rows(uow, _DECL, _DECL_COLUMNS, (
            (did, p.item.employer_id, p.item.person_id, p.registration.id, p.item.period, p.revision,
             p.item.declared_base_fen, p.base_fen, document.id, p.late, corrected, False, posting_of.get(did), now)
            for did, p in zip(ids, planned, strict=True)
        ))  # fmt: skip
        copy_rows(uow, _PART, _PART_COLUMNS, _part_rows(ids, planned))
    else:
        part_rows = [dict(zip(_PART_COLUMNS, row, strict=True)) for row in _part_rows(ids, planned)]
        if part_rows:
            uow.session.execute(insert(_PART), part_rows)
        posting_ids = post_many(uow, postings=postings, actor=actor)
        if posting_ids:
            uow.session.execute(
                update(_DECL).where(_DECL.c.id == bindparam("did")).values(posting_id=bindparam("pid")),
                [{"did": did, "pid": pid} for did, pid in zip(posted_for, posting_ids, strict=True)],
            )
    return [Outcome(p.item.line, POSTED, did) for did, p in zip(ids, planned, strict=True)]


def _part_rows(ids: Sequence[int], planned: Sequence[Planned]) -> Iterator[tuple[int, date, str, int, int, int]]:
    for did, p in zip(ids, planned, strict=True):
        for part in p.parts:  # a part carries its declaration's month: the partition key (0022)
            yield (
                did,
                p.item.period,
                part.insurance_type.value,
                part.employer_fen,
                part.individual_fen,
                part.personal_account_fen,
            )


def _insert_declarations(
    uow: UnitOfWork, planned: Sequence[Planned], document: DeclarationDocument, now: datetime, corrected: bool
) -> list[int]:
    """SQLite: the declarations inserted (their posting ids come later); their ids, in order."""
    rows = [
        {
            "employer_id": p.item.employer_id,
            "person_id": p.item.person_id,
            "registration_id": p.registration.id,
            "period": p.item.period,
            "revision": p.revision,
            "declared_base_fen": p.item.declared_base_fen,
            "base_fen": p.base_fen,
            "document_id": document.id,
            "late": p.late,
            "corrected": corrected,
            "superseded": False,
            "created_at": now,
        }
        for p in planned
    ]
    return list(uow.session.scalars(insert(_DECL).returning(_DECL.c.id, sort_by_parameter_order=True), rows))


def declare_batch(
    uow: UnitOfWork,
    *,
    items: Sequence[DeclarationInput],
    document: DeclarationDocument,
    actor: Actor,
    today: date | None = None,
    policies: PolicyCache | None = None,
    system: SystemAccounts | None = None,
) -> list[Outcome]:
    """Check and write many declarations (one outcome per item, in line order). The caller audits."""
    today = today or utcnow().date()
    planned, done, repeats = plan(uow, items, today=today, policies=policies or PolicyCache())
    written = write(uow, planned, document=document, actor=actor, today=today, system=system or SystemAccounts())
    id_of = {id(p): o.declaration_id for p, o in zip(planned, written, strict=True)}
    done += written
    done += [Outcome(line, ALREADY_PRESENT, id_of[id(first)]) for line, first in repeats]
    return sorted(done, key=lambda o: o.line)


@dataclass(frozen=True, slots=True)
class DeclarationResult:
    declaration: ContributionDeclaration
    already_present: bool


def _raise(outcome: Outcome) -> None:
    if outcome.status == REJECTED:
        cls = ERRORS.get(outcome.code or "", E.DeclarationInvalid)
        extra = {"declaration_id": outcome.declaration_id} if outcome.declaration_id else {}
        raise cls(outcome.message or None, **extra)


def declare_contribution(
    uow: UnitOfWork,
    *,
    employer_id: int | None,
    person_id: int,
    period: date,
    base_fen: int,
    document: DeclarationDocument,
    actor: Actor,
    industry_class: str | None = None,
    today: date | None = None,
) -> DeclarationResult:
    """Declare one month for one person (INS-3); the same declaration again is already present.

    Nothing is posted for a refused declaration: each refusal is its ``DomainError`` (NOT_REGISTERED,
    PERIOD_IN_FUTURE, PERIOD_BEFORE_REGISTRATION, BASE_INVALID, BASE_ABSURD, DECLARATION_CONFLICT).
    """
    today = today or utcnow().date()
    item = DeclarationInput(1, employer_id, person_id, period.replace(day=1), base_fen, industry_class)
    try:
        with uow.session.begin_nested():
            (outcome,) = declare_batch(uow, items=[item], document=document, actor=actor, today=today)
    except IntegrityError:
        # A concurrent transaction committed the same (employer, person, period) first: now it is visible.
        (outcome,) = declare_batch(uow, items=[item], document=document, actor=actor, today=today)
    _raise(outcome)
    assert outcome.declaration_id is not None  # noqa: S101 - posted or present both name it
    declaration = uow.session.get_one(ContributionDeclaration, outcome.declaration_id)
    record_event(
        uow,
        actor=actor,
        action="insurance.declare",
        subject=person_subject(person_id),
        result=outcome.status,
        details={
            "declaration": declaration.id,
            "employer": employer_id,
            "period": f"{declaration.period:%Y-%m}",
            "declared_base_fen": base_fen,
            "document": document.id,
            "sha256": document.sha256,
        },
    )
    return DeclarationResult(declaration, outcome.status == ALREADY_PRESENT)


def declare_many(
    uow: UnitOfWork,
    *,
    items: Sequence[DeclarationInput],
    document: DeclarationDocument,
    actor: Actor,
    subject: str,
    today: date | None = None,
) -> list[Outcome]:
    """All or nothing: post every new declaration of ``items`` (already present ones are answered as
    such), or raise the first refusal's error with every refusal listed — then nothing is posted.
    One audit entry names the document and its digest (INS-7)."""
    today = today or utcnow().date()

    def attempt() -> list[Outcome]:
        with uow.session.begin_nested():
            outcomes = declare_batch(uow, items=items, document=document, actor=actor, today=today)
            refused = [o for o in outcomes if o.status == REJECTED]
            if refused:
                raise _Refused(refused)  # rolls the savepoint back: nothing of this request is posted
            return outcomes

    try:
        try:
            outcomes = attempt()
        except IntegrityError:
            outcomes = attempt()  # a concurrent transaction committed one of these keys first: now visible
    except _Refused as exc:
        first = exc.refused[0]
        cls = ERRORS.get(first.code or "", E.DeclarationInvalid)
        errors = [{"index": o.line, "code": o.code, "detail": o.message} for o in exc.refused]
        raise cls(f"item {first.line}: {first.message}", index=first.line, errors=errors) from None
    record_event(
        uow,
        actor=actor,
        action="insurance.declare",
        subject=subject,
        details={
            "document": document.id,
            "sha256": document.sha256,
            "posted": sum(1 for o in outcomes if o.status == POSTED),
            "already_present": sum(1 for o in outcomes if o.status == ALREADY_PRESENT),
        },
    )
    return outcomes


class _Refused(Exception):
    def __init__(self, refused: list[Outcome]) -> None:
        super().__init__("refused")
        self.refused = refused

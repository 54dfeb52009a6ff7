"""Yearly statements (INS-4): issue, find, show again, verify.

A statement is issued once per person and year: its file is written first (atomically), then its row,
its delivery notice (the outbox carries a notice that it is ready, never the PDF) and its audit entry
in one transaction. ``issue_rendered`` is the step the batch (``batch.py``) and ``show`` share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select

from sscard.audit import Actor
from sscard.audit.service import AuditEvent, record_event, record_events
from sscard.db.base import utcnow
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.db.statements import dialect_of, member_of
from sscard.identity import mask_id_number, mask_name
from sscard.identity.protected import FieldKind
from sscard.notify.outbox import enqueue_rows, person_notice_values
from sscard.people.models import Person
from sscard.people.service import get_person_by_id_number_or_raise, person_subject
from sscard.statements import codes
from sscard.statements.data import Holder, Lang, StatementData
from sscard.statements.errors import StatementNotFound, StatementNotGenuine, StatementYearInvalid
from sscard.statements.files import read_file, relative_path, write_atomically
from sscard.statements.loading import load_statements
from sscard.statements.models import Statement

CODE = FieldKind("statement_code")  # its own AEAD context: a code copied into another column does not open
FIRST_YEAR = 1990
NOTICE_TOPIC = "statements.available"
_STATEMENT = cast(Table, Statement.__table__)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A statement rendered and written to its file, not yet recorded."""

    data: StatementData
    code: str
    pdf_path: str
    pdf_sha256: str
    pdf_size: int


@dataclass(frozen=True, slots=True)
class Verification:
    """What the public verification discloses: genuine, the year, the masked name and the totals."""

    year: int
    name_masked: str
    region_code: str
    issued_on: date
    totals: dict[str, dict[str, int]]
    content_sha256: str


def check_year(year: int, *, today: date | None = None) -> int:
    """A statement covers a finished year; ``StatementYearInvalid`` otherwise."""
    today = today or utcnow().date()
    if not FIRST_YEAR <= year < today.year:
        raise StatementYearInvalid(f"year {year}: a statement covers a finished year from {FIRST_YEAR} on")
    return year


def holder_of(person: Person) -> Holder:
    return Holder(name=person.name, id_masked=mask_id_number(person.id_number))


def render_and_write(data: StatementData, holder: Holder, *, code: str | None = None) -> Rendered:
    """Render the Chinese statement with a fresh code (or ``code``) and write its file atomically."""
    # reportlab is loaded where a statement is rendered, not by every process that imports this module
    # (the server, the queue workers; issue 18 item 5).
    from sscard.statements.render import render_statement

    code = code or codes.new_code()
    pdf = render_statement(data, holder, code=code, lang="zh")
    path = relative_path(year=data.year, region_code=data.region_code, person_id=data.person_id)
    write_atomically(path, pdf)
    return Rendered(data, code, path, hashlib.sha256(pdf).hexdigest(), len(pdf))


def already_issued(uow: UnitOfWork, person_ids: Sequence[int], *, year: int) -> set[int]:
    person = member_of(Statement.person_id, "person_ids", dialect_of(uow))
    return set(uow.session.scalars(select(Statement.person_id).where(Statement.year == year, person),
                                   {"person_ids": list(person_ids)}))  # fmt: skip


def _notice(year: int) -> tuple[str, str]:
    return (
        f"【社会保障卡】您的{year}年度社会保险个人权益记录单已生成，请登录网上服务平台免费查看和下载。",
        f"Your {year} social insurance statement is ready: sign in to the portal to view and download it "
        "(free of charge).",
    )


def issue_rendered(uow: UnitOfWork, rendered: Sequence[Rendered], *, persons: dict[int, Person], actor: Actor) -> int:
    """Record rendered statements whose (person, year) has none yet, with notice and audit entry; how many.

    The rows go in one executemany of plain values (no ORM objects: a batch only needs their number)."""
    if not rendered:
        return 0
    year = rendered[0].data.year
    present = already_issued(uow, [r.data.person_id for r in rendered], year=year)
    rows: list[dict[str, Any]] = []
    notice_rows: list[dict[str, Any]] = []  # the batch's notices in one executemany, no ORM objects
    events: list[AuditEvent] = []
    text, text_en = _notice(year)
    for item in rendered:
        pid = item.data.person_id
        if pid in present:  # issued meanwhile (a concurrent show, an earlier run): exactly once
            continue
        snapshot = item.data.to_json()
        notices = person_notice_values(persons[pid], topic=NOTICE_TOPIC, text=text, text_en=text_en)
        notice_rows += notices
        rows.append(
            {
                "person_id": pid,
                "year": year,
                "region_code": item.data.region_code,
                "code_digest": codes.code_digest(item.code),
                "code_enc": CODE.seal(codes.normalise(item.code)),
                "content_sha256": item.data.content_digest(snapshot),
                "snapshot": snapshot,
                "pdf_path": item.pdf_path,
                "pdf_sha256": item.pdf_sha256,
                "pdf_size": item.pdf_size,
                "generated_at": utcnow(),
                "notices": len(notices),
                "downloaded_at": None,
            }
        )
        events.append(
            AuditEvent(actor, "statement.issue", person_subject(pid), details={"year": year, "notices": len(notices)})
        )
    if rows:
        uow.session.execute(insert(_STATEMENT), rows)
    enqueue_rows(uow, notice_rows)
    record_events(uow, events)
    return len(rows)


def get_statement(uow: UnitOfWork, *, person_id: int, year: int) -> Statement | None:
    return uow.session.scalar(select(Statement).where(Statement.person_id == person_id, Statement.year == year))


def get_statement_or_raise(uow: UnitOfWork, *, person_id: int, year: int) -> Statement:
    statement = get_statement(uow, person_id=person_id, year=year)
    if statement is None:
        raise StatementNotFound(f"no statement for {year}")
    return statement


def list_statements_of(uow: UnitOfWork, *, person_id: int, page: Keyset | None = None) -> list[Statement]:
    query = select(Statement).where(Statement.person_id == person_id)
    return taken(uow.session.scalars(ordered(query, page, Statement.year.desc(), Statement.id.desc())), page)


def statement_pdf(uow: UnitOfWork, *, statement: Statement, lang: Lang = "zh") -> bytes:
    """The statement's PDF as issued: the stored file when intact, else rendered again from the snapshot."""
    if lang == "zh":
        stored = read_file(statement.pdf_path)
        if stored is not None and hashlib.sha256(stored).hexdigest() == statement.pdf_sha256:
            return stored
    person = uow.session.get(Person, statement.person_id)
    assert person is not None  # noqa: S101 - a foreign key
    code = codes.group(CODE.open(statement.code_enc))
    from sscard.statements.render import render_statement  # see render_and_write

    return render_statement(StatementData.from_json(statement.snapshot), holder_of(person), code=code, lang=lang)


def issue_for(uow: UnitOfWork, *, person: Person, year: int, actor: Actor) -> Statement:
    """The person's statement of ``year``, issued now if the batch has not reached them yet."""
    check_year(year)
    existing = get_statement(uow, person_id=person.id, year=year)
    if existing is not None:
        return existing
    from sscard.statements.loading import contributor_region

    region = contributor_region(uow.session, person_id=person.id, year=year)
    if region is None:
        raise StatementNotFound(f"no personal account by the end of {year}")
    (data,) = load_statements(uow.session, [(person.id, region)], year=year)
    issue_rendered(uow, [render_and_write(data, holder_of(person))], persons={person.id: person}, actor=actor)
    return get_statement_or_raise(uow, person_id=person.id, year=year)


def show_statement(uow: UnitOfWork, *, id_number: str, year: int, lang: Lang, actor: Actor) -> bytes:
    """One person's statement as PDF, by citizen ID (the CLI's ``statements show``), audited."""
    person = get_person_by_id_number_or_raise(uow, id_number)
    statement = issue_for(uow, person=person, year=year, actor=actor)
    pdf = statement_pdf(uow, statement=statement, lang=lang)
    record_event(uow, actor=actor, action="statement.show", subject=person_subject(person.id),
                 details={"year": year, "lang": lang})  # fmt: skip
    return pdf


def verify_code(uow: UnitOfWork, *, code: str, actor: Actor, reads: UnitOfWork | None = None) -> Verification:
    """What a genuine code's statement says in summary; ``StatementNotGenuine`` for any other code.

    The statement is looked up in ``reads`` (a read-only unit of work, the replica's, db/replica.py) when
    given; the audit entry goes to ``uow``."""
    digest = codes.code_digest(code)  # StatementCodeInvalid when malformed
    reading = (reads or uow).session
    statement = reading.scalar(select(Statement).where(Statement.code_digest == digest))
    if statement is None:
        raise StatementNotGenuine()
    person = reading.get(Person, statement.person_id)
    assert person is not None  # noqa: S101 - a foreign key
    data = StatementData.from_json(statement.snapshot)
    # The snapshot is what the code was issued for: an edited row does not pass as genuine either.
    if data.content_digest() != statement.content_sha256:
        raise StatementNotGenuine()
    record_event(uow, actor=actor, action="statement.verify", subject=person_subject(person.id),
                 details={"year": statement.year})  # fmt: skip
    return Verification(
        year=statement.year,
        name_masked=mask_name(person.name),
        region_code=statement.region_code,
        issued_on=_china_date(statement.generated_at),
        totals=data.totals(),
        content_sha256=statement.content_sha256,
    )


def _china_date(at: datetime) -> date:
    from sscard.statements.loading import CHINA

    return at.astimezone(CHINA).date()


def pdf_matches(uow: UnitOfWork, *, code: str, pdf: bytes) -> bool:
    """True when ``pdf`` is byte for byte the statement issued under ``code``, in either language."""
    digest = codes.code_digest(code)
    statement = uow.session.scalar(select(Statement).where(Statement.code_digest == digest))
    if statement is None:
        raise StatementNotGenuine()
    given = hashlib.sha256(pdf).hexdigest()
    if given == statement.pdf_sha256:
        return True
    return any(hashlib.sha256(statement_pdf(uow, statement=statement, lang=lang)).hexdigest() == given
               for lang in ("zh", "en"))  # fmt: skip


def download_statement(uow: UnitOfWork, *, person_id: int, year: int, lang: Lang, actor: Actor) -> bytes:
    """The holder's own statement as PDF (portal), its first download recorded, every download audited."""
    statement = get_statement_or_raise(uow, person_id=person_id, year=year)
    pdf = statement_pdf(uow, statement=statement, lang=lang)
    if statement.downloaded_at is None:
        statement.downloaded_at = utcnow()
    record_event(uow, actor=actor, action="statement.download", subject=person_subject(person_id),
                 details={"year": year, "lang": lang})  # fmt: skip
    return pdf

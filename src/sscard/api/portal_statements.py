"""The holder's yearly statements in the portal (INS-4): the list, and each as PDF, free of charge."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel

from sscard.api.deps import READS, TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.holder_auth import require_holder
from sscard.api.idempotency import IdempotentRoute
from sscard.api.pagination import PAGE, PageQuery
from sscard.credentials.query_password.sessions import HolderSession
from sscard.db.session import UnitOfWork
from sscard.ledger.errors import PeriodArchived
from sscard.statements.errors import StatementNotFound
from sscard.statements.service import download_statement, list_statements_of
from sscard.web.portal.statements import statement_actor

router = APIRouter(prefix="/portal", tags=["portal"], route_class=IdempotentRoute)


class StatementSummary(BaseModel):
    year: int
    region_code: str
    issued_at: datetime
    download_url: str
    downloaded_at: datetime | None


_actor = statement_actor  # the one actor of a holder's statement download, the pages' too


@router.get(
    "/statements",
    response_model=list[StatementSummary],
)
def my_statements(
    holder: HolderSession = Depends(require_holder), page: PageQuery = PAGE, reads: UnitOfWork = READS
) -> list[StatementSummary]:
    """The holder's yearly statements, newest first (issued by the batch: read on the replica if any;
    ``downloaded_at`` may trail a download just made by the replica's lag)."""
    return [
        StatementSummary(
            year=s.year,
            region_code=s.region_code,
            issued_at=s.generated_at,
            download_url=f"/api/v1/portal/statements/{s.year}.pdf",
            downloaded_at=s.downloaded_at,
        )
        for s in list_statements_of(reads, person_id=holder.person_id, page=page)
    ]


@router.get(
    "/statements/{year}.pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}},
        403: {"description": "`PASSWORD_CHANGE_REQUIRED`."},
        404: {"description": "No statement of that year (`STATEMENT_NOT_FOUND`)."},
    },
)
@raises(StatementNotFound, PeriodArchived)
def my_statement_pdf(
    # A four-digit string, not an integer: a year is no row id (the id-range checks of the API's tests).
    year: str = Path(pattern=r"^[0-9]{4}$", description="The year the statement covers, e.g. 2025."),
    lang: Literal["zh", "en"] = Query(default="zh"),
    holder: HolderSession = Depends(require_holder),
    uow: UnitOfWork = TRANSACTION,
) -> Response:
    """One yearly statement as PDF (Chinese; ``?lang=en`` for English)."""
    pdf = download_statement(uow, person_id=holder.person_id, year=int(year), lang=lang, actor=_actor(holder))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="statement-{year}-{lang}.pdf"'},
    )

"""Public verification of a yearly statement (INS-4): ``GET /api/v1/statements/verify/{code}``.

Anyone holding a statement (a bank, a landlord, the holder) may check it without an account. The
answer says only that the code was issued, for which year, to whom (masked name), and the five totals
of each account as printed: a statement whose figures differ from these, or whose code is unknown, is
not genuine. No citizen ID, not even masked, and nothing beyond the printed totals. Codes carry 100
random bits, so answering "unknown" reveals nothing a guesser could use.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from sscard.api.deps import READS, TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.audit import Actor
from sscard.audit.actor import Channel
from sscard.db.session import UnitOfWork
from sscard.statements.errors import StatementCodeInvalid, StatementNotGenuine
from sscard.statements.service import verify_code

router = APIRouter(prefix="/statements", tags=["statements"], route_class=IdempotentRoute)


class AccountTotals(BaseModel):
    opening_fen: int
    credits_fen: int
    interest_fen: int
    debits_fen: int
    closing_fen: int


class VerificationRead(BaseModel):
    genuine: bool = True
    year: int
    name_masked: str = Field(description="The family name only, e.g. 张**.")
    region_code: str
    issued_on: date
    accounts: dict[str, AccountTotals] = Field(description="pension_personal and medical_personal, in fen.")
    content_sha256: str = Field(description="Printed (first 32 characters) on the statement as its content digest.")


@router.get(
    "/verify/{code}",
    response_model=VerificationRead,
)
@raises(StatementNotGenuine, StatementCodeInvalid)
def verify(
    code: str = Path(max_length=40), uow: UnitOfWork = TRANSACTION, reads: UnitOfWork = READS
) -> VerificationRead:
    """Check a statement's verification code; compare the answer's totals with the printed ones."""
    actor = Actor(kind="public", id="verify", channel=Channel.PORTAL)
    found = verify_code(uow, code=code, actor=actor, reads=reads)  # the look-up on the replica, the audit not
    return VerificationRead(
        year=found.year,
        name_masked=found.name_masked,
        region_code=found.region_code,
        issued_on=found.issued_on,
        accounts={kind: AccountTotals(**totals) for kind, totals in found.totals.items()},
        content_sha256=found.content_sha256,
    )

"""The employer API (INS-1, INS-3, INS-5, QPW-5): sign-in, its employees' registrations and declarations.

An employer signs in with its credit code; it sees and changes only its own employees' records (the
session names the employer, no route takes another employer's id). The declaration request body is
kept byte for byte as the original document, its SHA-256 in the audit entry (INS-7).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from sscard.api.deps import TRANSACTION
from sscard.api.employer_auth import current_employer, require_employer
from sscard.api.error_docs import raises
from sscard.api.holder_auth import client_address
from sscard.api.idempotency import IdempotentRoute
from sscard.api.pagination import PAGE, PageQuery
from sscard.cards.errors import CardTypeInvalid
from sscard.credentials.query_password.errors import (
    AccountLocked,
    InvalidCredentials,
    LoginThrottled,
    OldPasswordWrong,
    PasswordWeak,
)
from sscard.db.base import utcnow
from sscard.db.early_commit import Why, commit_early_on
from sscard.db.session import UnitOfWork
from sscard.employers.accounts import (
    EmployerPrincipal,
    change_employer_password,
    employer_actor,
    login_employer,
)
from sscard.employers.errors import EmployerNotFound
from sscard.employers.service import get_employer_or_raise
from sscard.identity.citizen_id import InvalidCitizenId
from sscard.insurance.declarations import DeclarationInput, declare_many
from sscard.insurance.documents import store_document
from sscard.insurance.errors import (
    BaseAbsurd,
    BaseInvalid,
    InsuranceTypeInvalid,
    PeriodInvalid,
    RegistrationDateInvalid,
    RegistrationDuplicate,
    RegistrationUnderage,
)
from sscard.insurance.models import DocumentSource
from sscard.insurance.registration import register_employee
from sscard.insurance.rules import parse_period
from sscard.insurance.schemas import (
    DeclarationOutcome,
    DeclarationRead,
    DeclarationsIn,
    DeclarationsOut,
    RegistrationIn,
    RegistrationOut,
    RegistrationRead,
)
from sscard.insurance.views import employer_declarations, employer_registrations
from sscard.ledger.errors import AccountClosed, AccountNotFound, InsufficientFunds, LegInvalid, LegsUnbalanced
from sscard.people.errors import PersonDeceased, PersonNotFound
from sscard.people.service import get_person_by_id_number_or_raise
from sscard.policy.errors import PolicyInvalid

router = APIRouter(prefix="/employer", tags=["employer"], route_class=IdempotentRoute)
PASSWORD_FIELD = Field(min_length=1, max_length=1024, json_schema_extra={"format": "password"})


class EmployerLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uscc: str = Field(min_length=1, max_length=32, description="The unified social credit code (the account).")
    password: SecretStr = PASSWORD_FIELD


class EmployerLoginOut(BaseModel):
    access_token: str
    must_change_password: bool
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: datetime


class EmployerPasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    old_password: SecretStr = PASSWORD_FIELD
    new_password: SecretStr = PASSWORD_FIELD


async def raw_body(request: Request) -> bytes:
    """The request body exactly as received (Starlette caches it; the JSON model parses the same bytes)."""
    return await request.body()


@router.post(
    "/login",
    response_model=EmployerLoginOut,
)
@raises(InvalidCredentials, CardTypeInvalid, PolicyInvalid, AccountLocked, LoginThrottled)
def login(body: EmployerLoginIn, request: Request, uow: UnitOfWork = TRANSACTION) -> EmployerLoginOut:
    """Sign an employer in with its credit code and password (throttled like the query password)."""
    with commit_early_on(uow, InvalidCredentials, AccountLocked, why=Why.FAILURE_COUNTED):
        result = login_employer(
            uow, uscc=body.uscc, password=body.password.get_secret_value(), source=client_address(request)
        )
    return EmployerLoginOut(
        access_token=result.access_token, must_change_password=result.must_change_password, expires_at=result.expires_at
    )


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
@raises(OldPasswordWrong, CardTypeInvalid, PasswordWeak, PolicyInvalid, AccountLocked, LoginThrottled)
def password(
    body: EmployerPasswordIn,
    request: Request,
    principal: EmployerPrincipal = Depends(current_employer),
    uow: UnitOfWork = TRANSACTION,
) -> Response:
    """Change the employer's password (required after signing in with a temporary one)."""
    # Counted like a failed login (QPW-7): a stolen session cannot guess the password.
    with commit_early_on(uow, OldPasswordWrong, AccountLocked, why=Why.FAILURE_COUNTED):
        change_employer_password(
            uow,
            principal=principal,
            old_password=body.old_password.get_secret_value(),
            new_password=body.new_password.get_secret_value(),
            source=client_address(request),
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/registrations", response_model=list[RegistrationRead])
def registrations(
    principal: EmployerPrincipal = Depends(require_employer), page: PageQuery = PAGE, uow: UnitOfWork = TRANSACTION
) -> list[RegistrationRead]:
    """The employer's employees' insurance registrations, newest first (ID numbers masked)."""
    return employer_registrations(uow, employer_id=principal.employer_id, page=page)


@router.post(
    "/registrations",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationOut,
)
@raises(
    EmployerNotFound,
    PersonNotFound,
    PersonDeceased,
    RegistrationDuplicate,
    InvalidCitizenId,
    InsuranceTypeInvalid,
    RegistrationDateInvalid,
    RegistrationUnderage,
)
def register(
    body: RegistrationIn, principal: EmployerPrincipal = Depends(require_employer), uow: UnitOfWork = TRANSACTION
) -> RegistrationOut:
    """Register an employee (INS-1): registered today; later than start + 30 days it is flagged late."""
    employer = get_employer_or_raise(uow, principal.employer_id)
    person = get_person_by_id_number_or_raise(uow, body.id_number)
    reg = register_employee(
        uow,
        employer=employer,
        person=person,
        employment_start=body.employment_start,
        insurance_types=body.insurance_types,
        actor=employer_actor(employer.id),
    )
    return RegistrationOut(registration_id=reg.id, late=reg.late, days_late=reg.days_late, deadline=reg.deadline)


@router.get("/declarations", response_model=list[DeclarationRead])
@raises(PeriodInvalid)
def declarations(
    period: str | None = None,
    principal: EmployerPrincipal = Depends(require_employer),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[DeclarationRead]:
    """The employer's declarations (optionally of one YYYY-MM period), with their computed totals."""
    month = parse_period(period) if period else None
    return employer_declarations(uow, employer_id=principal.employer_id, period=month, page=page)


@router.post(
    "/declarations",
    response_model=DeclarationsOut,
    responses={
        201: {"description": "At least one declaration was posted."},
        404: {"description": "`PERSON_NOT_FOUND`."},
        409: {"description": "`NOT_REGISTERED`, `DECLARATION_CONFLICT` (with `errors`): nothing posted."},
        422: {"description": "`PERIOD_*`, `BASE_INVALID`, `BASE_ABSURD`, `ID_*` (with `errors`): nothing posted."},
    },
)
@raises(
    EmployerNotFound,
    AccountNotFound,
    PersonNotFound,
    InsufficientFunds,
    AccountClosed,
    BaseAbsurd,
    BaseInvalid,
    InvalidCitizenId,
    LegInvalid,
    LegsUnbalanced,
    PeriodInvalid,
)
def declare(
    body: DeclarationsIn,
    response: Response,
    principal: EmployerPrincipal = Depends(require_employer),
    content: bytes = Depends(raw_body),
    uow: UnitOfWork = TRANSACTION,
) -> DeclarationsOut:
    """Declare monthly contribution bases (INS-3): all or nothing; the same declaration again is already present."""
    actor = employer_actor(principal.employer_id)
    employer = get_employer_or_raise(uow, principal.employer_id)
    items = []
    for i, item in enumerate(body.declarations, start=1):
        person = get_person_by_id_number_or_raise(uow, item.id_number)
        period = parse_period(item.period)
        items.append(DeclarationInput(i, employer.id, person.id, period, item.base_fen, employer.industry_class))
    document = store_document(
        uow, content=content, source=DocumentSource.API, actor=actor, employer_id=principal.employer_id
    )
    outcomes = declare_many(
        uow, items=items, document=document, actor=actor, subject=f"employer:{principal.employer_id}",
        today=utcnow().date(),
    )  # fmt: skip
    if any(o.status == "posted" for o in outcomes):
        response.status_code = status.HTTP_201_CREATED
    return DeclarationsOut(
        document_sha256=document.sha256,
        results=[
            DeclarationOutcome(index=o.line, status=o.status, declaration_id=o.declaration_id or 0)  # type: ignore[arg-type]
            for o in outcomes
        ],
    )

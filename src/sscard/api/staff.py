"""Staff sign-in and session (CH-2): login, logout, who am I, and the staff list for administrators."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, Security, status
from fastapi.security import HTTPAuthorizationCredentials

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.pagination import PAGE, PageQuery
from sscard.api.source import client_address
from sscard.api.staff_auth import StaffPrincipal, require_staff, staff_bearer
from sscard.audit import Channel
from sscard.db.early_commit import Why, commit_early_on
from sscard.db.session import UnitOfWork
from sscard.staff.errors import (
    InvalidCredentials,
    LoginThrottled,
    OtpInvalid,
    OtpRequired,
    OutsideRegion,
    SecondFactorState,
    StaffAccountLocked,
    StaffNotFound,
)
from sscard.staff.roles import ROLE_CHANNEL, Role
from sscard.staff.schemas import StaffLoginIn, StaffLoginOut, StaffRead, StaffReasonIn, TotpConfirmIn, TotpEnrolOut
from sscard.staff.service import get_staff, get_staff_or_raise, list_staff
from sscard.staff.sessions import authenticate_staff, logout_staff, session_id_of, unlock_staff
from sscard.staff.totp import begin_enrolment, confirm_enrolment, requires_second_factor, reset_second_factor

router = APIRouter(prefix="/staff", tags=["staff"], route_class=IdempotentRoute)

_ENROLLING = require_staff(allow_enrolment=True)


@router.post("/login", response_model=StaffLoginOut)  # type: ignore[arg-type]
@raises(InvalidCredentials, OtpInvalid, OtpRequired, StaffAccountLocked, LoginThrottled)
def login(body: StaffLoginIn, request: Request, uow: UnitOfWork = TRANSACTION) -> StaffLoginOut:
    """Sign a staff member in and return an opaque bearer token.

    Security officers, key custodians, auditors and administrators also send `otp`; before they have
    enrolled one they get a session that may only enrol (`second_factor: enrolment_required`)."""
    # The failure counters and their audit entry must survive the error response (throttling).
    with commit_early_on(
        uow, InvalidCredentials, LoginThrottled, StaffAccountLocked, OtpRequired, OtpInvalid, why=Why.FAILURE_COUNTED
    ):
        result = authenticate_staff(
            uow, username=body.username, password=body.password, otp=body.otp, source=client_address(request.scope)
        )
    p = result.principal
    second = "enrolment_required" if result.enrol_only else ("verified" if requires_second_factor(p.role) else "none")
    return StaffLoginOut(
        access_token=result.access_token, role=p.role, region=p.region_code, expires_at=result.expires_at,
        second_factor=second,
    )  # fmt: skip


@router.post("/totp/enrol", response_model=TotpEnrolOut)
@raises(StaffNotFound, SecondFactorState)
def totp_enrol(staff: StaffPrincipal = Depends(_ENROLLING), uow: UnitOfWork = TRANSACTION) -> TotpEnrolOut:
    """Start enrolling a TOTP second factor: the secret, shown this once as an otpauth URI."""
    account = get_staff_or_raise(uow, staff.username)
    return TotpEnrolOut(otpauth_uri=begin_enrolment(uow, account=account, actor=staff.actor(_channel(staff))))


@router.post("/totp/confirm", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
@raises(OtpInvalid, StaffNotFound, SecondFactorState)
def totp_confirm(
    body: TotpConfirmIn,
    staff: StaffPrincipal = Depends(_ENROLLING),
    credentials: HTTPAuthorizationCredentials | None = Security(staff_bearer),
    uow: UnitOfWork = TRANSACTION,
) -> Response:
    """Confirm the enrolment with a first code; from now on every login needs one."""
    account = get_staff_or_raise(uow, staff.username)
    session_id = session_id_of(uow, token=credentials.credentials) if credentials is not None else None
    with commit_early_on(uow, OtpInvalid, why=Why.FAILURE_COUNTED):  # the failed attempt stays audited
        confirm_enrolment(uow, account=account, otp=body.otp, session_id=session_id, actor=staff.actor(_channel(staff)))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{username}/unlock", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
@raises(OutsideRegion, StaffNotFound)
def unlock(
    username: str, staff: StaffPrincipal = Depends(require_staff(Role.ADMINISTRATOR)), uow: UnitOfWork = TRANSACTION
) -> Response:
    """Lift the hard lock (and any wait) of a staff account in the administrator's region; audited."""
    if get_staff(uow, username) is None:
        raise StaffNotFound("no staff account with that username")
    unlock_staff(uow, username=username, actor=staff.actor(_channel(staff)))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{username}/totp/reset", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
@raises(OutsideRegion, StaffNotFound)
def totp_reset(
    username: str,
    body: StaffReasonIn,
    staff: StaffPrincipal = Depends(require_staff(Role.ADMINISTRATOR)),
    uow: UnitOfWork = TRANSACTION,
) -> Response:
    """Recovery: forget a staff member's second factor (lost phone) and end their sessions; audited."""
    account = get_staff_or_raise(uow, username)
    reset_second_factor(uow, account=account, actor=staff.actor(_channel(staff)), reason=body.reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _channel(staff: StaffPrincipal) -> Channel:
    return Channel(ROLE_CHANNEL.get(staff.role, "admin"))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout(
    staff: StaffPrincipal = Depends(_ENROLLING),
    credentials: HTTPAuthorizationCredentials | None = Security(staff_bearer),
    uow: UnitOfWork = TRANSACTION,
) -> Response:
    """End the current session; its token stops working at once."""
    if credentials is not None:
        logout_staff(uow, token=credentials.credentials, principal=staff)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=StaffRead)
def me(staff: StaffPrincipal = Depends(_ENROLLING)) -> StaffRead:
    """Describe the signed-in staff member."""
    return StaffRead(username=staff.username, role=staff.role, region=staff.region_code, bank_code=staff.bank_code)


@router.get("", response_model=list[StaffRead])
def staff_in_region(
    staff: StaffPrincipal = Depends(require_staff(Role.ADMINISTRATOR)),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[StaffRead]:
    """List the staff accounts inside the administrator's region."""
    return [
        StaffRead(
            username=a.username,
            display_name=a.display_name,
            role=a.role,
            region=a.region_code,
            active=a.active,
            bank_code=a.bank_code,
        )
        for a in list_staff(uow, region_code=staff.region_code, page=page)
    ]

"""The web portal of the holder: login with the query password, change it, forgot it (QPW-1..QPW-8).

No portal route takes a card PIN, and the password checked here is never a PIN (PIN-10): there is no
field, no service call and no counter shared with the card's PIN (QPW-8). Until the initial or a
temporary password is changed, a token opens only the password change, the liability notice and
logout; every other holder route answers 403 ``PASSWORD_CHANGE_REQUIRED`` (QPW-2, QPW-4).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.holder_auth import client_address, current_holder, require_holder
from sscard.api.idempotency import IdempotentRoute
from sscard.captcha.errors import CaptchaInvalid, CaptchaRequired
from sscard.captcha.service import issue_captcha
from sscard.cards.errors import CardTypeInvalid
from sscard.cards.numbers import mask_card_no
from sscard.cards.service import list_cards_of_person
from sscard.credentials.query_password.errors import (
    AccountLocked,
    InvalidCredentials,
    LoginThrottled,
    NoticeVersionUnknown,
    OldPasswordWrong,
    PasswordWeak,
    RecoveryInputInvalid,
)
from sscard.credentials.query_password.notices import LIABILITY_NOTICE
from sscard.credentials.query_password.recovery import request_temporary_password
from sscard.credentials.query_password.service import acknowledge_notice, change_password, login_holder
from sscard.credentials.query_password.sessions import HolderSession, end_session
from sscard.db.base import utcnow
from sscard.db.early_commit import Why, commit_early_on
from sscard.db.session import UnitOfWork
from sscard.identity import mask_id_number, mask_name
from sscard.identity.citizen_id import InvalidCitizenId
from sscard.notify.errors import NotifyInvalid
from sscard.people.errors import PersonNotFound
from sscard.people.service import get_person_or_raise
from sscard.policy.errors import PolicyInvalid

router = APIRouter(prefix="/portal", tags=["portal"], route_class=IdempotentRoute)

PASSWORD_FIELD = Field(min_length=1, max_length=1024, json_schema_extra={"format": "password"})


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(min_length=1, max_length=32, description="18-character citizen ID (the account).")
    password: SecretStr = PASSWORD_FIELD
    # Only where the region's policy asks for it (login_captcha_after_failures): GET /portal/captcha.
    captcha_id: str | None = Field(default=None, min_length=1, max_length=48)
    captcha_answer: str | None = Field(default=None, min_length=1, max_length=16)


class NoticeRead(BaseModel):
    version: str
    text_zh: str
    text_en: str


class LoginOut(BaseModel):
    access_token: str
    must_change_password: bool
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: datetime
    liability_notice: NoticeRead | None = Field(default=None, description="Shown until the password is changed.")


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    old_password: SecretStr = PASSWORD_FIELD
    new_password: SecretStr = PASSWORD_FIELD


class NoticeAckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=16)


class CaptchaOut(BaseModel):
    captcha_id: str
    image_png_base64: str = Field(description="The challenge as a PNG image, base64.")
    expires_at: datetime


class ForgotPasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(min_length=1, max_length=32)
    user_type: Literal["individual", "employer", "other"]
    channel: Literal["sms", "email"]
    captcha_id: str = Field(min_length=1, max_length=48)
    captcha_answer: str = Field(min_length=1, max_length=16)


class ForgotPasswordOut(BaseModel):
    status: Literal["accepted"] = "accepted"
    message: str = (
        "If the account exists and has this contact on file, a temporary password has been sent to it. "
        "It works once and expires soon; sign in with it and set a new password."
    )
    message_zh: str = "如账号存在且预留了所选联系方式，临时密码已发送，仅可使用一次且很快失效，请登录后立即修改密码。"


class CardSummary(BaseModel):
    card_no_masked: str
    card_type: str
    state: str


class HolderRead(BaseModel):
    name_masked: str
    id_number_masked: str
    cards: list[CardSummary]


def _notice() -> NoticeRead:
    return NoticeRead(
        version=LIABILITY_NOTICE.version, text_zh=LIABILITY_NOTICE.text_zh, text_en=LIABILITY_NOTICE.text_en
    )


@router.post("/login", response_model=LoginOut)
@raises(
    InvalidCredentials,
    CardTypeInvalid,
    InvalidCitizenId,
    PolicyInvalid,
    AccountLocked,
    LoginThrottled,
    CaptchaRequired,
    CaptchaInvalid,
)
def login(body: LoginIn, request: Request, uow: UnitOfWork = TRANSACTION) -> LoginOut:
    """Sign in with the ID number and the query password (the initial one is the ID's last 8, X→0), and
    the captcha (`GET /portal/captcha`) where the region's policy asks for one."""
    # The failure counters and their audit entry must outlive the error response (QPW-7).
    with commit_early_on(uow, InvalidCredentials, AccountLocked, CaptchaInvalid, why=Why.FAILURE_COUNTED):
        result = login_holder(
            uow, id_number=body.id_number, password=body.password.get_secret_value(), source=client_address(request),
            captcha_id=body.captcha_id, captcha_answer=body.captcha_answer,
        )  # fmt: skip
    return LoginOut(
        access_token=result.access_token,
        must_change_password=result.must_change_password,
        expires_at=result.expires_at,
        liability_notice=_notice() if result.must_change_password else None,
    )


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
@raises(
    OldPasswordWrong,
    PersonNotFound,
    CardTypeInvalid,
    NotifyInvalid,
    PasswordWeak,
    PolicyInvalid,
    AccountLocked,
    LoginThrottled,
)
def password(
    body: PasswordChangeIn,
    request: Request,
    holder: HolderSession = Depends(current_holder),
    uow: UnitOfWork = TRANSACTION,
) -> Response:
    """Change the query password; allowed (and required) right after signing in with the initial one."""
    # Counted like a failed login: a stolen session cannot guess the password.
    with commit_early_on(uow, OldPasswordWrong, AccountLocked, why=Why.FAILURE_COUNTED):
        change_password(
            uow,
            session=holder,
            old_password=body.old_password.get_secret_value(),
            new_password=body.new_password.get_secret_value(),
            source=client_address(request),
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/liability-notice", response_model=NoticeRead)
def liability_notice() -> NoticeRead:
    """The liability notice shown until the initial password is changed (QPW-4)."""
    return _notice()


@router.post("/liability-notice/acknowledgements", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
@raises(NoticeVersionUnknown)
def acknowledge(
    body: NoticeAckIn, holder: HolderSession = Depends(current_holder), uow: UnitOfWork = TRANSACTION
) -> Response:
    """Record that the holder read and acknowledged this version of the liability notice (QPW-4)."""
    acknowledge_notice(uow, session=holder, version=body.version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout(holder: HolderSession = Depends(current_holder), uow: UnitOfWork = TRANSACTION) -> Response:
    """End this session; its token stops working at once."""
    end_session(uow, session_id=holder.session_id, now=utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me",
    response_model=HolderRead,
)
@raises(PersonNotFound)
def me(holder: HolderSession = Depends(require_holder), uow: UnitOfWork = TRANSACTION) -> HolderRead:
    """The signed-in holder, masked, and the state of their cards."""
    person = get_person_or_raise(uow, holder.person_id)
    cards = [
        CardSummary(card_no_masked=mask_card_no(c.card_no), card_type=c.card_type.value, state=c.state.value)
        for c in list_cards_of_person(uow, person_id=person.id)
    ]
    return HolderRead(
        name_masked=mask_name(person.name),
        id_number_masked=mask_id_number(person.id_number),
        cards=cards,
    )


@router.get("/captcha", response_model=CaptchaOut)
def captcha(uow: UnitOfWork = TRANSACTION) -> CaptchaOut:
    """A new image captcha for the forgot-password form: single use, expires in a few minutes."""
    issued = issue_captcha(uow)
    return CaptchaOut(
        captcha_id=issued.captcha_id,
        image_png_base64=base64.b64encode(issued.png).decode(),
        expires_at=issued.expires_at,
    )


@router.post(
    "/forgot-password",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ForgotPasswordOut,
)
@raises(CaptchaInvalid, CardTypeInvalid, InvalidCitizenId, NotifyInvalid, PolicyInvalid, RecoveryInputInvalid)
def forgot_password(body: ForgotPasswordIn, request: Request, uow: UnitOfWork = TRANSACTION) -> ForgotPasswordOut:
    """Send a temporary password to the phone or e-mail on file; the answer never says whether it exists."""
    with commit_early_on(uow, CaptchaInvalid, why=Why.FAILURE_COUNTED):  # a wrong guess spends the captcha
        request_temporary_password(
            uow,
            id_number=body.id_number,
            user_type=body.user_type,
            channel=body.channel,
            captcha_id=body.captcha_id,
            captcha_answer=body.captcha_answer,
            source=client_address(request),
        )
    return ForgotPasswordOut()

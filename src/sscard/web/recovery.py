"""Forgot password (QPW-5) for the portal and the employer pages: the form with a new captcha, and the
request through ``request_temporary_password`` with the same answer whether or not the account exists."""

from __future__ import annotations

import base64

from fastapi import Response

from sscard.captcha.errors import CaptchaInvalid
from sscard.captcha.service import issue_captcha
from sscard.credentials.query_password.recovery import request_temporary_password
from sscard.db.early_commit import Why, commit_early_on
from sscard.errors import DomainError
from sscard.web.page import Page
from sscard.web.source import client_address


def recovery_form(page: Page, template: str, *, status: int = 200, errors: dict[str, str] | None = None,
                  values: dict[str, str] | None = None) -> Response:  # fmt: skip
    """The form with a new captcha (each is single use: a refused try needs a new one)."""
    issued = issue_captcha(page.uow)
    return page.render(template, status=status, title=page.gettext("Forgot password"), errors=errors or {},
                       values=values or {"user_type": "individual", "channel": "sms"},
                       captcha_id=issued.captcha_id, captcha_png=base64.b64encode(issued.png).decode())  # fmt: skip


def request_recovery(page: Page, template: str, *, account_field: str, account: str, user_type: str,
                     channel: str, captcha_id: str, captcha_answer: str, errors: dict[str, str],
                     done_url: str) -> Response:  # fmt: skip
    """Check the form (``errors``: the caller's own field checks), ask for the temporary password, answer."""
    values = {account_field: account, "user_type": user_type, "channel": channel}
    if user_type not in ("individual", "employer", "other"):
        errors["user_type"] = page.gettext("Choose who you are.")
    if channel not in ("sms", "email"):
        errors["channel"] = page.gettext("Choose where to send the temporary password.")
    if not captcha_answer.strip():
        errors["captcha_answer"] = page.gettext("Type the characters shown in the image.")
    if errors:
        return recovery_form(page, template, status=422, errors=errors, values=values)
    try:
        with commit_early_on(page.uow, CaptchaInvalid, why=Why.FAILURE_COUNTED):  # a wrong guess spends it
            request_temporary_password(
                page.uow, id_number=account, user_type=user_type, channel=channel, captcha_id=captcha_id[:48],
                captcha_answer=captcha_answer.strip()[:16], source=client_address(page.request.scope),
            )  # fmt: skip
    except CaptchaInvalid as exc:
        return recovery_form(page, template, status=exc.status, errors={"captcha_answer": page.refused(exc)},
                             values=values)  # fmt: skip
    except DomainError as exc:
        return recovery_form(page, template, status=exc.status, errors={account_field: page.refused(exc)},
                             values=values)  # fmt: skip
    # The same answer whether or not the account or the contact exists (QPW-5).
    page.flash(
        page.gettext(
            "If the account exists and has this contact on file, a temporary password has been sent to it. "
            "It works once and expires soon: sign in with it and set a new password."
        )
    )
    return page.redirect(done_url)

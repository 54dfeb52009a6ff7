"""One action per rendered form: a second POST of the same form shows the first answer and does nothing.

Every form of the pages (``forms.form``) carries a one-time ``form_token``, fresh at each rendering. A
POST of a signed-in session with one is handled like an API request with an ``Idempotency-Key``
(``sscard.idempotency.service``, the API's own machinery): the token is claimed for the page session
in the request's transaction before the route acts, so a double click's second POST waits for the first
to commit; the same form again (same fields) then gets the first answer, a redirect to the same page
with the same messages, and nothing moves; another body under the token (the form edited after Back)
is refused with ``FORM_ALREADY_SENT``. Only redirects (POST-redirect-GET, the pages' answer to a done
change) are kept, never a rendered page (it can hold personal data) nor an answer setting a new session
cookie: such a claim stays unanswered, and a repeat is decided again, as a refused one (rolled back).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from fastapi import Request, Response
from starlette.datastructures import UploadFile

from sscard.idempotency import service
from sscard.idempotency.errors import IdempotencyKeyReused
from sscard.page_sessions.service import form_scope
from sscard.web.errors import FormAlreadySent

FORM_FIELD = "form_token"  # the hidden field of every form (macros/forms.html)
#: Where the async handler leaves the posted form's token and digest for the endpoint's wrapper.
SCOPE_KEY = "sscard.page_form"


def new_form_token() -> str:
    return secrets.token_urlsafe(18)


async def _file_digest(upload: UploadFile) -> str:
    h = hashlib.sha256()
    while chunk := await upload.read(1 << 20):
        h.update(chunk)
    await upload.seek(0)  # the route reads the same file
    return h.hexdigest()


async def note_posted_form(request: Request) -> None:
    """Before the route runs: the POSTed form's token and digest (fields, files by content), if it has one.

    A multipart body differs at each sending (its boundary), so the digest is over the parsed fields."""
    if request.method != "POST":
        return
    form = await request.form()  # parsed once; the route's Form fields read the same
    token = form.get(FORM_FIELD)
    if not isinstance(token, str) or not token:
        return
    fields: list[list[str]] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            value = f"file:{value.filename}:{await _file_digest(value)}"
        fields.append([name, value])
    body = json.dumps(fields, ensure_ascii=False).encode()
    request.scope[SCOPE_KEY] = (token, service.request_digest(method="POST", path=request.url.path, body=body))


def _scope(page: Any) -> str | None:
    """The page session's own scope; None when no one is signed in (sign-in and recovery forms)."""
    state = page.session
    if state is None or not state.principal:
        return None
    return form_scope(state.row.id)


class FormOnce:
    """One POST's claim on its form token (see the module docstring); a no-op without one."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.claim: service.Stored | None = None
        noted = page.request.scope.get(SCOPE_KEY)
        scope = _scope(page)
        if noted is None or scope is None:
            return
        token, digest = noted
        try:
            self.claim = service.begin(page.uow, scope=scope, key=f"form:{token}"[:128], digest=digest)
        except IdempotencyKeyReused as exc:
            raise FormAlreadySent() from exc

    def replay(self) -> Response | None:
        """The first answer again (its messages shown again), when this form was already answered."""
        if self.claim is None or not self.claim.replayed:
            return None
        answer = self.claim.answer or {}
        state = self.page.ensure_session()
        pending = state.data.get("flash", [])
        for kind, message in answer.get("flash", []):
            if [kind, message] not in pending:  # the first's redirect was never followed: shown once, not twice
                self.page.flash(str(message), str(kind))
        return self.page.redirect(str(answer.get("location", f"/{self.page.channel}/")))

    def keep(self, response: Response) -> None:
        """Keep a redirect (and the messages it carries to the next page) with the claim, before the commit."""
        state = self.page.session
        if self.claim is None or not 300 <= response.status_code < 400 or state is None or state.token:
            return  # not a redirect, or it sets a new session cookie (a secret): decided again when repeated
        answer = {"location": response.headers.get("location", ""), "flash": state.data.get("flash", [])}
        service.finish(self.page.uow, claim=self.claim, answer=answer, status_code=response.status_code)

"""One console step: the service call inside ``refusals_audited`` (a refusal rolled back and audited,
CH-4), then a flash and POST-redirect-GET, or the page again with the refusal's words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Response, UploadFile

from sscard.errors import DomainError
from sscard.key_register.documents import MAX_SIZE
from sscard.key_register.errors import DocumentInvalid
from sscard.web.console.auth import StaffPage
from sscard.web.refusals import refusals_audited

#: Renders the page again: ``(status, errors) -> Response``.
Again = Callable[[int, dict[str, str]], Response]


def run_step(current: StaffPage, *, action: str, subject: str, call: Callable[[], Any],
             done: str | Callable[[Any], str], again: Again, to: str | Callable[[Any], str]) -> Response:  # fmt: skip
    """Run ``call``; on success flash ``done`` (or ``done(result)``) and redirect to ``to`` (or ``to(result)``)."""
    page = current.page
    try:
        with refusals_audited(page.uow, actor=current.actor(), action=action, subject=subject):
            result = call()
    except DomainError as exc:
        return again(exc.status, {"_form": page.refused(exc)})
    page.flash(done if isinstance(done, str) else done(result))
    return page.redirect(to if isinstance(to, str) else to(result))


def upload(file: UploadFile | None) -> dict[str, Any]:
    """An uploaded document as the key register's services take it (refused above the size limit)."""
    if file is None or not file.filename:
        raise DocumentInvalid("choose the document to upload")
    content = file.file.read(MAX_SIZE + 1)
    if len(content) > MAX_SIZE:
        raise DocumentInvalid(f"the document exceeds {MAX_SIZE // (1024 * 1024)} MiB")
    return {"filename": file.filename, "content": content, "media_type": file.content_type}

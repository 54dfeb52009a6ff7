"""Employer pages: parse the form, call the services the employer API calls, render (INS-1, INS-3, QPW-5).

The employer is the one of the session: no page takes another employer's id. A CSV upload runs the
contributions import job of the CLI (``jobs/contributions_import.py``), restricted to this employer's
lines, in a thread; its page shows the progress and the rejected lines.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from fastapi import Depends, File, Form, Response, UploadFile

from sscard.config import get_settings
from sscard.credentials.query_password.errors import AccountLocked, InvalidCredentials, OldPasswordWrong
from sscard.db.base import utcnow
from sscard.db.early_commit import Why, commit_early_on
from sscard.employers.accounts import change_employer_password, employer_actor, login_employer
from sscard.employers.service import get_employer_or_raise
from sscard.errors import DomainError
from sscard.identity import mask_id_number
from sscard.imports.service import find_job, list_row_errors
from sscard.imports.source import read_header, scan_file
from sscard.insurance.declarations import DeclarationInput, declare_many
from sscard.insurance.documents import store_document
from sscard.insurance.models import DocumentSource
from sscard.insurance.registration import register_employee
from sscard.insurance.rules import days_late, parse_period, registration_deadline
from sscard.insurance.views import employer_declarations, employer_registrations
from sscard.jobs.contributions_import import COLUMNS, import_contributions, job_kind
from sscard.people.service import get_person_by_id_number_or_raise
from sscard.web import i18n
from sscard.web.employer.auth import CHANGE_URL, EmployerPage, current_employer, employer_page, require_employer
from sscard.web.errors import PageNotFound
from sscard.web.page import Page, page_router
from sscard.web.recovery import recovery_form, request_recovery
from sscard.web.source import client_address

router = page_router("employer")
MAX_UPLOAD = 20 * 1024 * 1024  # a month's declarations of a large employer fit many times over


def _login_page(page: Page, *, status: int = 200, errors: dict[str, str] | None = None, uscc: str = "") -> Response:
    return page.render("employer/login.html", status=status, title=page.gettext("Sign in"), errors=errors or {},
                       values={"uscc": uscc})  # fmt: skip


@router.get("/")
def start(page: Page = Depends(employer_page)) -> Response:
    if page.auth_token() is not None:
        return page.redirect("/employer/home")
    return _login_page(page)


@router.post("/login")
def login(page: Page = Depends(employer_page), uscc: str = Form(""), password: str = Form("")) -> Response:
    code = uscc.strip().upper()[:32]
    errors: dict[str, str] = {}
    if not code:
        errors["uscc"] = page.gettext("Enter the unified social credit code.")
    if not password:
        errors["password"] = page.gettext("Enter the password.")
    if errors:
        return _login_page(page, status=422, errors=errors, uscc=code)
    try:
        # The failure counters and their audit entry outlive the refusal (QPW-7), as in the API.
        with commit_early_on(page.uow, InvalidCredentials, AccountLocked, why=Why.FAILURE_COUNTED):
            result = login_employer(page.uow, uscc=code, password=password[:1024],
                                    source=client_address(page.request.scope))  # fmt: skip
    except DomainError as exc:
        return _login_page(page, status=exc.status, errors={"_form": page.refused(exc)}, uscc=code)
    page.sign_in(auth_token=result.access_token, principal="employer")
    return page.redirect(CHANGE_URL if result.must_change_password else "/employer/home")


@router.get("/forgot-password")
def forgot_form(page: Page = Depends(employer_page)) -> Response:
    """QPW-5 for employers (user type employer): the credit code is the account; the temporary password
    goes by SMS to the contact phone on file (the only channel employers' accounts have)."""
    return recovery_form(page, "employer/forgot.html", values={"user_type": "employer", "channel": "sms"})


@router.post("/forgot-password")
def forgot(
    page: Page = Depends(employer_page),
    uscc: str = Form(""),
    captcha_id: str = Form(""),
    captcha_answer: str = Form(""),
) -> Response:
    code = uscc.strip().upper()[:32]
    errors = {} if code else {"uscc": page.gettext("Enter the unified social credit code.")}
    return request_recovery(page, "employer/forgot.html", account_field="uscc", account=code, user_type="employer",
                            channel="sms", captcha_id=captcha_id, captcha_answer=captcha_answer, errors=errors,
                            done_url="/employer/")  # fmt: skip


@router.post("/logout")
def logout(page: Page = Depends(employer_page)) -> Response:
    page.sign_out()
    page.flash(page.gettext("You have signed out."))
    return page.redirect("/employer/")


@router.get("/password")
def password_form(current: EmployerPage = Depends(current_employer)) -> Response:
    page = current.page
    return page.render("employer/password.html", title=page.gettext("Change password"), errors={},
                       must_change=current.employer.must_change)  # fmt: skip


@router.post("/password")
def password_change(
    current: EmployerPage = Depends(current_employer),
    old_password: str = Form(""),
    new_password: str = Form(""),
    new_password_again: str = Form(""),
) -> Response:
    page = current.page
    errors: dict[str, str] = {}
    if not old_password:
        errors["old_password"] = page.gettext("Enter your current password.")
    if not new_password:
        errors["new_password"] = page.gettext("Enter a new password.")
    elif new_password != new_password_again:
        errors["new_password_again"] = page.gettext("The two new passwords are not the same.")
    if not errors:
        try:
            with commit_early_on(page.uow, OldPasswordWrong, AccountLocked, why=Why.FAILURE_COUNTED):
                change_employer_password(
                    page.uow, principal=current.employer, old_password=old_password[:1024],
                    new_password=new_password[:1024], source=client_address(page.request.scope),
                )  # fmt: skip
        except AccountLocked as exc:
            page.refused(exc)
            page.sign_out()
            page.flash(page.error_message(exc), "error")
            return page.redirect("/employer/")
        except DomainError as exc:
            field = "old_password" if isinstance(exc, OldPasswordWrong) else "new_password"
            errors[field] = page.refused(exc)
            status = exc.status
        else:
            page.flash(page.gettext("Your password has been changed. Other sessions have been signed out."))
            return page.redirect("/employer/home")
    else:
        status = 422
    return page.render("employer/password.html", status=status, title=page.gettext("Change password"),
                       errors=errors, must_change=current.employer.must_change)  # fmt: skip


@router.get("/home")
def home(current: EmployerPage = Depends(require_employer)) -> Response:
    page = current.page
    employer = get_employer_or_raise(page.uow, current.employer.employer_id)
    return page.render("employer/home.html", title=page.gettext("Employer services"), employer=employer)


# --- registrations (INS-1) -------------------------------------------------------------------------


def _registrations_page(current: EmployerPage, *, status: int = 200, errors: dict[str, str] | None = None,
                        values: dict[str, str] | None = None) -> Response:  # fmt: skip
    page = current.page
    rows = employer_registrations(page.uow, employer_id=current.employer.employer_id)
    return page.render("employer/registrations.html", status=status, title=page.gettext("Employee registrations"),
                       rows=rows, errors=errors or {}, values=values or {})  # fmt: skip


@router.get("/registrations")
def registrations(current: EmployerPage = Depends(require_employer)) -> Response:
    return _registrations_page(current)


def _registration_input(page: Page, id_number: str, employment_start: str) -> tuple[dict[str, str], date | None]:
    errors: dict[str, str] = {}
    start = None
    if not id_number.strip():
        errors["id_number"] = page.gettext("Enter the employee's citizen ID number.")
    try:
        start = date.fromisoformat(employment_start.strip())
    except ValueError:
        errors["employment_start"] = page.gettext("Enter the first day of employment as a date.")
    return errors, start


@router.post("/registrations/check")
def registration_check(
    current: EmployerPage = Depends(require_employer), id_number: str = Form(""), employment_start: str = Form("")
) -> Response:
    """Before submitting: the 30-day deadline and, past it, how many days late (INS-1), from the rules."""
    page = current.page
    values = {"id_number": id_number.strip()[:32], "employment_start": employment_start.strip()[:10]}
    errors, start = _registration_input(page, id_number, employment_start)
    if errors or start is None:
        return _registrations_page(current, status=422, errors=errors, values=values)
    today = utcnow().date()
    return page.render(
        "employer/registration_check.html", title=page.gettext("Check the registration"), values=values,
        deadline=registration_deadline(start), days_late=days_late(employment_start=start, registered_on=today),
        today=today, errors={}, masked_id=mask_id_number(values["id_number"]), start=start,
    )  # fmt: skip


@router.post("/registrations")
def register(
    current: EmployerPage = Depends(require_employer), id_number: str = Form(""), employment_start: str = Form("")
) -> Response:
    page = current.page
    values = {"id_number": id_number.strip()[:32], "employment_start": employment_start.strip()[:10]}
    errors, start = _registration_input(page, id_number, employment_start)
    if errors or start is None:
        return _registrations_page(current, status=422, errors=errors, values=values)
    try:
        employer = get_employer_or_raise(page.uow, current.employer.employer_id)
        person = get_person_by_id_number_or_raise(page.uow, values["id_number"])
        reg = register_employee(page.uow, employer=employer, person=person, employment_start=start,
                                actor=employer_actor(employer.id))  # fmt: skip
    except DomainError as exc:
        return _registrations_page(current, status=exc.status, errors={"_form": page.refused(exc)}, values=values)
    if reg.late:
        page.flash(
            page.gettext(
                "Registered late: %(days)s days after the deadline of %(deadline)s. The agency "
                "decides whether a late premium is due."
            )
            % {"days": reg.days_late, "deadline": reg.deadline.isoformat()}
        )
    else:
        page.flash(page.gettext("Registered within the deadline."))
    return page.redirect("/employer/registrations")


# --- declarations (INS-3) --------------------------------------------------------------------------


def _declarations_page(current: EmployerPage, *, status: int = 200, errors: dict[str, str] | None = None,
                       values: dict[str, str] | None = None, period: str = "", line_errors: list | None = None
                       ) -> Response:  # fmt: skip
    page = current.page
    month = None
    filter_error = ""
    if period:
        try:
            month = parse_period(period)
        except DomainError as exc:
            filter_error = page.error_message(exc)
    rows = employer_declarations(page.uow, employer_id=current.employer.employer_id, period=month)
    return page.render("employer/declarations.html", status=status, title=page.gettext("Contribution declarations"),
                       rows=rows, errors=errors or {}, values=values or {}, period=period[:7],
                       filter_error=filter_error, line_errors=line_errors or [])  # fmt: skip


@router.get("/declarations")
def declarations(current: EmployerPage = Depends(require_employer), period: str = "") -> Response:
    return _declarations_page(current, period=period.strip())


def _fen(text: str) -> int | None:
    """Yuan as typed (at most two decimals) in fen; None when it is not such an amount."""
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")) or abs(value) > Decimal(10) ** 12:
        return None
    return int(value * 100)


@router.post("/declarations")
def declare(
    current: EmployerPage = Depends(require_employer),
    id_number: str = Form(""),
    period: str = Form(""),
    base_yuan: str = Form(""),
) -> Response:
    """One line, declared like one item of the API's declarations (all or nothing, audited, kept)."""
    page = current.page
    values = {"id_number": id_number.strip()[:32], "period": period.strip()[:7], "base_yuan": base_yuan.strip()[:20]}
    errors: dict[str, str] = {}
    if not values["id_number"]:
        errors["id_number"] = page.gettext("Enter the employee's citizen ID number.")
    if not values["period"]:
        errors["period"] = page.gettext("Enter the month as YYYY-MM.")
    base_fen = _fen(values["base_yuan"])
    if base_fen is None:
        errors["base_yuan"] = page.gettext("Enter the contribution base in yuan, e.g. 8000.00.")
    if errors or base_fen is None:
        return _declarations_page(current, status=422, errors=errors, values=values)
    principal = current.employer
    actor = employer_actor(principal.employer_id)
    try:
        employer = get_employer_or_raise(page.uow, principal.employer_id)
        person = get_person_by_id_number_or_raise(page.uow, values["id_number"])
        month = parse_period(values["period"])
        content = f"uscc,id_number,period,base_fen\n{employer.uscc},{values['id_number']},{month:%Y-%m},{base_fen}\n"
        document = store_document(page.uow, content=content.encode(), source=DocumentSource.PORTAL, actor=actor,
                                  employer_id=principal.employer_id)  # fmt: skip
        item = DeclarationInput(1, employer.id, person.id, month, base_fen, employer.industry_class)
        outcomes = declare_many(page.uow, items=[item], document=document, actor=actor,
                                subject=f"employer:{principal.employer_id}", today=utcnow().date())  # fmt: skip
    except DomainError as exc:
        return _declarations_page(current, status=exc.status, errors={"_form": page.refused(exc)}, values=values)
    if outcomes and outcomes[0].status == "posted":
        page.flash(page.gettext("The declaration has been posted."))
    else:
        page.flash(page.gettext("This declaration was already present; nothing changed."))
    return page.redirect("/employer/declarations")


def _upload_dir() -> Path:
    folder = Path(get_settings().data_dir) / "uploads" / "contributions"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@router.post("/declarations/upload")
def upload(current: EmployerPage = Depends(require_employer), file: UploadFile = File(None)) -> Response:
    """Start the contributions import job on the uploaded CSV (this employer's lines only)."""
    page = current.page
    if file is None or not file.filename:
        return _declarations_page(current, status=422, errors={"file": page.gettext("Choose a CSV file.")})
    content = file.file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        return _declarations_page(current, status=413, errors={"file": page.gettext("The file is larger than 20 MB.")})
    path = _upload_dir() / f"{secrets.token_hex(12)}.csv"
    path.write_bytes(content)
    employer = get_employer_or_raise(page.uow, current.employer.employer_id)
    try:
        read_header(path, COLUMNS)
        scan = scan_file(path)
    except DomainError as exc:
        path.unlink(missing_ok=True)
        return _declarations_page(current, status=exc.status, errors={"file": page.error_message(exc)})
    actor = employer_actor(employer.id)
    threading.Thread(target=_run_import, args=(path, actor, employer.uscc), daemon=True,
                     name=f"contributions-import-{employer.id}").start()  # fmt: skip
    ref = page.ref({"sha256": scan.sha256.hex(), "size": scan.size, "lines": scan.data_lines})
    return page.redirect(f"/employer/imports/{ref}")


def _error_classes(cls: type[DomainError]) -> Iterator[type[DomainError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _error_classes(sub)


def _reason(code: str, lang: str) -> str | None:
    for cls in _error_classes(DomainError):
        if cls.__dict__.get("code") == code:
            return i18n.error_title(lang, cls)
    return None


def _run_import(path: Path, actor: object, uscc: str) -> None:
    """The job, as the CLI runs it (its own transactions, one per batch); the file is removed after."""
    try:
        import_contributions(path=path, actor=actor, employer_uscc=uscc)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - the job records its state; the page shows it as not finished
        import logging

        logging.getLogger(__name__).exception("contributions import of an employer upload failed")
    finally:
        path.unlink(missing_ok=True)


@router.get("/imports/{ref}")
def import_progress(ref: str, current: EmployerPage = Depends(require_employer)) -> Response:
    page = current.page
    found = page.deref(ref)
    if found is None or "sha256" not in found:
        raise PageNotFound()
    employer = get_employer_or_raise(page.uow, current.employer.employer_id)
    job = find_job(uow=page.uow, kind=job_kind(employer.uscc), file_sha256=bytes.fromhex(found["sha256"]),
                   file_size=int(found["size"]))  # fmt: skip
    finished = job is not None and job.finished_at is not None
    found_errors = list_row_errors(uow=page.uow, job_id=job.id, limit=500) if finished and job is not None else []
    # A rejected line's reason in the reader's language: its error's translated title where the code is
    # a domain error's, else the job's own (English) words.
    errors = [(e, _reason(e.code, page.lang) or e.message) for e in found_errors]
    total = int(found["lines"])
    done = 0 if job is None else min(total, job.imported + job.already_present + job.rejected)
    return page.render("employer/import.html", title=page.gettext("Declaration file"), job=job, finished=finished,
                       total=total, done=done, row_errors=errors, refresh=not finished)  # fmt: skip

"""Employer pages through TestClient: sign-in, access rules, registration with its deadline (INS-1),
declarations (INS-3) and the CSV upload's per-line errors."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from sscard.db.base import utcnow
from sscard.db.session import unit_of_work
from sscard.insurance.models import InsuranceRegistration
from tests.web.conftest import csrf_of
from tests.web.page_factories import EMPLOYER_PASSWORD, employer_with_password, new_worker


def _sign_in(browser, uscc: str, password: str = EMPLOYER_PASSWORD):
    form = browser.get("/employer/")
    return browser.post("/employer/login", data={"uscc": uscc, "password": password, "csrf_token": csrf_of(form.text)})


def _employer():
    with unit_of_work() as uow:
        employer = employer_with_password(uow)
        return employer.id, employer.uscc


def signed_in_with_worker(browser, uscc: str | None = None) -> str:
    """A new employer (or the one of ``uscc``) signed in, with a worker registered five days ago: the
    worker's ID number."""
    uscc = uscc or _employer()[1]
    with unit_of_work() as uow:
        number = new_worker(uow)
    _sign_in(browser, uscc)
    reg = browser.get("/employer/registrations")
    start = (utcnow().date() - timedelta(days=5)).isoformat()
    browser.post("/employer/registrations", data={"id_number": number, "employment_start": start,
                                                 "csrf_token": csrf_of(reg.text)})  # fmt: skip
    return number


# rule QPW-5: pages behind sign-in send an anonymous browser to the employer's sign-in form
def test_no_session_is_sent_to_sign_in(browser) -> None:
    for path in ("/employer/home", "/employer/registrations", "/employer/declarations"):
        r = browser.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/employer/", path


# rule QPW-5 / QPW-7: a wrong password is refused with the form again (counted), the right one signs in
def test_sign_in(browser) -> None:
    _, uscc = _employer()
    wrong = _sign_in(browser, uscc, "not the password")
    assert wrong.status_code == 401 and 'name="uscc"' in wrong.text
    ok = _sign_in(browser, uscc)
    assert ok.status_code == 303 and ok.headers["location"] == "/employer/home"
    assert uscc in browser.get("/employer/home").text


# CSRF: a form posted without the session's token is refused (403), nothing registered
def test_csrf_missing_is_refused(browser) -> None:
    employer_id, uscc = _employer()
    with unit_of_work() as uow:
        number = new_worker(uow)
    _sign_in(browser, uscc)
    start = (utcnow().date() - timedelta(days=3)).isoformat()
    r = browser.post("/employer/registrations", data={"id_number": number, "employment_start": start})
    assert r.status_code == 403
    with unit_of_work() as uow:
        assert (
            uow.session.scalars(
                select(InsuranceRegistration).where(InsuranceRegistration.employer_id == employer_id)
            ).all()
            == []
        )


# rule INS-1: the deadline (start + 30 days) and the days late are shown before submitting; a late
# registration is accepted, flagged and explained
def test_late_registration_is_explained_before_and_after(browser) -> None:
    employer_id, uscc = _employer()
    with unit_of_work() as uow:
        number = new_worker(uow)
    _sign_in(browser, uscc)
    start = utcnow().date() - timedelta(days=40)
    deadline = start + timedelta(days=30)
    page = browser.get("/employer/registrations?lang=en")
    data = {"id_number": number, "employment_start": start.isoformat(), "csrf_token": csrf_of(page.text)}
    check = browser.post("/employer/registrations/check", data=data)
    assert check.status_code == 200
    assert "10 days late" in check.text and deadline.strftime("%Y") in check.text
    assert number not in check.text.replace(f'value="{number}"', "")  # shown masked, only the form keeps it
    done = browser.post("/employer/registrations", data=data)
    assert done.status_code == 303
    listing = browser.get("/employer/registrations")
    assert "Registered late: 10 days after the deadline" in listing.text
    with unit_of_work() as uow:
        reg = uow.session.scalars(
            select(InsuranceRegistration).where(InsuranceRegistration.employer_id == employer_id)
        ).one()
        assert reg.days_late == 10 and reg.deadline == deadline


# rule INS-3: one line declared through the form is posted and listed with its computed parts
def test_declare_one_line(browser) -> None:
    number = signed_in_with_worker(browser)
    page = browser.get("/employer/declarations?lang=en")
    period = f"{utcnow():%Y-%m}"
    bad = browser.post("/employer/declarations", data={"id_number": number, "period": period, "base_yuan": "80x",
                                                      "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert bad.status_code == 422 and "Enter the contribution base in yuan" in bad.text
    r = browser.post("/employer/declarations", data={"id_number": number, "period": period, "base_yuan": "8000.00",
                                                    "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert r.status_code == 303
    listing = browser.get("/employer/declarations")
    assert "The declaration has been posted." in listing.text and number[-4:] in listing.text


# rule INS-3: an uploaded CSV runs the import job; a line of another employer and an unknown person
# are rejected by line number, the employer's own line is posted
def test_upload_shows_per_line_errors(browser) -> None:
    _, uscc = _employer()
    _, other = _employer()
    number = signed_in_with_worker(browser, uscc)
    period = f"{utcnow():%Y-%m}"
    csv = f"uscc,id_number,period,base_fen\n{uscc},{number},{period},800000\n{other},{number},{period},800000\n"
    page = browser.get("/employer/declarations?lang=en")
    r = browser.post("/employer/declarations/upload", data={"csrf_token": csrf_of(page.text)},
                     files={"file": ("march.csv", csv.encode(), "text/csv")})  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].startswith("/employer/imports/")
    progress = r.headers["location"]
    for _ in range(100):
        shown = browser.get(progress)
        if "The file has been processed." in shown.text:
            break
        time.sleep(0.1)
    assert "The file has been processed." in shown.text
    assert "EMPLOYER_MISMATCH" in shown.text and ">3<" in shown.text  # line 3: the other employer's
    assert number not in shown.text  # rejected values are masked
    assert "Posted" in shown.text


# no personal data in URLs: a foreign or made-up import ref is not found
def test_foreign_import_ref_is_not_found(browser) -> None:
    _, uscc = _employer()
    _sign_in(browser, uscc)
    assert browser.get("/employer/imports/not-a-ref").status_code == 404

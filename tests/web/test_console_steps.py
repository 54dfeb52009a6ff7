"""Console steps on the registers through TestClient (issue 21): a carrier's handover to a third party
(KEY-7) with its two-person security-plan decision taken in another officer's own session, and a PSAM's
deployment and recovery (KEY-8), with the security API's roles (CH-2) and CSRF."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from sscard.db.session import unit_of_work
from sscard.key_register.models import KeyCarrier
from sscard.key_register.models.handovers import CarrierHandover
from sscard.staff.roles import Role
from tests.policy.factories import fresh_district
from tests.web.conftest import csrf_of
from tests.web.page_factories import carrier_in_custody
from tests.web.test_console_pages import _district_staff, _open_carrier, _sign_in, _staff

PDF = b"%PDF-1.4\n% test document\n%%EOF\n"


def _carrier_state(serial: str) -> str:
    with unit_of_work() as uow:
        return uow.session.scalars(select(KeyCarrier).where(KeyCarrier.serial == serial)).one().state.value


def _step(browser, handover_url: str, step: str, data: dict[str, str] | None = None, files=None):
    page = browser.get(handover_url)
    return browser.post(f"{handover_url}/{step}", data={**(data or {}), "csrf_token": csrf_of(page.text)},
                        files=files)  # fmt: skip


def _handover_url(browser, third_party: str) -> str:
    listing = browser.get("/console/registers")
    match = re.search(r'href="(/console/handovers/[^"]+)">' + re.escape(third_party) + "<", listing.text)
    assert match, "the handover is not listed"
    return match.group(1)


# rule KEY-7: a handover completes only with its four conditions; the security plan is decided by an
# officer other than its submitter, in their own session (two-person step, SELF_APPROVAL)
def test_handover_journey_with_a_second_officer(browser) -> None:
    with unit_of_work() as uow:
        serial = carrier_in_custody(uow)
    supervisor = _staff(Role.SECURITY_OFFICER)
    first = _staff(Role.SECURITY_OFFICER)
    _sign_in(browser, first)
    carrier_url = _open_carrier(browser, serial)
    page = browser.get(carrier_url)
    due = (date.today() + timedelta(days=30)).isoformat()
    r = browser.post(f"{carrier_url}/handover", data={"third_party": "Card bureau Ltd", "purpose": "personalisation",
                                                     "due_back": due, "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].startswith("/console/handovers/")
    url = r.headers["location"]
    early = _step(browser, url, "complete")
    assert early.status_code == 409  # HANDOVER_INCOMPLETE: nothing handed over yet
    record = {"record_no": "HO-1", "recipient": "Li Si", "items": "seal 77"}
    assert _step(browser, url, "record", record).status_code == 303
    r = _step(browser, url, "agreement", {"signed_on": date.today().isoformat()},
              files={"agreement": ("nda.pdf", PDF, "application/pdf")})  # fmt: skip
    assert r.status_code == 303
    r = _step(browser, url, "security-plan", files={"security_plan": ("plan.pdf", PDF, "application/pdf")})
    assert r.status_code == 303
    own = _step(browser, url, "review", {"decision": "approve"})
    assert own.status_code == 403  # SELF_APPROVAL: the submitter cannot decide their own plan
    assert _step(browser, url, "supervisor", {"supervisor": supervisor}).status_code == 303
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.SECURITY_OFFICER))  # the second person, in their own session
    url = _handover_url(browser, "Card bureau Ltd")
    assert _step(browser, url, "review", {"decision": "approve", "comments": "fine"}).status_code == 303
    assert _step(browser, url, "complete").status_code == 303
    assert _carrier_state(serial) == "handed_over"
    r = _step(browser, url, "recover", {"back_location": "safe 2", "back_note": "returned intact"})
    assert r.status_code == 303
    with unit_of_work() as uow:
        handover = uow.session.scalars(select(CarrierHandover).where(CarrierHandover.third_party == "Card bureau Ltd")
                                       .order_by(CarrierHandover.id.desc())).first()  # fmt: skip
        assert handover is not None and handover.state.value == "recovered"


# rule CH-2: a custodian gathers conditions but cannot decide the plan or assign the supervisor; an
# auditor reads the handover and changes nothing
def test_handover_roles(browser) -> None:
    with unit_of_work() as uow:
        serial = carrier_in_custody(uow)
    _sign_in(browser, _staff(Role.KEY_CUSTODIAN))
    carrier_url = _open_carrier(browser, serial)
    page = browser.get(carrier_url)
    due = (date.today() + timedelta(days=5)).isoformat()
    r = browser.post(f"{carrier_url}/handover", data={"third_party": "Roles Ltd", "purpose": "test", "due_back": due,
                                                     "csrf_token": csrf_of(page.text)})  # fmt: skip
    url = r.headers["location"]
    assert _step(browser, url, "supervisor", {"supervisor": "someone"}).status_code == 403
    assert _step(browser, url, "review", {"decision": "approve"}).status_code == 403
    missing = _step(browser, url, "record", {"record_no": "", "recipient": "x", "items": "y"})
    assert missing.status_code == 422 and 'aria-invalid="true"' in missing.text
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.AUDITOR))
    url = _handover_url(browser, "Roles Ltd")
    view = browser.get(url)
    assert view.status_code == 200 and f"{url}/record" not in view.text
    assert _step(browser, url, "cancel", {"cancel_reason": "no"}).status_code == 403
    # CSRF: without the session's token nothing is cancelled
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.KEY_CUSTODIAN))
    url = _handover_url(browser, "Roles Ltd")
    assert browser.post(f"{url}/cancel", data={"cancel_reason": "forged"}).status_code == 403
    assert _step(browser, url, "cancel", {"cancel_reason": "not needed"}).status_code == 303


# rule KEY-8: a PSAM is deployed with its form, environment and mode, then withdrawn into custody
def test_psam_deploy_and_recover(browser) -> None:
    with unit_of_work() as uow:
        serial = carrier_in_custody(uow)
    _sign_in(browser, _staff(Role.KEY_CUSTODIAN))
    url = _open_carrier(browser, serial)
    page = browser.get(url)
    bad = browser.post(f"{url}/psam/deploy", data={"physical_form": "x", "csrf_token": csrf_of(page.text)})
    assert bad.status_code == 422
    r = browser.post(f"{url}/psam/deploy", data={"institution": "Haidian pharmacy", "physical_form": "plug_in",
                                                "environment": "pharmacy desk", "usage_mode": "attended",
                                                "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert r.status_code == 303, re.findall(r"<li>.{0,300}", r.text)
    assert _carrier_state(serial) == "in_service"
    page = browser.get(url)
    assert "Haidian pharmacy" in page.text
    r = browser.post(f"{url}/psam/recover", data={"psam_location": "safe", "psam_reason": "terminal retired",
                                                 "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert r.status_code == 303
    assert _carrier_state(serial) != "in_service"


# rule KEY-4: an officer registers a certified device and retires it; a custodian may do neither (CH-2)
def test_device_register_and_retire(browser) -> None:
    from sscard.key_register.models import CryptoDevice

    serial = f"SJJ-{date.today():%j}-{id(browser) % 100000}"
    _sign_in(browser, _staff(Role.KEY_CUSTODIAN))
    page = browser.get("/console/registers")
    assert 'action="/console/devices"' not in page.text
    until = (date.today() + timedelta(days=400)).isoformat()
    data = {"model": "SJJ1012", "serial": serial, "certificate_no": "SXH2024-77", "valid_from": "2024-01-01",
            "valid_until": until, "device_location": "machine room"}  # fmt: skip
    assert browser.post("/console/devices", data={**data, "csrf_token": csrf_of(page.text)}).status_code == 403
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.SECURITY_OFFICER))
    page = browser.get("/console/registers")
    bad = browser.post("/console/devices", data={**data, "valid_from": "soon", "csrf_token": csrf_of(page.text)})
    assert bad.status_code == 422
    r = browser.post("/console/devices", data={**data, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    page = browser.get("/console/registers")
    match = re.search(r'action="(/console/devices/[^"]+/retire)"', page.text)
    assert serial in page.text and match
    r = browser.post(match.group(1), data={"retire_reason": "end of life", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    with unit_of_work() as uow:
        assert uow.session.scalars(select(CryptoDevice).where(CryptoDevice.serial == serial)).one().state.value == (
            "retired"
        )


# rule KEY-9: an officer adopts the region's emergency plan from its document; a wrong file is refused
def test_plan_adopt(browser) -> None:
    # An officer of a district of its own: other tests expect region 110000 to have no plan.
    _sign_in(browser, _district_staff(Role.SECURITY_OFFICER, fresh_district()))
    page = browser.get("/console/registers")
    data = {"plan_title": "Card security emergency plan", "effective_from": date.today().isoformat(),
            "csrf_token": csrf_of(page.text)}  # fmt: skip
    wrong = browser.post("/console/plans", data=data, files={"plan_document": ("plan.txt", b"hello", "text/plain")})
    assert wrong.status_code == 422
    r = browser.post("/console/plans", data=data, files={"plan_document": ("plan.pdf", PDF, "application/pdf")})
    assert r.status_code == 303
    assert "Card security emergency plan" in browser.get("/console/registers").text

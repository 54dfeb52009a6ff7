"""Security console pages through TestClient: staff sign-in with the second factor, role and region
rules as the security API (CH-2), CSRF, incidents (KEY-9) and the audit search with the chain status."""

from __future__ import annotations

from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.db.session import unit_of_work
from sscard.key_register.models.incidents import SecurityIncident
from sscard.staff.roles import Role
from tests.policy.factories import fresh_district
from tests.staff.factories import PASSWORD, current_otp
from tests.web.conftest import csrf_of
from tests.web.page_factories import carrier_in_custody, console_staff, deliver_incident_notices


def _staff(role: Role, region: str = "110000") -> str:
    with unit_of_work() as uow:
        return console_staff(uow, role, region).username


def _sign_in(browser, username: str, *, otp: str | None = None, password: str = PASSWORD):
    form = browser.get("/console/")
    data = {"username": username, "password": password, "otp": current_otp() if otp is None else otp,
            "csrf_token": csrf_of(form.text)}  # fmt: skip
    return browser.post("/console/login", data=data)


# rule CH-2: no session → the sign-in form
def test_no_session_is_sent_to_sign_in(browser) -> None:
    for path in ("/console/home", "/console/keys", "/console/incidents", "/console/audit"):
        r = browser.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/console/", path


# rule CH-2: security roles sign in with a second factor; without it the form says so, nothing signed in
def test_second_factor_is_required(browser) -> None:
    officer = _staff(Role.SECURITY_OFFICER)
    refused = _sign_in(browser, officer, otp="")
    assert refused.status_code == 401 and 'name="otp"' in refused.text
    assert browser.get("/console/home").status_code == 303
    ok = _sign_in(browser, officer)
    assert ok.status_code == 303 and ok.headers["location"] == "/console/home"
    assert officer in browser.get("/console/home").text


# rule CH-2: a role the security API refuses is refused here too (403), e.g. a clerk or a custodian's
# view of the audit report
def test_wrong_role_is_refused(browser) -> None:
    _sign_in(browser, _staff(Role.COUNTER_CLERK), otp="")
    for path in ("/console/keys", "/console/incidents", "/console/audit"):
        assert browser.get(path).status_code == 403, path
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.KEY_CUSTODIAN))
    assert browser.get("/console/incidents").status_code == 200
    assert browser.get("/console/audit").status_code == 403  # REPORTS: officers and auditors


# rule CH-2: another region is refused (OUTSIDE_REGION), in listings and in reports
def test_other_region_is_refused(browser) -> None:
    district = fresh_district()
    with unit_of_work() as uow:
        from tests.staff.factories import ensure_region

        ensure_region(uow, district)
        name = console_staff(uow, Role.AUDITOR, district).username
    _sign_in(browser, name)
    assert browser.get("/console/audit").status_code == 200
    assert browser.get("/console/audit?region=110000").status_code == 403
    assert browser.get("/console/keys?region=110000").status_code == 403


# CSRF: an incident report without the session's token is refused, nothing reported
def test_csrf_missing_is_refused(browser) -> None:
    _sign_in(browser, _staff(Role.SECURITY_OFFICER))
    marker = f"csrf check {fresh_district()}"
    r = browser.post("/console/incidents", data={"region_code": "110000", "kind": "other", "description": marker})
    assert r.status_code == 403
    with unit_of_work() as uow:
        assert uow.session.scalars(select(SecurityIncident).where(SecurityIncident.description == marker)).all() == []


# rule KEY-9: an incident is reported, its findings recorded, then it is closed; an auditor only reads
def test_incident_journey_and_auditor_reads(browser) -> None:
    _sign_in(browser, _staff(Role.SECURITY_OFFICER))
    page = browser.get("/console/incidents?lang=en")
    marker = f"tamper seal broken {fresh_district()}"
    r = browser.post("/console/incidents", data={"region_code": "110000", "kind": "other", "description": marker,
                                                "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert r.status_code == 303
    detail_url = r.headers["location"]
    detail = browser.get(detail_url)
    assert marker in detail.text
    early = browser.post(f"{detail_url}/close", data={"csrf_token": csrf_of(detail.text)})
    assert early.status_code == 409  # INCIDENT_CAUSE_REQUIRED: the form again with the reason
    r = browser.post(f"{detail_url}/findings", data={"cause": "seal worn", "handling": "resealed, re-audited",
                                                    "csrf_token": csrf_of(detail.text)})  # fmt: skip
    assert r.status_code == 303
    deliver_incident_notices(marker)  # KEY-9: the notices to the departments count once delivered
    r = browser.post(f"{detail_url}/close", data={"csrf_token": csrf_of(detail.text)})
    assert r.status_code == 303
    with unit_of_work() as uow:
        incident = uow.session.scalars(select(SecurityIncident).where(SecurityIncident.description == marker)).one()
        assert incident.state.value == "closed"
        refused = uow.session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "incident.close", AuditEntry.subject == f"incident:{incident.id}"
            )
        ).all()
        assert "refused" in {e.result for e in refused}  # CH-4: the early close's refusal is audited
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.AUDITOR))
    listing = browser.get("/console/incidents")
    assert marker in listing.text and 'action="/console/incidents"' not in listing.text  # no report form
    form = browser.get("/console/incidents")
    r = browser.post("/console/incidents", data={"region_code": "110000", "kind": "other", "description": "x",
                                                "csrf_token": csrf_of(form.text)})  # fmt: skip
    assert r.status_code == 403


# rule CH-4: the auditor's search lists key-management entries and the chain's verification status
def test_audit_search_shows_chain_status(browser) -> None:
    officer = _staff(Role.SECURITY_OFFICER)
    _sign_in(browser, officer)
    page = browser.get("/console/incidents")
    marker = f"audit search {fresh_district()}"
    browser.post("/console/incidents", data={"region_code": "110000", "kind": "other", "description": marker,
                                            "csrf_token": csrf_of(page.text)})  # fmt: skip
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.AUDITOR))
    r = browser.get("/console/audit?lang=en&action=incident.")
    assert r.status_code == 200
    assert "The audit chain is intact." in r.text
    assert "incident.report" in r.text and officer in r.text
    bad = browser.get("/console/audit?start=yesterday")
    assert bad.status_code == 422


def _open_carrier(browser, serial: str) -> str:
    """The carrier's page URL (an opaque ref of this session), found through the carriers list."""
    import re

    listing = browser.get("/console/carriers")
    match = re.search(r'href="(/console/carriers/[^"]+)">' + re.escape(serial) + "<", listing.text)
    assert match, "the carrier is not listed"
    return match.group(1)


# rule KEY-8 (two-person step): the destruction is recorded by one person and witnessed by two others,
# each signed in in their own session; the recorder cannot witness, nobody signs twice
def test_destruction_needs_two_other_witnesses(browser) -> None:
    from sscard.key_register.models import KeyCarrier

    with unit_of_work() as uow:
        serial = carrier_in_custody(uow)
    recorder = _staff(Role.SECURITY_OFFICER)
    _sign_in(browser, recorder)
    url = _open_carrier(browser, serial)
    page = browser.get(url)
    r = browser.post(f"{url}/destruction", data={"method": "shredded", "place": "vault room", "reason": "chip worn",
                                                "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert r.status_code == 303
    page = browser.get(url)
    own = browser.post(f"{url}/destruction/sign", data={"csrf_token": csrf_of(page.text)})
    assert own.status_code == 409 and "该工作人员不能担任此职责" in own.text  # STAFF_NOT_ELIGIBLE: recorder ≠ witness
    for n in range(2):
        browser.cookies.clear()
        _sign_in(browser, _staff(Role.KEY_CUSTODIAN))
        url = _open_carrier(browser, serial)  # a new session: its own ref
        page = browser.get(url)
        r = browser.post(f"{url}/destruction/sign", data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 303
        if n == 0:
            again = browser.post(f"{url}/destruction/sign", data={"csrf_token": csrf_of(page.text)})
            assert again.status_code == 409  # SIGNATURE_DUPLICATE: a second person must sign
            with unit_of_work() as uow:
                assert uow.session.scalars(select(KeyCarrier).where(KeyCarrier.serial == serial)).one().state.value == (
                    "in_custody"
                )
    with unit_of_work() as uow:
        assert (
            uow.session.scalars(select(KeyCarrier).where(KeyCarrier.serial == serial)).one().state.value == "destroyed"
        )


# rule CH-2: an auditor reads carriers but cannot record or sign a destruction
def test_auditor_cannot_sign(browser) -> None:
    with unit_of_work() as uow:
        serial = carrier_in_custody(uow)
    _sign_in(browser, _staff(Role.AUDITOR))
    url = _open_carrier(browser, serial)
    page = browser.get(url)
    assert "/destruction" not in page.text
    r = browser.post(f"{url}/destruction", data={"method": "m", "place": "p", "reason": "r",
                                                "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert r.status_code == 403


def _district_staff(role: Role, district: str) -> str:
    from tests.staff.factories import ensure_region

    with unit_of_work() as uow:
        ensure_region(uow, district)
        return console_staff(uow, role, district).username


# rule CH-2 (policy): an administrator records a new policy version with its reason; an auditor of the
# region reads it but may not change it; a security officer may not read it
def test_policy_versions(browser) -> None:
    from sscard.policy.models import PolicyVersion

    district = fresh_district()
    _sign_in(browser, _district_staff(Role.ADMINISTRATOR, district))
    page = browser.get("/console/policy?lang=en")
    assert page.status_code == 200 and "every setting is inherited" in page.text
    change = {"region_code": district, "key": "pin_lockout_threshold", "value": "5", "csrf_token": csrf_of(page.text)}
    no_reason = browser.post("/console/policy", data={**change, "reason": ""})
    assert no_reason.status_code == 422
    r = browser.post("/console/policy", data={**change, "reason": "provincial notice 12"})
    assert r.status_code == 303
    with unit_of_work() as uow:
        version = uow.session.scalars(select(PolicyVersion).where(PolicyVersion.region_code == district)).one()
        assert version.settings == {"pin_lockout_threshold": 5} and version.reason == "provincial notice 12"
    assert "provincial notice 12" in browser.get("/console/policy").text
    browser.cookies.clear()
    _sign_in(browser, _district_staff(Role.AUDITOR, district))
    page = browser.get("/console/policy")
    assert page.status_code == 200 and "provincial notice 12" in page.text and 'name="reason"' not in page.text
    r = browser.post("/console/policy", data={"region_code": district, "key": "pin_lockout_threshold", "value": "6",
                                             "reason": "auditor try", "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert r.status_code == 403
    browser.cookies.clear()
    _sign_in(browser, _district_staff(Role.SECURITY_OFFICER, district))
    assert browser.get("/console/policy").status_code == 403


# rule CH-2 (policy, readable): every setting is shown by its name in the reader's language, the key beside
# it in small print; the change form offers the names too
def test_policy_settings_are_named(browser) -> None:
    from sscard.policy.schemas import POLICY_KEYS
    from sscard.web import i18n
    from sscard.web.console.policy_names import SETTING_NAMES

    assert set(SETTING_NAMES) == set(POLICY_KEYS)
    assert all(i18n.gettext("zh_CN", name) != name for name in SETTING_NAMES.values())  # all translated
    _sign_in(browser, _district_staff(Role.ADMINISTRATOR, fresh_district()))
    zh = browser.get("/console/policy").text
    assert '卡密码锁定前允许的错误次数<br><small class="muted"><code>pin_lockout_threshold</code></small>' in zh
    assert '<option value="pin_lockout_threshold"' in zh and "卡密码锁定前允许的错误次数 (pin_lockout_threshold)" in zh
    en = browser.get("/console/policy?lang=en").text
    assert "Wrong PIN entries before the card PIN locks<br><small" in en


# rules KEY-4 / KEY-7 / KEY-8 / KEY-9 (read): the registers page lists the region's PSAM cards for the
# roles of the API's listings; other roles and other regions are refused
def test_registers_read_rules(browser) -> None:
    with unit_of_work() as uow:
        serial = carrier_in_custody(uow)
    _sign_in(browser, _staff(Role.KEY_CUSTODIAN))
    page = browser.get("/console/registers?lang=en")
    assert page.status_code == 200 and serial in page.text and "No emergency plan covers this region" in page.text
    district = fresh_district()
    browser.cookies.clear()
    _sign_in(browser, _district_staff(Role.AUDITOR, district))
    assert browser.get("/console/registers").status_code == 200
    assert serial not in browser.get("/console/registers").text  # another region's card is not listed
    assert browser.get("/console/registers?region=110000").status_code == 403
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.ADMINISTRATOR))
    assert browser.get("/console/registers").status_code == 403


# rule CH-2: the menu and the start page show each role only the sections its routes admit
def test_menu_shows_each_role_its_own_sections(browser) -> None:
    sections = ("keys", "carriers", "registers", "incidents", "audit", "policy")
    expected = {
        Role.SECURITY_OFFICER: {"keys", "carriers", "registers", "incidents", "audit"},
        Role.KEY_CUSTODIAN: {"carriers", "registers", "incidents"},
        Role.AUDITOR: {"keys", "carriers", "registers", "incidents", "audit", "policy"},
        Role.ADMINISTRATOR: {"policy"},
        Role.COUNTER_CLERK: set(),
    }
    for role, shown in expected.items():
        browser.cookies.clear()
        _sign_in(browser, _staff(role), otp="" if role is Role.COUNTER_CLERK else None)
        html = browser.get("/console/home").text
        for name in sections:
            assert (f'href="/console/{name}"' in html) is (name in shown), (role, name)
            status = browser.get(f"/console/{name}").status_code
            assert (status == 200) is (name in shown), (role, name, status)


# rule CH-4: the auditor searches every audited action (here staff sign-ins) by actor, action and subject,
# with the chain's status; a security officer searches only the key-management actions
def test_auditor_searches_every_action(browser) -> None:
    officer = _staff(Role.SECURITY_OFFICER)
    _sign_in(browser, officer)
    r = browser.get(f"/console/audit?lang=en&actor={officer}")
    assert r.status_code == 200 and "staff.login" not in r.text  # key management only
    browser.cookies.clear()
    auditor = _staff(Role.AUDITOR)
    _sign_in(browser, auditor)
    r = browser.get(f"/console/audit?lang=en&actor={officer}&action=staff.")
    assert r.status_code == 200 and "The audit chain is intact." in r.text
    assert "staff.login" in r.text and "Staff accounts" in r.text  # the action's area in words
    assert "report.audit" not in r.text  # the action filter holds
    other = browser.get(f"/console/audit?lang=en&actor={auditor}&action=staff.login")
    assert officer not in other.text.split("<tbody>")[1]  # the actor filter holds
    none = browser.get(f"/console/audit?lang=en&actor={officer}&subject=nothing-like-this")
    assert "No entries." in none.text

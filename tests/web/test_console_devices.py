"""Console pages of the certified devices, their alerts and the report downloads through TestClient
(issue 21): the security API's services, roles (CH-2) and refusal codes, shown in the user's language.
Each test works in a district of its own, so the other tests' devices and alerts stay out of sight."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.db.base import china_today
from sscard.db.session import unit_of_work
from sscard.key_register import devices as device_service
from sscard.key_register.models import CryptoDevice, DeviceAlert
from sscard.staff.roles import Role
from tests.key_register.factories import staff_actor, unique
from tests.policy.factories import fresh_district
from tests.web.conftest import csrf_of
from tests.web.test_console_pages import _district_staff, _sign_in


def _device_in(district: str, *, certificate_no: str, valid_until: date | None = None) -> str:
    """A device registered in ``district`` by an officer of it; returns its serial."""
    with unit_of_work() as uow:
        officer = staff_actor(uow, Role.SECURITY_OFFICER, district)
        device = device_service.register_device(
            uow, model="SJJ1012", serial=unique("HSM"), certificate_no=certificate_no,
            certificate_issuer="国家密码管理局", certificate_valid_from=china_today() - timedelta(days=300),
            certificate_valid_until=valid_until or china_today() + timedelta(days=300), location="机房 3F",
            region_code=district, actor=officer,
        )  # fmt: skip
        return device.serial


def _device(serial: str) -> CryptoDevice:
    with unit_of_work() as uow:
        device = uow.session.scalars(select(CryptoDevice).where(CryptoDevice.serial == serial)).one()
        uow.session.expunge(device)
        return device


def _device_url(browser, serial: str) -> str:
    listing = browser.get("/console/devices")
    assert listing.status_code == 200
    match = re.search(r'<a href="(/console/devices/[^"]+)">SJJ1012</a></td><td>' + re.escape(serial) + "<",
                      listing.text)  # fmt: skip
    assert match, "the device is not listed"
    return match.group(1)


def _post(browser, form_url: str, action: str, data: dict[str, str] | None = None):
    page = browser.get(form_url)
    return browser.post(action, data={**(data or {}), "csrf_token": csrf_of(page.text)})


# rule KEY-4: an officer records a device's new certificate and its move; an expired certificate and a
# retired device are refused with their codes in the user's language; a custodian only reads (CH-2)
def test_renew_certificate_and_move(browser) -> None:
    district = fresh_district()
    serial = _device_in(district, certificate_no=unique("SXH2023"))
    _sign_in(browser, _district_staff(Role.KEY_CUSTODIAN, district))
    url = _device_url(browser, serial)
    view = browser.get(url)
    assert view.status_code == 200 and serial in view.text and f'action="{url}/move"' not in view.text
    assert _post(browser, url, f"{url}/move", {"new_location": "safe"}).status_code == 403
    assert browser.get("/console/devices?region=110000").status_code == 403  # OUTSIDE_REGION, as the API
    browser.cookies.clear()
    _sign_in(browser, _district_staff(Role.SECURITY_OFFICER, district))
    url = _device_url(browser, serial)
    assert _post(browser, url, f"{url}/move", {"new_location": "机房 5F"}).status_code == 303
    assert _device(serial).location == "机房 5F"
    past = {"certificate_no": "SXH2019-1", "certificate_issuer": "国家密码管理局", "valid_from": "2019-01-01",
            "valid_until": "2020-01-01"}  # fmt: skip
    refused = _post(browser, url, f"{url}/certificate", past)
    assert refused.status_code == 422
    assert "密钥管理输入无效。" in refused.text and "KEYS_INVALID" in refused.text  # Chinese by default
    until = (china_today() + timedelta(days=700)).isoformat()
    new = {**past, "certificate_no": "SXH2026-9", "valid_from": china_today().isoformat(), "valid_until": until}
    assert _post(browser, url, f"{url}/certificate", new).status_code == 303
    device = _device(serial)
    assert device.certificate_no == "SXH2026-9" and device.certificate_valid_until.isoformat() == until
    with unit_of_work() as uow:
        device_service.retire_device(uow, device_id=device.id, reason="end of life",
                                     actor=staff_actor(uow, Role.SECURITY_OFFICER, district))  # fmt: skip
    browser.get(f"{url}?lang=en")  # the reader chooses English
    retired = _post(browser, url, f"{url}/certificate", new)
    assert retired.status_code == 409
    assert "The device may not hold or use keys." in retired.text and "DEVICE_NOT_USABLE" in retired.text


# rule KEY-4: a revoked certificate blocks its devices and raises an alert, which an officer
# acknowledges (an auditor reads the alerts only); an unknown certificate is refused (DEVICE_NOT_FOUND)
def test_revocation_raises_an_alert_that_an_officer_acknowledges(browser) -> None:
    district = fresh_district()
    certificate = unique("SXH2024")
    serial = _device_in(district, certificate_no=certificate)
    _sign_in(browser, _district_staff(Role.SECURITY_OFFICER, district))
    unknown = _post(
        browser,
        "/console/devices",
        "/console/devices/certificate-revocations",
        {"revoked_certificate": unique("NONE"), "revoke_reason": "revoked by the administration"},
    )
    assert unknown.status_code == 404 and "密码设备不存在。" in unknown.text and "DEVICE_NOT_FOUND" in unknown.text
    r = _post(browser, "/console/devices", "/console/devices/certificate-revocations",
              {"revoked_certificate": certificate, "revoke_reason": "revoked by the administration"})  # fmt: skip
    assert r.status_code == 303
    assert "证书撤销已记录，停用设备：1 台。" in browser.get("/console/devices").text  # the flash counts them
    device = _device(serial)
    assert device.state.value == "blocked" and device.blocked_reason == "certificate_revoked"
    browser.cookies.clear()
    _sign_in(browser, _district_staff(Role.AUDITOR, district))
    listing = browser.get("/console/alerts")
    assert listing.status_code == 200 and serial in listing.text and "/acknowledge" not in listing.text
    browser.cookies.clear()
    _sign_in(browser, _district_staff(Role.SECURITY_OFFICER, district))
    listing = browser.get("/console/alerts")
    match = re.search(r'action="(/console/alerts/[^"]+/acknowledge)"', listing.text)
    assert serial in listing.text and match
    browser.cookies.clear()
    _sign_in(browser, _district_staff(Role.AUDITOR, district))
    forged = browser.post(match.group(1), data={"csrf_token": csrf_of(browser.get("/console/alerts").text)})
    assert forged.status_code == 403  # ROLE_FORBIDDEN: the role is checked before the address is read
    browser.cookies.clear()
    _sign_in(browser, _district_staff(Role.SECURITY_OFFICER, district))
    listing = browser.get("/console/alerts")
    match = re.search(r'action="(/console/alerts/[^"]+/acknowledge)"', listing.text)
    assert match and browser.post(match.group(1), data={"csrf_token": csrf_of(listing.text)}).status_code == 303
    with unit_of_work() as uow:
        alert = uow.session.scalars(select(DeviceAlert).where(DeviceAlert.device_id == device.id)).one()
        assert alert.acknowledged_at is not None and alert.kind == "certificate_revoked"
    assert serial not in browser.get("/console/alerts").text  # open alerts only
    assert serial in browser.get("/console/alerts?every=1").text


# rule KEY-4: the sweep warns of a certificate expiring within 30 days; a custodian may not run it
def test_sweep_warns_of_an_expiring_certificate(browser) -> None:
    district = fresh_district()
    serial = _device_in(district, certificate_no=unique("SXH2025"), valid_until=china_today() + timedelta(days=10))
    _sign_in(browser, _district_staff(Role.KEY_CUSTODIAN, district))
    assert _post(browser, "/console/devices", "/console/devices/sweep").status_code == 403
    browser.cookies.clear()
    _sign_in(browser, _district_staff(Role.SECURITY_OFFICER, district))
    r = _post(browser, "/console/devices", "/console/devices/sweep")
    assert r.status_code == 303
    alerts = browser.get("/console/alerts")
    assert serial in alerts.text and "证书将在 30 天内到期" in alerts.text
    assert _device(serial).state.value == "active"  # a warning does not block


# rules KEY-2 / CH-4: an auditor downloads the inventory (PDF, CSV) and the audit report as attachments,
# audited; a period that ends before it starts is refused (REPORT_INVALID); a custodian may not
def test_report_downloads(browser) -> None:
    district = fresh_district()
    serial = _device_in(district, certificate_no=unique("SXH2024"))
    auditor = _district_staff(Role.AUDITOR, district)
    _sign_in(browser, auditor)
    assert browser.get("/console/reports").status_code == 200
    pdf = browser.get("/console/reports/inventory?format=pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == f'attachment; filename="key-inventory-{district}.pdf"'
    csv = browser.get("/console/reports/inventory?format=csv")
    assert csv.headers["content-type"].startswith("text/csv") and serial in csv.text
    today = china_today()
    audit = browser.get(f"/console/reports/audit?start={today - timedelta(days=1)}&end={today}&format=pdf")
    assert audit.status_code == 200 and audit.content.startswith(b"%PDF")
    assert "attachment" in audit.headers["content-disposition"]
    backwards = browser.get(f"/console/reports/audit?start={today}&end={today - timedelta(days=3)}&format=pdf")
    assert backwards.status_code == 422 and "报表请求无效。" in backwards.text and "REPORT_INVALID" in backwards.text
    assert browser.get("/console/reports/audit?start=soon&end=later").status_code == 422
    with unit_of_work() as uow:
        entries = uow.session.scalars(select(AuditEntry).where(
            AuditEntry.actor_id == auditor, AuditEntry.action.in_(("report.inventory", "report.audit"))
        )).all()  # fmt: skip
        assert sorted(json.loads(e.details)["format"] for e in entries) == ["csv", "pdf", "pdf"]
    browser.cookies.clear()
    _sign_in(browser, _district_staff(Role.KEY_CUSTODIAN, district))
    assert browser.get("/console/reports").status_code == 403
    assert browser.get("/console/reports/inventory?format=pdf").status_code == 403

"""A security officer in a real browser, in Chinese and in English: records the revocation of a device's
model certificate (the device is blocked and alerted, KEY-4), acknowledges the alert, records the new
certificate, and downloads the key inventory report as a PDF."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sscard.db.base import china_today
from sscard.db.session import unit_of_work
from sscard.key_register import devices as device_service
from sscard.staff.roles import Role
from tests.browser.harness import visit
from tests.browser.test_console_pages import WORDS as SIGN_IN_WORDS
from tests.browser.test_console_pages import _sign_in
from tests.key_register.factories import staff_actor, unique

WORDS = {
    "zh": {
        "devices": "认证密码设备",
        "certificate": "商用密码产品型号证书编号",
        "reason": "原因",
        "revoke": "登记撤销",
        "not_found": "密码设备不存在。",
        "revoked": "证书撤销已记录，停用设备：1 台。",
        "alerts": "设备告警",
        "acknowledge": "确认",
        "acknowledged": "告警已确认。",
        "blocked": "已停用",
        "valid_from": "证书生效日期",
        "valid_until": "证书有效期至",
        "renew": "登记证书",
        "renewed": "新证书已记录。",
        "reports": "报告",
        "download": "下载清册报表",
    },
    "en": {
        "devices": "Certified devices",
        "certificate": "Commercial cryptography model certificate number",
        "reason": "Reason",
        "revoke": "Record the revocation",
        "not_found": "No such cryptographic device.",
        "revoked": "The revocation is recorded; devices blocked: 1.",
        "alerts": "Device alerts",
        "acknowledge": "Acknowledge",
        "acknowledged": "The alert has been acknowledged.",
        "blocked": "Blocked",
        "valid_from": "Certificate valid from",
        "valid_until": "Certificate valid until",
        "renew": "Record the certificate",
        "renewed": "The new certificate has been recorded.",
        "reports": "Reports",
        "download": "Download the inventory report",
    },
}


def _device(certificate_no: str) -> str:
    with unit_of_work() as uow:
        officer = staff_actor(uow, Role.SECURITY_OFFICER, "110000")
        return device_service.register_device(
            uow, model="SJJ1012", serial=unique("HSM"), certificate_no=certificate_no,
            certificate_issuer="国家密码管理局", certificate_valid_from=china_today() - timedelta(days=300),
            certificate_valid_until=china_today() + timedelta(days=60), location="市社保中心机房 3F",
            region_code="110000", actor=officer,
        ).serial  # fmt: skip


# rule KEY-4: a certificate no device holds is refused (DEVICE_NOT_FOUND, shown); a revoked one blocks its
# device and raises an alert; an officer acknowledges it and records the new certificate, which returns
# the device to service; the inventory downloads as a PDF
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_officer_handles_a_revoked_certificate(site, tab, lang: str) -> None:
    w, html = WORDS[lang], SIGN_IN_WORDS[lang]["html"]
    certificate = unique("SXH2024-")
    serial = _device(certificate)
    _sign_in(tab, SIGN_IN_WORDS[lang], lang, Role.SECURITY_OFFICER, "devices")
    tab.get_by_role("navigation").get_by_role("link", name=w["devices"], exact=True).click()
    assert serial in tab.inner_text("main")
    tab.get_by_label(w["certificate"]).fill(unique("NONE-"))  # no device holds it: refused with its code
    tab.get_by_label(w["reason"], exact=True).fill("国家密码管理局公告撤销")
    tab.get_by_role("button", name=w["revoke"]).click()
    summary = tab.wait_for_selector("#error-summary")
    assert w["not_found"] in summary.inner_text() and "DEVICE_NOT_FOUND" in summary.inner_text()
    visit(tab, f"console-devices-refused-{lang}", lang=html)
    tab.get_by_label(w["certificate"]).fill(certificate)
    tab.get_by_label(w["reason"], exact=True).fill("国家密码管理局公告撤销")
    tab.get_by_role("button", name=w["revoke"]).click()
    tab.get_by_text(w["revoked"]).wait_for()
    row = tab.get_by_role("row").filter(has_text=serial)
    assert w["blocked"] in row.inner_text()
    visit(tab, f"console-devices-{lang}", lang=html)
    tab.get_by_role("navigation").get_by_role("link", name=w["alerts"], exact=True).click()
    alert = tab.get_by_role("row").filter(has_text=serial)
    assert certificate in alert.inner_text()
    visit(tab, f"console-alerts-{lang}", lang=html)
    alert.get_by_role("button", name=w["acknowledge"]).click()
    tab.get_by_text(w["acknowledged"]).wait_for()
    assert serial not in tab.inner_text("main")  # only open alerts are listed
    tab.get_by_role("navigation").get_by_role("link", name=w["devices"], exact=True).click()
    tab.get_by_role("row").filter(has_text=serial).get_by_role("link").click()
    tab.get_by_label(w["certificate"]).fill(certificate.replace("SXH2024", "SXH2026"))
    tab.get_by_label(w["valid_from"]).fill(china_today().isoformat())
    tab.get_by_label(w["valid_until"]).fill((china_today() + timedelta(days=730)).isoformat())
    tab.get_by_role("button", name=w["renew"]).click()
    tab.get_by_text(w["renewed"]).wait_for()
    visit(tab, f"console-device-renewed-{lang}", lang=html)
    tab.get_by_role("navigation").get_by_role("link", name=w["reports"], exact=True).click()
    visit(tab, f"console-reports-{lang}", lang=html)
    with tab.expect_download() as download:
        tab.get_by_role("button", name=w["download"]).click()
    assert download.value.suggested_filename == "key-inventory-110000.pdf"
    answer = tab.context.request.get("/console/reports/inventory?format=pdf")
    assert answer.headers["content-type"] == "application/pdf" and answer.body().startswith(b"%PDF")

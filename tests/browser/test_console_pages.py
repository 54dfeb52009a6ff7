"""A security officer and an auditor in a real browser, in Chinese and in English: sign in with the
second factor, the key inventory, an incident reported and handled (KEY-9), the audit search with the
chain's verification status (CH-4)."""

from __future__ import annotations

import pytest

from sscard.db.session import unit_of_work
from sscard.staff.roles import Role
from tests.browser.harness import visit
from tests.policy.factories import fresh_district
from tests.staff.factories import PASSWORD, current_otp
from tests.web.page_factories import console_staff

WORDS = {
    "zh": {
        "html": "zh-CN",
        "user": "用户名",
        "password": "密码",
        "otp": "动态验证码",
        "sign_in": "登录",
        "home": "安全管理控制台",
        "keys": "密钥清册",
        "incidents": "安全事件",
        "region": "行政区划代码",
        "kind": "类型",
        "what": "事件经过",
        "report": "上报",
        "reported": "事件已上报",
        "cause": "原因",
        "handling": "处置情况",
        "save": "保存调查结果",
        "saved": "调查结果已记录",
        "close": "关闭事件",
        "closed": "事件已关闭",
        "audit": "审计日志",
        "intact": "审计链完整。",
        "search": "查询",
        "action": "操作名称开头",
    },
    "en": {
        "html": "en",
        "user": "User name",
        "password": "Password",
        "otp": "One-time code",
        "sign_in": "Sign in",
        "home": "Security console",
        "keys": "Key inventory",
        "incidents": "Security incidents",
        "region": "Region code",
        "kind": "Kind",
        "what": "What happened",
        "report": "Report the incident",
        "reported": "The incident has been reported.",
        "cause": "Cause",
        "handling": "Handling",
        "save": "Save the findings",
        "saved": "The findings have been recorded.",
        "close": "Close the incident",
        "closed": "The incident has been closed.",
        "audit": "Audit log",
        "intact": "The audit chain is intact.",
        "search": "Search",
        "action": "Action starts with",
    },
}


def _sign_in(tab, w: dict[str, str], lang: str, role: Role, shot: str) -> str:
    with unit_of_work() as uow:
        username = console_staff(uow, role).username
    tab.context.clear_cookies()
    tab.goto("/console/" + ("?lang=en" if lang == "en" else ""))
    visit(tab, f"console-login-{shot}-{lang}", lang=w["html"])
    tab.get_by_label(w["user"]).fill(username)
    tab.get_by_label(w["password"], exact=True).fill(PASSWORD)
    tab.get_by_label(w["otp"]).fill(current_otp())
    tab.get_by_role("button", name=w["sign_in"]).click()
    tab.get_by_role("heading", name=w["home"], level=1).wait_for()
    visit(tab, f"console-home-{shot}-{lang}", lang=w["html"])
    return username


# rules CH-2 / KEY-9: a security officer signs in with the second factor, sees the key inventory,
# reports an incident, records its findings and closes it
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_officer_handles_an_incident(site, tab, lang: str) -> None:
    from tests.web.page_factories import carrier_in_custody, deliver_incident_notices

    w = WORDS[lang]
    with unit_of_work() as uow:
        serial = carrier_in_custody(uow)
    _sign_in(tab, w, lang, Role.SECURITY_OFFICER, "officer")
    tab.get_by_role("link", name=w["keys"]).first.click()
    visit(tab, f"console-keys-{lang}", lang=w["html"])
    assert serial in tab.inner_text("main")  # the carrier in the safe is in the inventory
    tab.get_by_role("link", name=w["incidents"]).first.click()
    visit(tab, f"console-incidents-{lang}", lang=w["html"])
    marker = f"Seal of safe 3 found broken ({fresh_district()})"
    tab.get_by_label(w["region"]).fill("110000")
    tab.get_by_label(w["kind"]).select_option("other")
    tab.get_by_label(w["what"]).fill(marker)
    tab.get_by_role("button", name=w["report"], exact=True).click()
    tab.get_by_text(w["reported"]).wait_for()
    assert marker in tab.inner_text("main")
    visit(tab, f"console-incident-{lang}", lang=w["html"])
    tab.get_by_label(w["cause"], exact=True).fill("worn seal")
    tab.get_by_label(w["handling"], exact=True).fill("resealed and inventoried")
    tab.get_by_role("button", name=w["save"]).click()
    tab.get_by_text(w["saved"]).wait_for()
    deliver_incident_notices(marker)  # KEY-9: the notices to the departments count once delivered
    tab.get_by_role("button", name=w["close"]).click()
    tab.get_by_text(w["closed"]).wait_for()
    visit(tab, f"console-incident-closed-{lang}", lang=w["html"])


# rule CH-4: an auditor searches the audit log and sees that the chain is intact
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_auditor_searches_the_audit_log(site, tab, lang: str) -> None:
    w = WORDS[lang]
    officer = _sign_in(tab, w, lang, Role.SECURITY_OFFICER, "officer-a")
    tab.goto("/console/incidents")
    tab.get_by_label(w["region"]).fill("110000")
    tab.get_by_label(w["kind"]).select_option("other")
    tab.get_by_label(w["what"]).fill("audit trail check")
    tab.get_by_role("button", name=w["report"], exact=True).click()
    tab.get_by_text(w["reported"]).wait_for()
    _sign_in(tab, w, lang, Role.AUDITOR, "auditor")
    tab.get_by_role("link", name=w["audit"]).first.click()
    tab.get_by_text(w["intact"]).wait_for()
    tab.get_by_label(w["action"]).fill("incident.")
    tab.get_by_role("button", name=w["search"]).click()
    tab.get_by_text(w["intact"]).wait_for()
    visit(tab, f"console-audit-{lang}", lang=w["html"])
    body = tab.inner_text("table tbody")
    assert "incident.report" in body and officer in body


# rule KEY-8 (two-person step): an officer records a carrier's destruction; two custodians each sign
# it in their own browser session; the second signature destroys the carrier
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_destruction_is_witnessed_by_two_sessions(site, tab, lang: str) -> None:
    from tests.web.page_factories import carrier_in_custody

    w = {**WORDS[lang], **DESTRUCTION[lang]}
    with unit_of_work() as uow:
        serial = carrier_in_custody(uow)
    _sign_in(tab, w, lang, Role.SECURITY_OFFICER, "recorder")
    tab.get_by_role("link", name=w["carriers"]).first.click()
    tab.get_by_role("link", name=serial).click()
    tab.get_by_label(w["method"], exact=True).fill("shredded")
    tab.get_by_label(w["place"], exact=True).fill("vault room")
    tab.get_by_label(w["reason"], exact=True).fill("chip worn")
    tab.get_by_role("button", name=w["record"]).click()
    tab.get_by_text(w["recorded"]).wait_for()
    visit(tab, f"console-destruction-recorded-{lang}", lang=w["html"])
    for n in (1, 2):
        _sign_in(tab, w, lang, Role.KEY_CUSTODIAN, f"witness{n}")
        tab.get_by_role("link", name=w["carriers"]).first.click()
        tab.get_by_role("link", name=serial).click()
        tab.get_by_role("button", name=w["sign"]).click()
        tab.get_by_text(w["signed"] if n == 1 else w["destroyed"]).wait_for()
        visit(tab, f"console-destruction-signed{n}-{lang}", lang=w["html"])


DESTRUCTION = {
    "zh": {"carriers": "密钥载体", "method": "方式", "place": "地点", "reason": "原因", "record": "记录销毁",
           "recorded": "销毁已记录", "sign": "作为见证人签名", "signed": "您的签名已记录",
           "destroyed": "第二个签名已完成"},
    "en": {"carriers": "Key carriers", "method": "Method", "place": "Place", "reason": "Reason",
           "record": "Record the destruction", "recorded": "The destruction is recorded",
           "sign": "Sign as a witness", "signed": "Your signature is recorded",
           "destroyed": "Second signature given"},
}  # fmt: skip


# rule CH-2 (policy): an administrator sees the policy in force and records a new version with a reason
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_administrator_sets_a_policy_value(site, tab, lang: str) -> None:
    w = {**WORDS[lang], **POLICY[lang]}
    _sign_in(tab, w, lang, Role.ADMINISTRATOR, "admin")
    tab.get_by_role("link", name=w["policy"]).first.click()
    visit(tab, f"console-policy-{lang}", lang=w["html"])
    tab.get_by_label(w["setting"]).select_option("temporary_password_minutes")
    tab.get_by_label(w["value"]).fill("15")
    tab.get_by_label(w["reason"], exact=True).fill(f"notice {lang} {fresh_district()}")
    tab.get_by_role("button", name=w["save"]).click()
    tab.get_by_text(w["saved"]).wait_for()
    visit(tab, f"console-policy-set-{lang}", lang=w["html"])


POLICY = {
    "zh": {"policy": "政策参数", "setting": "参数", "value": "新值", "reason": "原因", "save": "记录新版本",
           "saved": "已记录新的政策版本"},
    "en": {"policy": "Policy", "setting": "Setting", "value": "New value", "reason": "Reason",
           "save": "Record a new version", "saved": "A new policy version has been recorded."},
}  # fmt: skip


# rules KEY-4 / KEY-7 / KEY-8 / KEY-9: a key custodian reads the registers of the region
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_custodian_reads_the_registers(site, tab, lang: str) -> None:
    from tests.web.page_factories import carrier_in_custody

    w = WORDS[lang]
    with unit_of_work() as uow:
        serial = carrier_in_custody(uow)
    _sign_in(tab, w, lang, Role.KEY_CUSTODIAN, "custodian")
    tab.get_by_role("link", name="登记簿" if lang == "zh" else "Registers").first.click()
    visit(tab, f"console-registers-{lang}", lang=w["html"])
    assert serial in tab.inner_text("main")

"""Console steps in a real browser, in Chinese and in English (issue 21): the menu of each role, a
carrier handed to a third party with its four conditions (KEY-7) where the security plan is approved by a
second officer in their own browser session, a PSAM deployed (KEY-8), a device registered (KEY-4), and
the auditor's search of every audited action (CH-4)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sscard.db.session import unit_of_work
from sscard.staff.roles import Role
from tests.browser.harness import visit
from tests.browser.test_console_pages import WORDS, _sign_in
from tests.web.page_factories import carrier_in_custody, console_staff

PDF = b"%PDF-1.4\n% test document\n%%EOF\n"

STEPS = {
    "zh": {"carriers": "密钥载体", "registers": "登记簿", "third_party": "第三方", "purpose": "用途",
           "due": "应归还日期", "open": "创建移交", "opened": "移交已创建", "record_no": "记录编号",
           "recipient": "接收方代表", "items": "物品及封条编号", "write": "填写记录", "written": "移交记录已填写",
           "signed_on": "签署日期", "agreement": "已签署的协议", "attach": "上传协议", "attached": "保密协议已上传",
           "plan": "第三方的安全管理方案", "submit": "提交方案审核", "submitted": "安全管理方案已提交",
           "supervisor": "监督人员（用户名）", "assign": "指定监督人员", "assigned": "监督人员已指定",
           "approve": "批准", "decide": "记录决定", "decided": "审核结论已记录", "hand": "移交载体",
           "handed": "载体已移交", "environment": "使用环境", "institution": "机构", "form": "物理形态",
           "mode": "终端使用方式", "deploy": "部署", "deployed": "PSAM卡已部署", "audit": "审计日志",
           "actor": "操作人（用户名）", "search": "查询", "area": "工作人员账号"},
    "en": {"carriers": "Key carriers", "registers": "Registers", "third_party": "Third party", "purpose": "Purpose",
           "due": "Due back on", "open": "Open the handover", "opened": "The handover is opened",
           "record_no": "Record number", "recipient": "Receiving representative", "items": "Items and seal numbers",
           "write": "Write the record", "written": "The handover record has been written.",
           "signed_on": "Signed on", "agreement": "The signed agreement", "attach": "Attach the agreement",
           "attached": "The confidentiality agreement has been attached.",
           "plan": "The third party's security management plan", "submit": "Submit the plan for review",
           "submitted": "The security plan is submitted", "supervisor": "Supervising staff member (user name)",
           "assign": "Assign the supervisor", "assigned": "The supervisor has been assigned.", "approve": "Approve",
           "decide": "Record the decision", "decided": "Your decision on the security plan is recorded.",
           "hand": "Hand the carrier over", "handed": "The carrier has been handed over.",
           "environment": "Environment", "institution": "Institution", "form": "Physical form",
           "mode": "How the terminal is operated", "deploy": "Deploy", "deployed": "The PSAM has been deployed.",
           "audit": "Audit log", "actor": "Actor (user name)", "search": "Search", "area": "Staff accounts"},
}  # fmt: skip


def _open_carrier(tab, w: dict[str, str], serial: str) -> None:
    tab.get_by_role("link", name=w["carriers"]).first.click()
    tab.get_by_role("link", name=serial).click()


# rules KEY-7 / CH-2 (two-person step): an officer gathers the four conditions; the security plan is
# approved by a second officer in their own browser session, who then hands the carrier over
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_handover_with_a_second_officer(site, tab, lang: str, tmp_path) -> None:
    w = {**WORDS[lang], **STEPS[lang]}
    with unit_of_work() as uow:
        serial = carrier_in_custody(uow)
        supervisor = console_staff(uow, Role.SECURITY_OFFICER).username
    _sign_in(tab, w, lang, Role.SECURITY_OFFICER, "handover-first")
    _open_carrier(tab, w, serial)
    visit(tab, f"console-carrier-steps-{lang}", lang=w["html"])
    tab.get_by_label(w["third_party"]).fill(f"Bureau {lang}")
    tab.get_by_label(w["purpose"]).fill("personalisation")
    tab.get_by_label(w["due"]).fill((date.today() + timedelta(days=30)).isoformat())
    tab.get_by_role("button", name=w["open"]).click()
    tab.get_by_text(w["opened"]).wait_for()
    visit(tab, f"console-handover-opened-{lang}", lang=w["html"])
    tab.get_by_label(w["record_no"]).fill("HO-7")
    tab.get_by_label(w["recipient"]).fill("Li Si")
    tab.get_by_label(w["items"]).fill("seal 77")
    tab.get_by_role("button", name=w["write"]).click()
    tab.get_by_text(w["written"]).wait_for()
    document = tmp_path / "document.pdf"
    document.write_bytes(PDF)
    tab.get_by_label(w["signed_on"]).fill(date.today().isoformat())
    tab.get_by_label(w["agreement"]).set_input_files(str(document))
    tab.get_by_role("button", name=w["attach"]).click()
    tab.get_by_text(w["attached"]).wait_for()
    tab.get_by_label(w["plan"]).set_input_files(str(document))
    tab.get_by_role("button", name=w["submit"]).click()
    tab.get_by_text(w["submitted"]).wait_for()
    tab.get_by_label(w["supervisor"]).fill(supervisor)
    tab.get_by_role("button", name=w["assign"]).click()
    tab.get_by_text(w["assigned"]).wait_for()
    visit(tab, f"console-handover-conditions-{lang}", lang=w["html"])
    _sign_in(tab, w, lang, Role.SECURITY_OFFICER, "handover-second")  # another officer, another session
    tab.get_by_role("link", name=w["registers"]).first.click()
    tab.get_by_role("link", name=f"Bureau {lang}").click()
    tab.get_by_label(w["approve"]).check()
    tab.get_by_role("button", name=w["decide"]).click()
    tab.get_by_text(w["decided"]).wait_for()
    tab.get_by_role("button", name=w["hand"]).click()
    tab.get_by_text(w["handed"]).wait_for()
    visit(tab, f"console-handover-done-{lang}", lang=w["html"])


# rule KEY-8: a custodian deploys a PSAM into an institution; the menu shows a custodian only their sections
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_custodian_deploys_a_psam(site, tab, lang: str) -> None:
    w = {**WORDS[lang], **STEPS[lang]}
    with unit_of_work() as uow:
        serial = carrier_in_custody(uow)
    _sign_in(tab, w, lang, Role.KEY_CUSTODIAN, "psam")
    nav = tab.inner_text("nav.site-nav")
    assert w["carriers"] in nav and w["audit"] not in nav and w["keys"] not in nav
    _open_carrier(tab, w, serial)
    tab.get_by_label(w["institution"]).fill("Haidian pharmacy")
    tab.get_by_label(w["form"]).select_option("plug_in")
    tab.get_by_label(w["environment"]).fill("pharmacy desk")
    tab.get_by_label(w["mode"]).select_option("attended")
    tab.get_by_role("button", name=w["deploy"], exact=True).click()
    tab.get_by_text(w["deployed"]).wait_for()
    visit(tab, f"console-psam-deployed-{lang}", lang=w["html"])


# rules CH-4 / KEY-4: the auditor searches every audited action (a staff sign-in) by actor; an officer's
# registers page has the device and plan forms
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_auditor_search_and_officer_registers(site, tab, lang: str) -> None:
    w = {**WORDS[lang], **STEPS[lang]}
    officer = _sign_in(tab, w, lang, Role.SECURITY_OFFICER, "registers")
    tab.get_by_role("link", name=w["registers"]).first.click()
    visit(tab, f"console-registers-officer-{lang}", lang=w["html"])
    _sign_in(tab, w, lang, Role.AUDITOR, "auditor-search")
    tab.get_by_role("link", name=w["audit"]).first.click()
    tab.get_by_label(w["actor"]).fill(officer)
    tab.get_by_role("button", name=w["search"]).click()
    tab.get_by_text("staff.login").first.wait_for()
    assert w["area"] in tab.inner_text("main")
    visit(tab, f"console-audit-all-{lang}", lang=w["html"])


CARRIER = {
    "zh": {"receive": "登记密钥载体", "type": "类型", "serial": "序列号", "receipt": "签收单号", "on": "签收日期",
           "from": "发出单位", "kept": "存放地点", "register": "登记载体", "registered": "载体已登记。",
           "label": "密钥台账标签", "load": "记录密钥", "loaded": "已记录该载体所持密钥。", "safe": "保险柜或机要室",
           "why": "入库原因", "store": "载体入库", "stored": "载体已入库保管。", "where": "使用地点",
           "use_for": "使用事由", "count": "使用次数", "log": "记录使用", "logged": "使用情况已记录。",
           "loss": "报告遗失", "lost": "遗失已报告", "confirm": "确认", "confirmed": "措施已确认。"},
    "en": {"receive": "Receive a key carrier", "type": "Type", "serial": "Serial", "receipt": "Receipt number",
           "on": "Received on", "from": "Received from", "kept": "Where it is kept", "register": "Register the carrier",
           "registered": "The carrier has been registered.", "label": "Key inventory label", "load": "Record the key",
           "loaded": "The key is recorded on the carrier.", "safe": "Safe or strongroom", "why": "Why it is stored",
           "store": "Store the carrier", "stored": "The carrier is in custody.", "where": "Where it was used",
           "use_for": "What it was used for", "count": "Number of uses", "log": "Log the use",
           "logged": "The use has been logged.", "loss": "Report the loss", "lost": "The loss is reported",
           "confirm": "Confirm", "confirmed": "The measure is confirmed."},
}  # fmt: skip


# rules KEY-5 / KEY-9: an officer receives a carrier with its receipt, records the key it holds, stores it
# and logs a use (the usage log on its page); reported lost, the key's rotation is confirmed by hand
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_officer_receives_stores_uses_and_loses_a_carrier(site, tab, lang: str) -> None:
    from tests.key_register.factories import inventory_key, staff_actor, unique

    w = {**WORDS[lang], **STEPS[lang], **CARRIER[lang]}
    with unit_of_work() as uow:
        label = inventory_key(uow, staff_actor(uow, Role.SECURITY_OFFICER, "110000"), "110000")
    serial = unique("SN")
    _sign_in(tab, w, lang, Role.SECURITY_OFFICER, "carrier-receive")
    tab.get_by_role("link", name=w["carriers"]).first.click()
    tab.get_by_role("link", name=w["receive"]).click()
    tab.get_by_label(w["type"]).select_option("key_mother_card")
    tab.get_by_label(w["serial"]).fill(serial)
    tab.get_by_label(w["receipt"]).fill(unique("RC"))
    tab.get_by_label(w["on"]).fill(date.today().isoformat())
    tab.get_by_label(w["from"]).fill("人社部信息中心")
    tab.get_by_label(w["kept"]).fill("机要室保险柜A")
    visit(tab, f"console-carrier-receive-{lang}", lang=w["html"])
    tab.get_by_role("button", name=w["register"]).click()
    tab.get_by_text(w["registered"]).wait_for()
    tab.get_by_label(w["label"]).fill(label)
    tab.get_by_role("button", name=w["load"]).click()
    tab.get_by_text(w["loaded"]).wait_for()
    tab.get_by_label(w["safe"]).fill("保险柜B")
    tab.get_by_label(w["why"]).fill("入库")
    tab.get_by_role("button", name=w["store"]).click()
    tab.get_by_text(w["stored"]).wait_for()
    tab.get_by_label(w["where"]).fill("机房")
    tab.get_by_label(w["use_for"]).fill("密钥分散仪式")
    tab.get_by_label(w["count"]).fill("2")
    tab.get_by_role("button", name=w["log"]).click()
    tab.get_by_text(w["logged"]).wait_for()
    assert "密钥分散仪式" in tab.inner_text("main") and label in tab.inner_text("main")
    visit(tab, f"console-carrier-usage-{lang}", lang=w["html"])
    tab.get_by_label(w["what"]).fill("transport bag missing")
    tab.get_by_role("button", name=w["loss"]).click()
    tab.get_by_text(w["lost"]).wait_for()
    form = tab.locator("form[action$='/confirm']").first
    form.locator("input[name=note]").fill("rotated at the HSM console")
    form.get_by_role("button", name=w["confirm"]).click()
    tab.get_by_text(w["confirmed"]).wait_for()
    visit(tab, f"console-incident-measure-confirmed-{lang}", lang=w["html"])
    suffix = "?lang=en" if lang == "en" else "?lang=zh_CN"
    for shot, path in (("receipt", "/console/carriers/receipt"), ("overdue", "/console/handovers/overdue")):
        tab.goto(path + suffix)
        visit(tab, f"console-{shot}-{lang}", lang=w["html"])  # axe and a screenshot of the other new pages

"""Console pages over the carrier, handover and incident services through TestClient (issue 21): carriers
received one by one or by delivery receipt (KEY-5), a key loaded, storing, logged uses and a loss with
its measures confirmed by hand (KEY-9), the overdue handovers and the supervision log kept by the
assigned supervisor only (KEY-7); the security API's roles (CH-2) and refusals in the reader's language."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from sscard.db.base import china_today, utcnow
from sscard.db.session import unit_of_work
from sscard.key_register.models import KeyCarrier
from sscard.key_register.models.handovers import CarrierHandover, SupervisionEntry
from sscard.key_register.models.incidents import IncidentMeasure, SecurityIncident
from sscard.staff.roles import Role
from tests.key_register.factories import PDF, inventory_key, receive, staff_actor, unique
from tests.web.conftest import csrf_of
from tests.web.page_factories import deliver_incident_notices
from tests.web.test_console_pages import _open_carrier, _sign_in, _staff

REGION = "110000"


def _carrier(serial: str) -> KeyCarrier:
    with unit_of_work() as uow:
        found = uow.session.scalars(select(KeyCarrier).where(KeyCarrier.serial == serial)).one()
        uow.session.expunge(found)
        return found


def _post(browser, form_url: str, action: str, data: dict[str, object]):
    page = browser.get(form_url)
    return browser.post(action, data={**data, "csrf_token": csrf_of(page.text)})


def _receipt(**extra: object) -> dict[str, object]:
    return {"region_code": REGION, "receipt_no": unique("RC"), "received_on": china_today().isoformat(),
            "received_from": "人社部信息中心", "location": "机要室保险柜A", **extra}  # fmt: skip


# rules KEY-5 / CH-2: a custodian registers one carrier and a receipt of several (all or none); a serial
# already registered is refused with its reason in Chinese (the default); an auditor may not receive
def test_receive_one_carrier_and_a_receipt(browser) -> None:
    _sign_in(browser, _staff(Role.KEY_CUSTODIAN))
    assert 'href="/console/carriers/receive"' in browser.get("/console/carriers").text
    for form in ("receive?lang=en", "receipt?lang=en", "receive?lang=zh_CN", "receipt?lang=zh_CN"):
        assert browser.get(f"/console/carriers/{form}").status_code == 200, form
    serial = unique("SN")
    one = _receipt(carrier_type="psam_card", serial=serial)
    r = _post(browser, "/console/carriers/receive", "/console/carriers", one)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/carriers/")
    assert serial in browser.get(r.headers["location"]).text
    assert _carrier(serial).state.value == "received"
    again = _post(browser, "/console/carriers/receive", "/console/carriers", {**one, "receipt_no": unique("RC")})
    assert again.status_code == 409 and "该类型和序列号的载体或该签收单号已登记。" in again.text  # CARRIER_EXISTS
    missing = _post(browser, "/console/carriers/receive", "/console/carriers", {**one, "serial": ""})
    assert missing.status_code == 422 and 'aria-invalid="true"' in missing.text
    first, second, taken = unique("SN"), unique("SN"), serial
    lines = {"line_type": ["key_mother_card", "psam_card", ""], "line_serial": [first, second, ""],
             "line_holder": ["", "张三", ""]}  # fmt: skip
    clash = _post(
        browser,
        "/console/carriers/receipt",
        "/console/carriers/receipts",
        _receipt(line_type=["psam_card", "psam_card"], line_serial=[first, taken], line_holder=["", ""]),
    )
    assert clash.status_code == 409  # one line already registered: none of the receipt is
    with unit_of_work() as uow:
        assert uow.session.scalars(select(KeyCarrier).where(KeyCarrier.serial == first)).all() == []
    r = _post(browser, "/console/carriers/receipt", "/console/carriers/receipts", _receipt(**lines))
    assert r.status_code == 303 and r.headers["location"] == "/console/carriers"
    listing = browser.get("/console/carriers").text
    assert first in listing and second in listing and _carrier(second).holder == "张三"
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.AUDITOR))
    assert browser.get("/console/carriers/receive").status_code == 403
    assert 'href="/console/carriers/receive"' not in browser.get("/console/carriers").text
    r = _post(
        browser, "/console/carriers", "/console/carriers", _receipt(carrier_type="psam_card", serial=unique("SN"))
    )
    assert r.status_code == 403


def _received(with_key: bool = False) -> tuple[str, str | None]:
    with unit_of_work() as uow:
        officer = staff_actor(uow, Role.SECURITY_OFFICER, REGION)
        card = receive(uow, officer, region_code=REGION)
        return card.serial, inventory_key(uow, officer, REGION) if with_key else None


# rules KEY-5 / KEY-9 / CH-2: an officer loads a key (a custodian may not); a custodian stores the carrier
# (a second store refused in the reader's language) and logs a use, shown in the usage log
def test_key_store_and_use(browser) -> None:
    serial, label = _received(with_key=True)
    _sign_in(browser, _staff(Role.KEY_CUSTODIAN))
    url = _open_carrier(browser, serial)
    assert f"{url}/keys" not in browser.get(url).text
    assert _post(browser, url, f"{url}/keys", {"key_label": label}).status_code == 403  # officers only
    r = _post(browser, url, f"{url}/store", {"store_location": "保险柜B", "store_purpose": "入库"})
    assert r.status_code == 303 and _carrier(serial).state.value == "in_custody"
    again = _post(browser, f"{url}?lang=en", f"{url}/store", {"store_location": "x", "store_purpose": "y"})
    assert again.status_code == 409 and "The carrier&#39;s state does not allow this operation." in again.text
    again = _post(browser, f"{url}?lang=zh_CN", f"{url}/store", {"store_location": "x", "store_purpose": "y"})
    assert again.status_code == 409 and "密钥载体当前状态不允许此操作。" in again.text
    bad = _post(browser, url, f"{url}/uses", {"use_location": "机房", "use_purpose": "签发", "use_count": "two"})
    assert bad.status_code == 422
    r = _post(browser, url, f"{url}/uses", {"use_location": "机房", "use_purpose": "密钥分散仪式", "use_count": "3"})
    assert r.status_code == 303
    page = browser.get(f"{url}?lang=en").text
    assert "密钥分散仪式" in page and "Usage log (3 uses in all)" in page and "Stored" in page
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.SECURITY_OFFICER))
    url = _open_carrier(browser, serial)
    unknown = _post(browser, url, f"{url}/keys", {"key_label": "LK/NO-SUCH-KEY"})
    assert unknown.status_code == 422 and "密钥管理输入无效。" in unknown.text  # KEYS_INVALID
    assert _post(browser, url, f"{url}/keys", {"key_label": label}).status_code == 303
    assert label in browser.get(url).text


def _measures(description: str) -> list[IncidentMeasure]:
    with unit_of_work() as uow:
        incident = uow.session.scalars(
            select(SecurityIncident).where(SecurityIncident.description == description)
        ).one()
        found = list(uow.session.scalars(select(IncidentMeasure).where(IncidentMeasure.incident_id == incident.id)))
        uow.session.expunge_all()
        return found


# rule KEY-9: a lost carrier is blocked and its key revoked and rotated; the rotation, pending, is confirmed
# by an officer (not by a custodian) with a note; once the incident is closed a confirmation is refused
def test_loss_and_measures_confirmed_by_hand(browser) -> None:
    serial, label = _received(with_key=True)
    _sign_in(browser, _staff(Role.SECURITY_OFFICER))
    url = _open_carrier(browser, serial)
    assert _post(browser, url, f"{url}/keys", {"key_label": label}).status_code == 303
    description = f"lost on the way {unique('')}"
    r = _post(browser, url, f"{url}/loss", {"loss_description": description})
    assert r.status_code == 303 and r.headers["location"].startswith("/console/incidents/")
    incident_url = r.headers["location"]
    assert _carrier(serial).state.value == "lost"
    page = browser.get(incident_url).text
    confirms = re.findall(r'action="(/console/incidents/[^"]+/confirm)"', page)
    pending = [m for m in _measures(description) if m.status.value == "pending"]
    assert confirms and len(confirms) == len([m for m in pending if not m.kind.value.startswith("notify_")])
    empty = _post(browser, incident_url, confirms[0], {"note": ""})
    assert empty.status_code == 422
    for action in confirms:
        assert _post(browser, incident_url, action, {"note": "rotated at the HSM console"}).status_code == 303
    assert all(m.status.value == "done" for m in _measures(description) if not m.kind.value.startswith("notify_"))
    assert "/confirm" not in browser.get(incident_url).text  # nothing left to confirm by hand
    r = _post(browser, incident_url, f"{incident_url}/findings", {"cause": "dropped", "handling": "keys rotated"})
    assert r.status_code == 303
    deliver_incident_notices(description)
    assert _post(browser, incident_url, f"{incident_url}/close", {}).status_code == 303
    late = _post(browser, incident_url, confirms[0], {"note": "again"})
    assert late.status_code == 409 and "安全事件当前状态不允许此操作。" in late.text  # INCIDENT_ILLEGAL_TRANSITION
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.KEY_CUSTODIAN))  # the role is checked before anything else (CH-2)
    assert _post(browser, "/console/incidents", confirms[0], {"note": "x"}).status_code == 403


def _handed_over(third_party: str) -> str:
    """A carrier of region 110000 handed over under KEY-7's four conditions; returns its supervisor."""
    from sscard.key_register.carriers import store_carrier
    from sscard.key_register.handovers import (
        assign_supervisor,
        attach_agreement,
        complete_handover,
        decide_security_plan,
        request_handover,
        submit_security_plan,
        write_handover_record,
    )

    with unit_of_work() as uow:
        keeper = staff_actor(uow, Role.KEY_CUSTODIAN, REGION)
        officer = staff_actor(uow, Role.SECURITY_OFFICER, REGION)
        supervisor = staff_actor(uow, Role.KEY_CUSTODIAN, REGION)
        card = receive(uow, keeper, region_code=REGION)
        store_carrier(uow, carrier_id=card.id, location="保险柜", purpose="入库", actor=keeper)
        handover = request_handover(uow, carrier_id=card.id, third_party=third_party, purpose="个人化制卡",
                                    due_back_at=utcnow() + timedelta(days=3), actor=keeper)  # fmt: skip
        write_handover_record(uow, handover_id=handover.id, record_no="JJ-1", recipient="王五", items="封签 A1",
                              actor=keeper)  # fmt: skip
        attach_agreement(uow, handover_id=handover.id, filename="nda.pdf", content=PDF, signed_on=china_today(),
                         actor=keeper)  # fmt: skip
        review = submit_security_plan(uow, handover_id=handover.id, filename="plan.pdf", content=PDF, actor=keeper)
        decide_security_plan(uow, review_id=review.id, approve=True, comments="", actor=officer)
        assign_supervisor(uow, handover_id=handover.id, supervisor=supervisor.id, actor=officer)
        complete_handover(uow, handover_id=handover.id, actor=keeper)
        return supervisor.id


def _handover_link(html: str, third_party: str) -> str | None:
    match = re.search(r'href="(/console/handovers/[^"]+)">' + re.escape(third_party) + "<", html)
    return match.group(1) if match else None


# rule KEY-7: only the assigned supervisor writes the supervision log, in their own session (NOT_SUPERVISOR
# for another custodian, in Chinese); a handover past its return date is listed as overdue
def test_supervision_and_overdue(browser) -> None:
    third_party = f"Card bureau {unique('')}"
    supervisor = _handed_over(third_party)
    _sign_in(browser, _staff(Role.KEY_CUSTODIAN))
    assert _handover_link(browser.get("/console/handovers/overdue").text, third_party) is None  # not yet due
    url = _handover_link(browser.get("/console/registers").text, third_party)
    assert url and f"{url}/supervision" not in browser.get(url).text
    other = _post(browser, url, f"{url}/supervision", {"seen_location": "厂区", "observation": "在场"})
    assert other.status_code == 403 and "只有指定的监督人员才能记录监督情况。" in other.text  # NOT_SUPERVISOR
    browser.cookies.clear()
    _sign_in(browser, supervisor)
    url = _handover_link(browser.get("/console/registers").text, third_party)
    assert f"{url}/supervision" in browser.get(url).text
    empty = _post(browser, url, f"{url}/supervision", {"seen_location": "厂区", "observation": ""})
    assert empty.status_code == 422
    r = _post(browser, url, f"{url}/supervision", {"seen_location": "制卡车间", "observation": "封签完好，专人操作"})
    assert r.status_code == 303 and "封签完好，专人操作" in browser.get(url).text
    with unit_of_work() as uow:
        handover = uow.session.scalars(select(CarrierHandover).where(CarrierHandover.third_party == third_party)).one()
        entries = uow.session.scalars(select(SupervisionEntry).where(SupervisionEntry.handover_id == handover.id))
        assert [e.supervisor for e in entries] == [supervisor]
        uow.session.execute(update(CarrierHandover).where(CarrierHandover.id == handover.id)
                            .values(due_back_at=utcnow() - timedelta(days=1)))  # fmt: skip
    assert _handover_link(browser.get("/console/handovers/overdue").text, third_party)
    browser.cookies.clear()
    _sign_in(browser, _staff(Role.ADMINISTRATOR))
    assert browser.get("/console/handovers/overdue").status_code == 403

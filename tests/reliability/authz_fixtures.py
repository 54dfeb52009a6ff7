"""Real rows in region A for the authorisation matrix, and staff tokens per role and region.

Rows lie in district 110105 (inside staff region A, 110000); staff region B is 440000. Rows that an
operation moves through a state (activate, confirm a loss, ...) get one of their own, so the first
allowed call can succeed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from sscard.staff.roles import Role

ROW_REGION = "110105"
REGION_A = "110000"
REGION_B = "440000"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class Fixtures:
    persons: dict[str, tuple[int, str]] = field(default_factory=dict)  # name → (person_id, id_number)
    cards: dict[str, str] = field(default_factory=dict)  # name → card_no
    ids: dict[str, Any] = field(default_factory=dict)  # terminal, device, carrier, handover, ...
    tokens: dict[tuple[Role, str], str] = field(default_factory=dict)
    usernames: dict[tuple[Role, str], str] = field(default_factory=dict)
    holder_token: str = ""


def staff_token(role: Role, region: str) -> tuple[str, str]:
    """A live session for a new account, written straight to the session table (no Argon2 cost)."""
    from sscard.db.base import utcnow
    from sscard.db.session import unit_of_work
    from sscard.staff.models import StaffSession
    from sscard.staff.sessions import TOKEN_PREFIX, token_digest
    from tests.staff.factories import make_staff

    with unit_of_work() as uow:
        account = make_staff(uow, role=role, region_code=region)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(hours=2)
        uow.session.add(StaffSession(token_hash=token_digest(token), staff_id=account.id, expires_at=expires))
        return token, account.username


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def build(client: TestClient) -> Fixtures:  # noqa: PLR0915 - one linear set-up
    from sscard.audit import Actor
    from sscard.cards.service import activate_card, issue_card, report_loss_by_hotline
    from sscard.db.base import china_today, utcnow
    from sscard.db.session import unit_of_work
    from sscard.key_register.devices import get_device_or_raise, raise_alert
    from tests.key_register.factories import inventory_key, terminal, unique
    from tests.people.factories import CALLER, CLERK, add_test_person, new_id_number, new_phone
    from tests.staff.factories import TEST_BANK, ensure_region

    fx = Fixtures()
    for role in Role:
        for region in (REGION_A, REGION_B):
            fx.tokens[role, region], fx.usernames[role, region] = staff_token(role, region)

    card_plans = {
        "show": "active", "activate": "issued", "confirm": "loss_reported", "withdraw": "loss_reported",
        "replace": "active", "cancel": "active", "pin": "active", "pin_reset": "active", "pin_unlock": "active",
        "pin_cancel": "active", "pin_restore": "active", "hotline": "active", "debit": "active",
        "debit_to": "active", "activate_pin": "issued",
    }  # fmt: skip
    with unit_of_work() as uow:
        ensure_region(uow, ROW_REGION)
        ensure_region(uow, "440305")
        for name in ("main", "no_card", "status", "reinit", "correct", "correct_id", "approve", "reject", *card_plans):
            number = new_id_number(region=ROW_REGION)
            person = add_test_person(uow, id_number=number, phone=new_phone(), email=f"{name}@example.com")
            fx.persons[name] = (person.id, number)
        for name, plan in card_plans.items():
            # Issued through the test bank clerks' bank: a bank clerk acts only on its bank's cards (PIN-6).
            card = issue_card(
                uow, person_id=fx.persons[name][0], card_type="social", actor=CLERK, financial=True, bank_code=TEST_BANK
            )
            if plan != "issued":
                activate_card(uow, card_no=card.card_no, actor=CLERK)
            if plan == "loss_reported":
                report_loss_by_hotline(uow, id_number=fx.persons[name][1], actor=CALLER)
            fx.cards[name] = card.card_no
        from sscard.debit.service import open_debit_account

        open_debit_account(uow, card_no=fx.cards["debit_to"], actor=CLERK)  # the target of the transfer (FIN-2)
        fx.ids["terminal"] = terminal(uow, ROW_REGION)
        fx.ids["key_label"] = inventory_key(uow, Actor.system(), region_code=ROW_REGION)
        fx.ids["unregistered"] = new_id_number(region=ROW_REGION)
        # QPW-3: citizen ID corrections requested by a clerk, waiting for a supervisor (another person).
        from sscard.record_corrections.service import request_id_correction

        fx.ids["correct_new_id"] = new_id_number(region=ROW_REGION)
        for name in ("approve", "reject"):
            new = new_id_number(region=ROW_REGION)
            doc = {"document_type": "resident_id_card", "document_number": new}
            fx.ids[f"correction_{name}"] = request_id_correction(
                uow, person_id=fx.persons[name][0], new_id_number=new, reason="录入错误", actor=CLERK, **doc
            ).id
        from tests.staff.factories import make_staff

        fx.ids["staff_a"] = make_staff(uow, role=Role.COUNTER_CLERK, region_code=ROW_REGION).username
        from datetime import date

        from sscard.insurance.service import register_employee
        from tests.employers.factories import add_test_employer

        employer = add_test_employer(uow, region=ROW_REGION)
        late = register_employee(
            uow, employer=employer, person=add_test_person(uow, id_number=new_id_number(region=ROW_REGION,
            born=date(1990, 1, 1))), employment_start=date(2024, 1, 1), registered_on=date(2024, 3, 1), actor=CLERK
        )  # fmt: skip
        fx.ids["late_registration"] = late.id
        from sscard.insurance.discrepancies.service import report_discrepancy

        fx.ids["report"] = report_discrepancy(  # INS-6: an open report in region A for the agency's queue
            uow, person_id=fx.persons["main"][0], text="单位漏报一个月", actor=Actor.system()
        ).id

    officer = _bearer(fx.tokens[Role.SECURITY_OFFICER, REGION_A])
    custodian = _bearer(fx.tokens[Role.KEY_CUSTODIAN, REGION_A])
    api = "/api/v1/security"

    def post(url: str, headers: dict[str, str], **kwargs: Any) -> dict[str, Any]:
        r = client.post(f"{api}{url}", headers=headers, **kwargs)
        assert r.status_code in (200, 201), f"fixture {url}: {r.status_code} {r.text}"
        return r.json()  # type: ignore[no-any-return]

    today = china_today()
    device = post("/devices", officer, json={
        "model": "SJJ1310", "serial": unique("DEV"), "certificate_no": unique("SXH"),
        "certificate_valid_from": (today - timedelta(days=30)).isoformat(),
        "certificate_valid_until": (today + timedelta(days=700)).isoformat(),
        "location": "机房A", "region_code": ROW_REGION,
    })  # fmt: skip
    fx.ids["device"], fx.ids["certificate_no"] = device["id"], device["certificate_no"]
    with unit_of_work() as uow:
        fx.ids["alert"] = raise_alert(
            uow, device=get_device_or_raise(uow, device["id"]), kind="expiring", at=utcnow()
        ).id

    def carrier(kind: str = "psam_card") -> int:
        return int(post("/carriers", custodian, json={
            "carrier_type": kind, "serial": unique("SN"), "region_code": ROW_REGION, "receipt_no": unique("RC"),
            "received_on": today.isoformat(), "received_from": "人社部信息中心", "location": "机要室保险柜",
        })["id"])  # fmt: skip

    for name in ("carrier", "psam", "destroy", "lost", "handed", "deploy", "store"):
        fx.ids[f"c_{name}"] = carrier()
    post(f"/psam/{fx.ids['c_psam']}/deploy", custodian, json={
        "terminal_id": fx.ids["terminal"], "institution": "测试大药房", "physical_form": "plug_in",
        "environment": "收银台内侧", "usage_mode": "attended",
    })  # fmt: skip
    post(f"/carriers/{fx.ids['c_destroy']}/store", custodian, json={"location": "保险柜", "purpose": "待销毁"})
    fx.ids["destruction"] = post(
        f"/carriers/{fx.ids['c_destroy']}/destructions",
        custodian,
        json={"method": "剪碎", "place": "机要室", "reason": "报废"},
    )["id"]
    post(f"/psam/{fx.ids['c_handed']}/deploy", custodian, json={
        "institution": "测试药房", "physical_form": "plug_in", "environment": "柜台", "usage_mode": "attended",
    })  # fmt: skip
    due = (utcnow() + timedelta(days=3)).isoformat()
    handover = {"carrier_id": fx.ids["c_handed"], "third_party": "某维保公司", "purpose": "维修", "due_back_at": due}
    fx.ids["handover"] = post("/handovers", custodian, json=handover)["id"]
    hid = fx.ids["handover"]
    agreement = post(
        f"/handovers/{hid}/agreement", custodian,
        files={"file": ("nda.pdf", PDF, "application/pdf")}, data={"signed_on": today.isoformat()},
    )  # fmt: skip
    fx.ids["document"] = agreement.get("agreement_document_id") or agreement.get("agreement_id")
    fx.ids["review"] = post(
        f"/handovers/{hid}/security-plan", custodian, files={"file": ("p.pdf", PDF, "application/pdf")}
    )["id"]
    if fx.ids["document"] is None:
        fx.ids["document"] = client.get(f"{api}/handovers/{hid}/reviews", headers=officer).json()[0]["document_id"]
    incident = post(f"/carriers/{fx.ids['c_lost']}/loss", custodian, json={"description": "运输途中丢失"})
    fx.ids["incident"], fx.ids["measure"] = incident["id"], incident["measures"][0]["id"]
    post("/plans", officer, files={"file": ("plan.pdf", PDF, "application/pdf")},
         data={"region_code": ROW_REGION, "title": "应急预案", "effective_from": today.isoformat()})  # fmt: skip

    # A holder signed in to the portal with the initial password (QPW-1: the ID's last 8, X → 0).
    number = fx.persons["main"][1]
    r = client.post("/api/v1/portal/login", json={"id_number": number, "password": number[-8:].replace("X", "0")})
    assert r.status_code == 200, r.text
    fx.holder_token = r.json()["access_token"]
    return fx

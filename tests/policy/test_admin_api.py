"""Policy over the admin API: administrator role, own region (CH-2), versioned and audited (POL)."""

from __future__ import annotations

from sscard.db.session import unit_of_work
from sscard.staff.roles import Role
from tests.policy.factories import fresh_district
from tests.staff.factories import ensure_region


def _district() -> str:
    code = fresh_district()
    with unit_of_work() as uow:
        ensure_region(uow, code)
    return code


# POL: an administrator of the province changes a district's policy; it is versioned and shown with sources
def test_set_and_show(client, staff_headers) -> None:
    district = _district()
    headers = staff_headers(Role.ADMINISTRATOR, district[:2] + "0000")
    r = client.post(
        f"/api/v1/admin/policy/{district}",
        json={"set": {"pin_lockout_threshold": 5, "initial_pin_rule": "birth_yymmdd"}, "reason": "provincial rule"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and r.json()["changed_by"].startswith("t")
    r = client.post(
        f"/api/v1/admin/policy/{district}",
        json={"card_type": "rural", "set": {"initial_pin_rule": "id_last6"}, "reason": "rural cards"},
        headers=headers,
    )
    assert r.status_code == 201 and r.json()["card_type"] == "rural"
    shown = client.get(f"/api/v1/admin/policy/{district}", params={"card_type": "rural"}, headers=headers).json()
    assert shown["values"]["pin_lockout_threshold"] == 5 and shown["values"]["initial_pin_rule"] == "id_last6"
    assert shown["sources"]["initial_pin_rule"] == f"{district}/rural v1"
    history = client.get(f"/api/v1/admin/policy/{district}/versions", headers=headers).json()
    assert [(v["card_type"], v["version"]) for v in history] == [("any", 1), ("rural", 1)]


# rule CH-2: another region's administrator, or a clerk, may not change it
def test_role_and_region(client, staff_headers) -> None:
    district = _district()
    body = {"set": {"loss_report_expiry_days": 7}, "reason": "not mine"}
    other = staff_headers(Role.ADMINISTRATOR, "650000")
    r = client.post(f"/api/v1/admin/policy/{district}", json=body, headers=other)
    assert r.status_code == 403 and r.json()["code"] == "OUTSIDE_REGION"
    clerk = staff_headers(Role.COUNTER_CLERK, district)
    assert client.post(f"/api/v1/admin/policy/{district}", json=body, headers=clerk).json()["code"] == "ROLE_FORBIDDEN"
    auditor = staff_headers(Role.AUDITOR, district)
    assert client.get(f"/api/v1/admin/policy/{district}", headers=auditor).status_code == 200
    assert client.post(f"/api/v1/admin/policy/{district}", json=body, headers=auditor).status_code == 403


# POL: invalid keys and values are 422 POLICY_INVALID naming the fault, never 500
def test_invalid(client, staff_headers) -> None:
    district = _district()
    headers = staff_headers(Role.ADMINISTRATOR, district)
    for body in (
        {"set": {"pin_lockout_threshold": 0}, "reason": "zero"},
        {"set": {"no_such": 1}, "reason": "unknown"},
        {"set": {"pin_change_campaigns": [{"name": "x"}]}, "reason": "half a campaign"},
    ):
        r = client.post(f"/api/v1/admin/policy/{district}", json=body, headers=headers)
        assert r.status_code == 422 and r.json()["code"] == "POLICY_INVALID", r.text
    r = client.post(f"/api/v1/admin/policy/{district}", json={"set": {}, "reason": "x"}, headers=headers)
    assert r.status_code == 422


# issue 5 item 7: the report of holders still on the initial query password, per region
def test_initial_password_report(client, staff_headers) -> None:
    from tests.credentials.query_password.factories import make_holder

    district = _district()
    with unit_of_work() as uow:
        for _ in range(3):
            make_holder(uow, region=district)
    headers = staff_headers(Role.ADMINISTRATOR, district)
    rows = client.get("/api/v1/admin/reports/initial-query-passwords", headers=headers).json()
    assert rows == [{"region_code": district, "holders": 3, "initial_password": 3, "share": 1.0}]


def test_show_at_a_moment(client, staff_headers) -> None:
    district = _district()
    headers = staff_headers(Role.ADMINISTRATOR, district)
    r = client.get(f"/api/v1/admin/policy/{district}", params={"at": "2030-01-01T00:00:00+08:00"}, headers=headers)
    assert r.status_code == 200 and r.json()["as_of"] == "2030-01-01T00:00:00+08:00"
    r = client.get(f"/api/v1/admin/policy/{district}", params={"at": "2030-01-01T00:00:00"}, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "POLICY_INVALID"

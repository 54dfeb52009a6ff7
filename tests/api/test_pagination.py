"""Issue 22 item 3: cursor pagination of the API's lists (api/pagination.py, db/pagination.py) and the
refusal of query parameters a route does not declare (api/query_params.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from sscard.api.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from sscard.db.pagination import CursorInvalid, Keyset, ordered, taken
from sscard.staff.models import StaffAccount
from sscard.staff.roles import Role
from tests.api.conftest import bearer


def _walk(client: TestClient, url: str, headers: dict[str, str], **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a list, following ``X-Next-Cursor`` (and checking ``Link`` says the same)."""
    pages = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = client.get(url, params=query, headers=headers)
        assert r.status_code == 200, r.text
        pages.append(r.json())
        cursor = r.headers.get("X-Next-Cursor")
        if cursor is None:
            assert "Link" not in r.headers
            return pages
        assert r.headers["Link"].endswith('; rel="next"') and f"cursor={cursor}" in r.headers["Link"]
        assert len(pages) < 200, "the walk does not end"


# rule issue-22-3: a list walked page by page gives every row once, in the list's order
def test_a_list_is_walked_across_pages_without_gaps_or_repeats(client: TestClient, staff_token) -> None:
    from sscard.db.session import unit_of_work
    from sscard.staff.service import list_staff

    admin = staff_token(Role.ADMINISTRATOR, "110000")
    for _ in range(4):
        staff_token(Role.COUNTER_CLERK, "110105")
    pages = _walk(client, "/api/v1/staff", bearer(admin), limit=2)
    assert all(len(p) == 2 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 2
    walked = [s["username"] for p in pages for s in p]
    with unit_of_work() as uow:
        everything = [a.username for a in list_staff(uow, region_code="110000")]
    assert walked == everything  # no gap, no repeat, the same order as unpaged
    assert len(pages) >= 3


# rule issue-22-3: filters stay on every page, and a region list pages by its code
def test_filters_hold_on_every_page_and_a_cursor_belongs_to_its_filters(client: TestClient, staff_token) -> None:
    staff_token(Role.AUDITOR, "440305")
    staff_token(Role.AUDITOR, "440106")
    pages = _walk(client, "/api/v1/regions", {}, within="440000", limit=1)
    codes = [r["code"] for p in pages for r in p]
    assert codes == sorted(set(codes)) and all(c.startswith("44") for c in codes)
    assert {"440000", "440300", "440305", "440100", "440106"} <= set(codes)
    first = client.get("/api/v1/regions", params={"within": "440000", "limit": 1})
    cursor = first.headers["X-Next-Cursor"]
    other = client.get("/api/v1/regions", params={"within": "110000", "limit": 1, "cursor": cursor})
    assert other.status_code == 422 and other.json()["code"] == "CURSOR_INVALID"


# rule issue-22-3: the default page is 50 rows; a limit above the maximum is refused, not clamped
def test_limit_default_and_maximum(client: TestClient, staff_token) -> None:
    admin = staff_token(Role.ADMINISTRATOR, "110000")
    r = client.get("/api/v1/staff", params={"limit": MAX_LIMIT + 1}, headers=bearer(admin))
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"
    assert client.get("/api/v1/regions", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/regions", params={"limit": MAX_LIMIT}).status_code == 200
    assert len(client.get("/api/v1/regions").json()) <= 50


# rule issue-22-3: a cursor that is not one the list gave out is a 422 with a stable code, never a 500
def test_a_bad_cursor_is_refused(client: TestClient) -> None:
    good = client.get("/api/v1/regions", params={"limit": 1}).headers["X-Next-Cursor"]
    good_tag = json.loads(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))["t"]
    forged = [
        "not base64 at all!",
        "e30",  # {} : no tag
        good[:-3],  # cut
        encode_cursor("0" * 16, ["110000"]),  # another list's tag
        # the list's own tag (no secret) with a lone surrogate: valid JSON, not a string a driver can send
        base64.urlsafe_b64encode(json.dumps({"t": good_tag, "k": ["\ud800"]}).encode()).decode().rstrip("="),
    ]
    for cursor in forged:
        r = client.get("/api/v1/regions", params={"limit": 1, "cursor": cursor})
        assert r.status_code == 422 and r.json()["code"] == "CURSOR_INVALID", (cursor, r.text)


def test_a_cursor_with_a_value_of_the_wrong_type_is_refused_in_sql_terms(uow) -> None:
    stmt = select(StaffAccount)
    stamp = "2026-01-01T00:00:00+00:00"
    bad = ([1, 2], ["x"], [None, 1], ["2026-13-01T00:00:00+00:00", 1], ["2026-01-01T00:00:00", 1],
           [stamp, 2**70], [stamp, True], [stamp, "1"])  # fmt: skip
    for after in bad:
        try:
            ordered(stmt, Keyset(limit=1, after=after), StaffAccount.created_at.desc(), StaffAccount.id.desc())
        except CursorInvalid:
            continue
        raise AssertionError(f"cursor {after!r} was accepted")


# rule issue-22-3: a key with a timestamp (newest first) survives the cursor's JSON on both databases
def test_keyset_over_a_timestamp_descending(uow) -> None:
    from tests.staff.factories import make_staff

    for _ in range(3):
        make_staff(uow, role=Role.AUDITOR, region_code="110105")
    uow.flush()
    order = (StaffAccount.created_at.desc(), StaffAccount.id.desc())
    everything = [a.id for a in uow.session.scalars(ordered(select(StaffAccount), None, *order))]
    walked: list[int] = []
    after = None
    while True:
        page = Keyset(limit=2, after=after)
        rows = taken(uow.session.scalars(ordered(select(StaffAccount), page, *order)), page)
        walked += [a.id for a in rows]
        if page.next_after is None:
            break
        after = decode_cursor("t", encode_cursor("t", page.next_after))
    assert walked == everything


# rule issue-22-3: a query parameter the route does not declare is refused, naming it
def test_unknown_query_parameters_are_refused(client: TestClient, staff_token) -> None:
    r = client.get("/api/v1/regions", params={"limit": 1, "page": 2})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "UNKNOWN_QUERY_PARAMETER" and body["parameter"] == "page"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/health", params={"verbose": 1}).json()["code"] == "UNKNOWN_QUERY_PARAMETER"
    clerk = staff_token(Role.COUNTER_CLERK, "110000")
    r = client.post("/api/v1/staff/logout", params={"all": "yes"}, headers=bearer(clerk))
    assert r.status_code == 422 and r.json()["parameter"] == "all"
    # declared ones (a dependency's included, and an alias) are fine
    assert client.get("/api/v1/regions", params={"within": "110000"}).status_code == 200

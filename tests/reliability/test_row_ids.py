"""An id that names no row is 404, however large (up to the edge's bound of 2**63 − 1): ids past
2**31 used to reach PostgreSQL's INTEGER columns and answer 422 INPUT_NOT_STORABLE with an
unhandled_error in the log (issue 16; migration 0003_bigint_ids)."""

from __future__ import annotations

import re

from sscard.staff.roles import Role
from tests.reliability.app_routes import operations

LARGE_IDS = [2**31, 2**31 + 7, 2**53 + 1, 2**63 - 1]
# Who may read each area (a role that passes the route's role check, so the lookup itself is reached).
READERS = {"/api/v1/security": Role.SECURITY_OFFICER, "/api/v1/terminals": Role.SECURITY_OFFICER}
DEFAULT_READER = Role.COUNTER_CLERK


# rule CH-2 (bad input gets a clear answer): a large id is "not found", never 422 or 500
def test_every_id_route_answers_404_for_ids_past_int32(client, staff_headers, capsys) -> None:
    from sscard.api.app import create_app

    reads = [path for method, path, _ in operations(create_app()) if method == "GET" and re.search(r"\{\w+_id\}", path)]
    assert len(reads) >= 12
    headers = {role: staff_headers(role, "440000") for role in {*READERS.values(), DEFAULT_READER}}
    for path in reads:
        role = next((r for prefix, r in READERS.items() if path.startswith(prefix)), DEFAULT_READER)
        for row_id in LARGE_IDS:
            url = re.sub(r"\{\w+_id\}", str(row_id), path)
            r = client.get(url, headers=headers[role])
            assert r.status_code == 404, f"GET {url} as {role.value}: {r.status_code} {r.text}"
            assert r.headers["content-type"].startswith("application/problem+json")
    assert "unhandled_error" not in capsys.readouterr().err

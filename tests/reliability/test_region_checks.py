"""Every per-route region check on its own (issue 26): one test case per staff operation that names a row
or a region, so a route whose region check is lost fails under its own name (CH-2, CH-4).

The table of who may call what and how another region is answered is ``authz_matrix.TABLE``; the rows
and tokens are ``authz_fixtures.build``'s (one set per backend, as for ``test_authz_matrix.py``). For each
operation, every allowed role of the *other* region must be refused (403 ``OUTSIDE_REGION``; the hotline's
404 like an unknown number; a list of its own region without region A's rows), with no row of the database
changed and no audit entry of that caller other than a refusal: nothing audited as done (a reveal, a reset).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.reliability.authz_fixtures import REGION_B, Fixtures
from tests.reliability.authz_matrix import HIDDEN, OWN, TABLE, TARGET
from tests.reliability.test_authz_matrix import (
    NOT_SUCCESS,
    OWN_PROBE,
    _code,
    _hidden_reference,
    _same_answer,
    _send,
    audit_since,
    backend,  # noqa: F401 - the module-scoped app, rows and tokens, one per backend
    fingerprint,
    last_audit_id,
)

REGION_CHECKED = [key for key, op in TABLE.items() if op.roles and op.region in (TARGET, HIDDEN, OWN)]
# The module's cases on one xdist worker, so each backend's rows and tokens (``backend``, module scope) are
# built once rather than on every worker that runs some of them.
pytestmark = pytest.mark.xdist_group("region_checks")


# rule CH-2, CH-4, ID-5: an allowed role of another region is refused on this route, changes nothing, and
# is audited only as a refusal
@pytest.mark.parametrize("key", REGION_CHECKED)
def test_another_region_is_refused_on(backend: tuple[TestClient, Fixtures], key: str) -> None:  # noqa: F811
    client, fx = backend
    op = TABLE[key]
    # Each role's "after" is the next role's "before": only reads run in between (as in the matrix test).
    after = fingerprint()
    for role in sorted(op.roles):
        token, username = fx.tokens[role, REGION_B], fx.usernames[role, REGION_B]
        who = f"{role.value}@{REGION_B}"
        before, last = after, last_audit_id()
        r = _send(client, key, fx, token)
        assert r.status_code < 500, f"{who}: {r.status_code} {r.text[:300]}"
        if op.region == TARGET:
            assert (r.status_code, _code(r)) == (403, "OUTSIDE_REGION"), f"{who}: {r.status_code} {r.text[:300]}"
        elif op.region == HIDDEN:
            reference = _hidden_reference(client, key, fx, token)
            assert _same_answer(r, reference), f"{who}: {r.text[:200]} is not the unknown number's answer"
            assert not (r.status_code < 300 and r.json().get("cards")), f"{who}: region A's cards shown"
        else:  # OWN
            assert r.status_code == 200 and OWN_PROBE[key](fx) not in r.text, f"{who}: region A's rows listed"
        after = fingerprint()
        assert after == before, f"{who}: the database changed ({r.status_code})"
        leaked = [e for e in audit_since(last, username) if e[1] not in NOT_SUCCESS]
        assert not leaked, f"{who}: audited as {leaked}"

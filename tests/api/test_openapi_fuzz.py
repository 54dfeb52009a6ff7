"""Schemathesis against our own ``/api/openapi.json`` through the ASGI app (issue 3, item 8).

Generic on purpose: it walks every operation the schema lists when it runs (other channels add
routers), with valid and invalid data, anonymous and with a token of every staff role, and asserts
that nothing answers 5xx and every error is problem+json with a stable ``code``.
"""

from __future__ import annotations

import inspect
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import timedelta
from types import SimpleNamespace

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from sscard.api.error_docs import ANY_OPERATION_CODES
from sscard.staff.roles import Role
from tests.conftest import TestDatabase, fresh_database
from tests.inprocess_client import InProcessClient

EXAMPLES = int(os.environ.get("SSCARD_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    """A database of this module's own: the fuzzer's refused requests are audited under the ids it
    made up ("carrier:3"), which other modules' tests later give to rows they create and then count
    the audit entries of."""
    yield from fresh_database(request.param, tmp_path_factory)


def _role_tokens() -> list[str]:
    """One live session per role, national scope, written straight to the session table (no Argon2 cost)."""
    from sscard.db.base import utcnow
    from sscard.db.session import unit_of_work
    from sscard.staff.models import StaffSession
    from sscard.staff.sessions import TOKEN_PREFIX, token_digest
    from tests.staff.factories import make_staff

    tokens = []
    with unit_of_work() as uow:
        for role in Role:
            account = make_staff(uow, role=role, region_code="000000")
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            uow.session.add(
                StaffSession(
                    token_hash=token_digest(token), staff_id=account.id, expires_at=utcnow() + timedelta(hours=1)
                )
            )
            tokens.append(token)
    return tokens


def check(case, response) -> None:
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, f"{where} answered {response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        ctype = response.headers.get("content-type", [""])
        ctype = ctype[0] if isinstance(ctype, list) else ctype
        assert ctype.startswith("application/problem+json"), f"{where} {response.status_code} is {ctype}"
        body = response.json()
        assert isinstance(body.get("code"), str) and body["code"], f"{where} problem without a code: {body}"
        assert body.get("status") == response.status_code, f"{where} status member mismatch: {body}"
        # The code answered is one the operation documents for this status (error_docs.py), or one
        # that any operation can answer (info.description).
        documented = case.operation.definition.raw["responses"].get(str(response.status_code), {})
        codes = documented.get("content", {}).get("application/problem+json", {}).get("examples", {})
        assert body["code"] in codes or body["code"] in ANY_OPERATION_CODES, f"{where}: undocumented {body}"


@pytest.fixture(scope="module")
def fuzzed() -> tuple[object, list]:
    """The app and its loaded schema's operations, once for the module's four cases (two modes on two
    databases): the app reads the database per request, and neither it nor the schema depends on it.
    The app is the module's own: schemathesis keeps the lifespan of an app it calls running."""
    from sscard.api.app import create_app

    app = create_app()
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    return app, [result.ok() for result in schema.get_all_operations()]


class _CallingThreadPortal:
    """What schemathesis's ASGI adapter runs each request through (``portal.call``) in place of anyio's
    blocking portal, whose event loop lives on a thread of its own: every request crossed to it and back
    twice, ~0.25 ms of CPU of a fuzz request's ~3.2. The adapter's own coroutine (the same scope, ``receive``
    and ``send``) runs instead in an event loop of the calling thread, ``InProcessClient``'s: the request,
    the app and what the checks see are unchanged (the ~7,400 requests of both modes compared byte for
    byte, scope and body, before and after)."""

    def __init__(self, client: InProcessClient) -> None:
        self.client = client

    def call(self, func: Callable[..., object], *args: object) -> object:
        async def call() -> object:
            result = func(*args)
            return await result if inspect.isawaitable(result) else result

        return self.client.run(call())


class _Strategies(SimpleNamespace):
    """``hypothesis.strategies`` for schemathesis's JSON Schema module, with ``fixed_dictionaries`` memoised.

    Each object it draws builds a new ``fixed_dictionaries`` of the same property strategies (the required
    ones and the optional ones drawn), and Hypothesis validates every new strategy on its first draw: that
    was a large share of the drawing time (issue 18 item 5). A strategy is immutable and draws the same
    value from the same choices, so one built once per mapping of the same strategies (by identity, kept
    alive here) draws what a fresh one would (every request of both modes compared byte for byte,
    scope and body, with and without it, when this was written)."""

    def __init__(self) -> None:
        super().__init__(**{name: getattr(st, name) for name in st.__all__})
        self._built: dict[tuple, tuple[dict, st.SearchStrategy]] = {}
        self.fixed_dictionaries = self._fixed_dictionaries

    def _fixed_dictionaries(self, mapping: dict, *, optional: dict | None = None) -> st.SearchStrategy:
        if optional is not None or type(mapping) is not dict:
            return st.fixed_dictionaries(mapping, optional=optional)
        key = tuple((name, id(strategy)) for name, strategy in mapping.items())
        if key not in self._built:
            self._built[key] = (mapping, st.fixed_dictionaries(mapping))
        return self._built[key][1]


def _ordered(ordered: Callable[..., st.SearchStrategy]) -> Callable[..., st.SearchStrategy]:
    """schemathesis's negative ``ordered`` (a shuffled list of the mutation operators), memoised likewise:
    its caller passes a new ``unique_by`` lambda each time, so neither Hypothesis's own cache nor the
    validation of the last draw's strategy is reused. Keyed by the items and the lambda's code (no closure)."""
    built: dict[tuple, st.SearchStrategy] = {}

    def memoised(items: list, unique_by: Callable | None = None) -> st.SearchStrategy:
        if unique_by is None:
            return ordered(items)
        if unique_by.__closure__ or unique_by.__defaults__:
            return ordered(items, unique_by=unique_by)
        key = (tuple(items), unique_by.__code__)
        if key not in built:
            built[key] = ordered(items, unique_by=unique_by)
        return built[key]

    return memoised


# The cases each mode drew, kept once every one of them passed on a backend: the other backend's case sends
# the very same requests, through the same test body, without drawing them again. Drawing (schemathesis's
# strategies under Hypothesis) was about two thirds of this module's time, and with ``derandomize=True`` a
# second draw gives back the same cases (Hypothesis seeds each run from the source of ``exercise``, kept
# word for word): the requests and checks are the ones a second draw would have made. A draw that failed
# keeps nothing, and the other backend draws anew.
_DRAWN: dict[GenerationMode, dict[str, list[tuple[object, int]]]] = {}  # mode → operation → (case, token index)


# Both backends' cases on one xdist worker, so the second finds the first one's cases (under
# ``--dist loadgroup``; without it each draws its own, as before).
@pytest.mark.xdist_group("openapi_fuzz")
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_every_operation_answers_problem_json_never_5xx(
    db_env, fuzzed, mode: GenerationMode, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schemathesis.generation.jsonschema import strategy as jsonschema_strategy
    from schemathesis.python import asgi
    from schemathesis.specs.openapi.negative import mutations

    app, operations = fuzzed
    assert operations, "the OpenAPI document lists no operations"
    tokens: list[str | None] = [None, *_role_tokens()]
    calls: list[int] = []
    drawn = _DRAWN.get(mode)
    noted: dict[str, list[tuple[object, int]]] = {}
    token_index = {f"Bearer {token}": i for i, token in enumerate(tokens) if token}

    def _check(case, response) -> None:
        """The module's check, noting the request it checked (its case and token) for the other backend."""
        token = token_index.get(response.request.headers.get("Authorization", ""), 0)
        noted.setdefault(case.operation.label, []).append((case, token))
        check(case, response)

    # One in-process HTTP session for the whole case rather than one per example; its cookie jar is
    # emptied before each request, so every example starts as a new client did. Not entered: the
    # ``InProcessClient`` runs the app's lifespan.
    with InProcessClient(app) as inprocess, closing(asgi.get_client(app)) as session:
        # The environment's netrc, proxies and CA bundle mean nothing to an app called in-process, and
        # ``requests`` looked them up afresh for every request.
        session.trust_env = False
        portal = _CallingThreadPortal(inprocess)
        monkeypatch.setattr(asgi, "_get_portal", lambda: portal)
        monkeypatch.setattr(jsonschema_strategy, "st", _Strategies())
        monkeypatch.setattr(mutations, "ordered", _ordered(mutations.ordered))
        for operation in operations:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode), token=st.sampled_from(tokens))
            def exercise(case, token: str | None) -> None:
                headers = {"Authorization": f"Bearer {token}"} if token else None
                session.cookies.clear()
                response = case.call(session=session, headers=headers)
                calls.append(response.status_code)
                _check(case, response)

            if drawn is not None:  # the first backend's cases for this operation, in their order
                for case, index in drawn.get(operation.label, []):
                    exercise.hypothesis.inner_test(case, tokens[index])
                continue
            try:
                exercise()
            except Unsatisfiable:
                # Nothing in this operation can be made invalid (e.g. GET /health has no parameters).
                assert mode is GenerationMode.NEGATIVE, f"no valid request could be generated for {operation.label}"
    if drawn is None:
        _DRAWN[mode] = noted
    assert len(calls) >= len(operations), "the fuzzer sent fewer requests than there are operations"
    print(f"{mode.value}: {len(operations)} operations, {len(calls)} requests, statuses {sorted(set(calls))}")


def _id_operations(document: dict) -> list[tuple[str, str, list[str]]]:
    """(method, path, integer path parameters) of every operation that takes a row id in its path."""
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            names = [p["name"] for p in operation.get("parameters", [])
                     if p["in"] == "path" and p["schema"].get("type") == "integer"]  # fmt: skip
            if names:
                found.append((method.upper(), path, names))
    return found


# "bad input gets a clear error with a stable code, never a 500": an id no BIGINT can hold reached the
# driver and failed there (SQLite: OverflowError) on 17 operations; the fuzzer above had not drawn one.
@pytest.mark.parametrize("too_big", [2**63, 2**64 + 1])
def test_an_id_beyond_bigint_is_invalid_input_on_every_operation(client, too_big: int) -> None:
    operations = _id_operations(client.get("/api/openapi.json").json())
    assert len(operations) >= 40, "the routes with integer ids are missing from the schema"
    tokens = _role_tokens()
    for method, path, names in operations:
        url = path
        for name in names:
            url = url.replace("{" + name + "}", str(too_big))
        answers = []
        for token in tokens:  # the role allowed to reach the lookup is the one that matters
            response = client.request(method, url, json={}, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code < 500, f"{method} {url}: {response.status_code} {response.text[:300]}"
            answers.append(response)
        invalid = [r.json() for r in answers if r.status_code == 422]
        assert invalid, f"{method} {path}: no role got 422 for id {too_big}"
        assert all(p["code"] == "VALIDATION_FAILED" for p in invalid), invalid


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/security/handovers", {"carrier_id": 2**63, "third_party": "银行", "purpose": "制卡",
                                        "due_back_at": "2030-01-01T00:00:00+08:00"}),
        ("/api/v1/counter/cards", {"person_id": 2**63}),
    ],
)  # fmt: skip
def test_an_id_beyond_bigint_in_a_body_is_invalid_input(client, path: str, body: dict) -> None:
    answers = [client.post(path, json=body, headers={"Authorization": f"Bearer {token}"}) for token in _role_tokens()]
    assert all(r.status_code < 500 for r in answers), [r.text[:200] for r in answers if r.status_code >= 500]
    invalid = [r.json() for r in answers if r.status_code == 422]
    assert invalid and all(p["code"] == "VALIDATION_FAILED" for p in invalid), [r.status_code for r in answers]

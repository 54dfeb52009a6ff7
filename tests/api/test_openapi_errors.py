"""Each operation's OpenAPI lists every error code its route can raise (issue 22 item 1; docs/api.md).

The codes a route can raise are read from the source (raise_analysis.py: the route, its
dependencies and every ``sscard`` function they reach); the codes it documents are those of its
``@raises`` declaration, its dependencies' and its shape (error_docs.py). A code below 500 raised
but not documented fails here: declare it next to the route.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from sscard.api.error_docs import api_routes, codes_of, dependency_calls, raises
from sscard.api.openapi import install_openapi
from sscard.api.pagination import page_query
from sscard.cards.errors import CardIllegalTransition, CardNotFound
from sscard.cards.service import get_card_or_raise
from sscard.db.pagination import CursorInvalid
from sscard.errors import Unauthenticated
from tests.api.raise_analysis import raised_by


def undocumented(app: FastAPI) -> dict[str, set[str]]:
    """``METHOD path`` → the codes its route can raise that its operation does not list."""
    document = app.openapi()
    missing: dict[str, set[str]] = {}
    for route in api_routes(app.routes):
        calls = [route.endpoint, *dependency_calls(route.dependant)]
        # A cursor reaches a list only through ``page_query``: the shared list helpers the analysis finds
        # behind unpaged routes (called there without a page) cannot refuse one.
        paged = page_query in calls
        raised = {c for e in raised_by(calls) if e.status < 500 and (paged or e is not CursorInvalid)
                  for c in codes_of(e)}  # fmt: skip
        for method in route.methods:
            responses = document["paths"][route.path_format][method.lower()]["responses"]
            listed = {
                code
                for status, response in responses.items()
                for code in response.get("content", {}).get("application/problem+json", {}).get("examples", {})
            }
            if raised - listed:
                missing[f"{method} {route.path_format}"] = raised - listed
    return missing


def test_every_operation_lists_every_code_its_route_can_raise() -> None:
    from sscard.api.app import create_app

    assert undocumented(create_app()) == {}


def _bearer() -> None:
    raise Unauthenticated()


def _app(*declared: Any) -> FastAPI:
    app = FastAPI()
    install_openapi(app)

    @app.get("/api/v1/cards/{card_no}")
    @raises(*declared)
    def show(card_no: str, _: None = Depends(raises(Unauthenticated)(_bearer))) -> None:
        get_card_or_raise(None, card_no)  # type: ignore[arg-type]  # never called: read, not run

    return app


def test_a_code_raised_by_a_called_function_but_not_declared_is_caught() -> None:
    assert "CARD_NOT_FOUND" in undocumented(_app())["GET /api/v1/cards/{card_no}"]


def test_a_declared_code_and_a_dependency_s_code_are_documented() -> None:
    app = _app(CardNotFound, CardIllegalTransition)  # get_card_or_raise's two
    assert undocumented(app) == {}
    responses = app.openapi()["paths"]["/api/v1/cards/{card_no}"]["get"]["responses"]
    assert set(responses) >= {"401", "404", "422"}
    assert responses["404"]["content"]["application/problem+json"]["schema"]["allOf"][1] == {
        "properties": {"code": {"enum": ["CARD_NOT_FOUND"]}}
    }


# issue 22 items 1-2: input read only by a dependency can fail validation too (a list's over-long ``cursor``
# lives in ``page_query``): every paged operation lists 422 VALIDATION_FAILED, as the fuzzer found it answers
def test_a_paged_list_without_inputs_of_its_own_documents_validation_failures() -> None:
    from sscard.api.app import create_app

    app = create_app()
    document = app.openapi()
    paged = [route for route in api_routes(app.routes) if page_query in dependency_calls(route.dependant)]
    assert any(not route.dependant.query_params for route in paged)  # the case this test is for exists
    for route in paged:
        for method in route.methods:
            unprocessable = document["paths"][route.path_format][method.lower()]["responses"]["422"]
            assert "VALIDATION_FAILED" in unprocessable["content"]["application/problem+json"]["examples"], route

"""The prefix skip of api/route_prefix.py routes every request exactly as FastAPI's full scan does, and is
in force (issue 18 item 5)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi import routing as fastapi_routing

from sscard.api import route_prefix
from tests.conftest import shared_app

_PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")
OFF_TREE = ["/", "", "/api", "/api/", "/api/v1", "/api/v1/", "/api/v1/nope", "/api/v2/staff", "/counter", "/counter/",
            "/portal/x", "/console/carriers", "/console/carriersx", "/static/site.css", "/metrics", "/metricsx",
            "/api/v1/terminal", "/api/v1/terminals/", "/api/v1/security/", "/API/v1/staff"]  # fmt: skip


def _included(routes: Any) -> Iterator[Any]:
    for route in routes:
        if isinstance(route, fastapi_routing._IncludedRouter):
            yield route
            yield from _included(route.effective_candidates())


def _concrete(path: str) -> list[str]:
    """Paths a route of ``path`` serves (its parameters filled in), and the same with a slash added."""
    filled = _PARAM.sub(lambda m: "a/b" if m.group(2) == "path" else "7", path)
    return [filled, filled + "/", filled.rstrip("/") + "x"]


def _scope(method: str, path: str, root_path: str = "") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": root_path + path, "root_path": root_path, "headers": []}


def _answer(result: tuple[Any, Any, Any, Any]) -> tuple[Any, ...]:
    match, child_scope, route, context = result
    child = {k: v for k, v in child_scope.items() if k != "fastapi"}
    return match, child, id(route), id(context)


# issue 18 item 5: the skip changes no router's answer, for the path of every route and paths of none
def test_every_router_answers_as_the_full_scan() -> None:
    app = shared_app()
    routers = list(_included(app.router.routes))
    assert len(routers) >= 40, len(routers)
    paths = set(OFF_TREE)
    for router in routers:
        for context in router.effective_route_contexts():
            paths.update(_concrete(getattr(context, "path", "") or getattr(context.starlette_route, "path", "")))
    compared = skipped = 0
    for router in routers:
        for path in sorted(paths):
            for method in ("GET", "POST"):
                for root_path in ("", "/app"):
                    pruned = router._match(_scope(method, path, root_path))
                    full = route_prefix.unpruned_match(router, _scope(method, path, root_path))
                    assert _answer(pruned) == _answer(full), (route_prefix.literal_prefix(router), method, path)
                    compared += 1
                    skipped += full[0] is fastapi_routing.Match.NONE
    assert compared > 10_000 and skipped > compared // 2, (compared, skipped)


# issue 18 item 5: the skip is in force (a FastAPI upgrade that changes included routers shows here)
def test_the_api_router_skips_page_paths() -> None:
    app = shared_app()
    prefixes = {route_prefix.literal_prefix(router) for router in _included(app.router.routes)}
    assert "/api/v1/" in prefixes and "/api/v1/counter/" in prefixes, sorted(prefixes)
    assert fastapi_routing._IncludedRouter._match.__module__ == route_prefix.__name__

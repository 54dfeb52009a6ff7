"""Included routers skip, at once, a path that none of their routes can match.

FastAPI (>= 0.137) keeps ``include_router`` nested: to route a request it tries every route of every
included router in turn, recursing into nested ones, and does so again at each level when it hands the
request down (``handle`` matches anew). Nothing checks first whether the path could be under the router
at all, so a page request walks all of ``/api/v1`` before reaching the pages, and an API request walks
every earlier channel's routes, several times (issue 18 item 5).

Every route's pattern is anchored at the start and begins with the literal text of its path up to the
first ``{`` (Starlette's ``compile_path``), so a path that does not start with the literal prefix that
all of a router's routes share matches none of them: the router answers ``Match.NONE`` without trying
them. That is the answer the full scan gives, so which route serves a request, and how, is unchanged.
A router with a route whose path is not known this way (a host route, a WebSocket route, FastAPI's
frontend routes) is always scanned in full. ``tests/api/test_route_prefix.py`` compares both answers
on every router of the app for paths of every route and paths of none.

The same idea is proposed upstream (fastapi PR 16159, on the include prefix alone); this version
derives the prefix from the routes themselves, so it also holds for the prefix given to ``APIRouter``.
Should FastAPI check prefixes itself one day, this module can go (compare routing times first).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import routing as fastapi_routing
from starlette.routing import Match, Mount, Route
from starlette.routing import get_route_path as _route_path

_Included: Any = getattr(fastapi_routing, "_IncludedRouter", None)
_Context: Any = getattr(fastapi_routing, "_EffectiveRouteContext", None)
# The unpruned scan, kept for the equivalence test.
unpruned_match: Any = None


def _literal(path: str) -> str:
    return path.split("{", 1)[0]


def _route_literal(candidate: Any) -> str | None:
    """The literal start of every path ``candidate`` can match, or None when it cannot be told."""
    if isinstance(candidate, _Included):
        return literal_prefix(candidate)
    if not isinstance(candidate, _Context):
        return None
    original = candidate.original_route
    if isinstance(original, fastapi_routing.APIRoute):
        return _literal(candidate.path) if candidate.path.startswith("/") else None
    route = candidate.starlette_route
    # Exactly these two kinds (a subclass may match otherwise): a plain route or a mount.
    if type(route) in (Route, Mount) and route.path.startswith("/"):
        return _literal(route.path)
    return None


def literal_prefix(router: Any) -> str:
    """The literal text every path served by ``router`` (an included router) starts with; "" if none.

    Cached per list of effective candidates: FastAPI builds a new list whenever the routes change."""
    candidates = router.effective_candidates()
    cached = router.__dict__.get("_sscard_literal_prefix")
    if cached is not None and cached[0] is candidates:
        return cached[1]  # type: ignore[no-any-return]
    literals = [_route_literal(candidate) for candidate in candidates]
    known = [literal for literal in literals if literal is not None]
    prefix = os.path.commonprefix(known) if known and len(known) == len(literals) else ""
    router.__dict__["_sscard_literal_prefix"] = (candidates, prefix)
    return prefix


def install() -> None:
    """Make ``_IncludedRouter._match`` skip paths outside the router's literal prefix (once per process)."""
    global unpruned_match  # noqa: PLW0603 - the one patch of the process
    if _Included is None or _Context is None or unpruned_match is not None:
        # A FastAPI without these classes has no such scan (test_route_prefix.py then fails: it checks the skip is on).
        return
    scan = _Included._match

    def _match(self: Any, scope: Any) -> Any:
        prefix = literal_prefix(self)
        if prefix and not _route_path(scope).startswith(prefix):
            return Match.NONE, {}, None, None
        return scan(self, scope)

    unpruned_match = scan
    _Included._match = _match

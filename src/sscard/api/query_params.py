"""Unknown query parameters are refused on every API route (issue 22 item 3), built once.

``?limit=1&page=2`` on a route that takes neither used to be ignored silently, so a client believed it
had a page when it had everything (or the reverse). The /api/v1 router carries ``reject_unknown_query``:
each name in the query string must be one the route declares (its own parameters and those of its
dependencies, the pagination's ``limit``/``cursor`` included), otherwise 422 ``UNKNOWN_QUERY_PARAMETER``
naming it. The declared names are read once per route from FastAPI's own dependency tree.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant

from sscard.api.error_docs import raises
from sscard.errors import ValidationFailed


class UnknownQueryParameter(ValidationFailed):
    code = "UNKNOWN_QUERY_PARAMETER"
    title = "The request has a query parameter this operation does not take."
    title_zh = "请求包含此接口不接受的查询参数。"


_DECLARED: dict[int, tuple[Dependant, frozenset[str]]] = {}


def declared_query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameter names of a route: its own and every dependency's (by alias)."""
    names: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        names.update(str(f.alias) for f in current.query_params)
        stack.extend(current.dependencies)
    return frozenset(names)


def _declared_for(route: Any) -> frozenset[str] | None:
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    known = _DECLARED.get(id(dependant))
    if known is None or known[0] is not dependant:  # an id is reused once its app is gone (tests)
        known = _DECLARED[id(dependant)] = (dependant, declared_query_names(dependant))
    return known[1]


@raises(UnknownQueryParameter)
async def reject_unknown_query(request: Request) -> None:
    """422 ``UNKNOWN_QUERY_PARAMETER`` for a query parameter the route does not declare."""
    if not request.scope.get("query_string"):
        return
    declared = _declared_for(request.scope.get("route"))
    if declared is None:
        return
    for name in request.query_params:
        if name not in declared:
            takes = ", ".join(sorted(declared)) or "none"
            raise UnknownQueryParameter(
                f"unknown query parameter {name!r}; this operation takes: {takes}", parameter=name
            )

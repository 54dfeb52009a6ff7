"""Every operation an app serves, as FastAPI itself resolves them (included routers flattened)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts


def operations(app: FastAPI) -> Iterator[tuple[str, str, Any]]:
    """``(method, path, route)`` for every API operation; ``route.dependant`` is its dependency tree."""
    for route in iter_route_contexts(app.routes):
        if getattr(route, "dependant", None) is None or not route.methods:
            continue
        for method in sorted(route.methods - {"HEAD"}):
            yield method, route.path, route

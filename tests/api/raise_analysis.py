"""Which domain errors a route can raise, read from the source (for tests/api/test_openapi_errors.py).

From the route function and its dependencies, follow every name that resolves to a function or
class of ``sscard`` (through module globals, closures, ``module.attr`` and ``Class.attr``), and, for
``obj.method`` on an object whose type is not known here, every ``sscard`` method of that name
(except names that builtin containers, SQLAlchemy or datetime also have: ``get``, ``add`` ...).
An error counts where it is raised or constructed (``raise X(...)``, ``return X(...)``). An
over-approximation by design: a code listed that cannot happen costs less than a code not listed.
The security module is not followed: its faults are 5xx, documented once for every operation.
"""

from __future__ import annotations

import ast
import datetime
import decimal
import functools
import importlib
import inspect
import logging
import pkgutil
import textwrap
import types
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Result, ScalarResult
from sqlalchemy.orm import Session

import sscard
from sscard.errors import DomainError

NOT_FOLLOWED = ("sscard.security_module",)
_GENERIC: set[str] = set()
for _type in (dict, list, set, str, bytes, int, Session, Select, Result, ScalarResult, datetime.datetime,
              datetime.date, decimal.Decimal, logging.Logger):  # fmt: skip
    _GENERIC |= set(dir(_type))


@functools.cache
def _methods_by_name() -> dict[str, list[Callable[..., Any]]]:
    found: dict[str, list[Callable[..., Any]]] = {}
    for info in pkgutil.walk_packages(sscard.__path__, "sscard."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if isinstance(obj, type) and obj.__module__ == module.__name__:
                for name, member in vars(obj).items():
                    fn = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
                    if inspect.isfunction(fn) and not name.startswith("__"):
                        found.setdefault(name, []).append(fn)
    return found


def _ours(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.startswith("sscard.") and not module.startswith(NOT_FOLLOWED)


@functools.cache
def _tree(fn: Callable[..., Any]) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None


def _resolve(node: ast.AST, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, names)
        if isinstance(base, (types.ModuleType, type)):
            return getattr(base, node.attr, None)
    return None


def _names(fn: Any) -> dict[str, Any]:
    names = dict(getattr(fn, "__globals__", {}))
    code = getattr(fn, "__code__", None)
    for name, cell in zip(code.co_freevars if code else (), getattr(fn, "__closure__", None) or (), strict=False):
        try:
            names[name] = cell.cell_contents
        except ValueError:  # a cell not filled yet
            pass
    return names


def raised_by(callables: Iterable[Callable[..., Any]]) -> set[type[DomainError]]:
    """The DomainError classes that the callables, and whatever of ``sscard`` they reach, can raise."""
    found: set[type[DomainError]] = set()
    seen: set[Any] = set()
    stack = [inspect.unwrap(c) for c in callables]
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        tree = _tree(fn)
        if tree is None:
            continue
        names = _names(fn)
        made = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        made |= {id(n.exc) for n in ast.walk(tree) if isinstance(n, ast.Raise) and n.exc is not None}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Name, ast.Attribute)):
                continue
            obj = _resolve(node, names)
            if isinstance(obj, type) and issubclass(obj, DomainError):
                if id(node) in made and obj is not DomainError:
                    found.add(obj)
            elif inspect.isfunction(obj) and _ours(obj):
                stack.append(obj)
            elif isinstance(obj, type) and _ours(obj):
                stack.extend(m for k in ("__init__", "__post_init__") if inspect.isfunction(m := vars(obj).get(k)))
            elif obj is None and isinstance(node, ast.Attribute) and node.attr not in _GENERIC:
                stack.extend(m for m in _methods_by_name().get(node.attr, ()) if _ours(m))
    return found

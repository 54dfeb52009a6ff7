"""Keyset pagination in SQL (issue 22 item 3): a page is the rows after a key, in a total order.

A list service takes ``page: Keyset | None = None`` and builds its query as before, then
``ordered(stmt, page, Model.created_at.desc(), Model.id.desc())`` (the order always ends in the
primary key, so it is total and a row is never on two pages) and ``taken(rows, page)``. Without a
page (the CLI, the pages) the query is only ordered. With one, SQL does the work: ``WHERE key > after``
(per column direction) and ``LIMIT limit + 1``; the extra row only tells that there is a next page.
The channel turns ``next_after`` into its own opaque cursor (``sscard.api.pagination``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from sscard.errors import ValidationFailed

T = TypeVar("T")
SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


class CursorInvalid(ValidationFailed):
    code = "CURSOR_INVALID"
    title = "The cursor is not one this list gave out."
    title_zh = "分页游标无效。"


@dataclass(frozen=True, slots=True)
class _Key:
    column: Any  # the mapped column (InstrumentedAttribute) or a labelled column of a row query
    descending: bool

    @property
    def name(self) -> str:
        """The attribute of a row (or label of a result column) that holds this key's value."""
        proxy = getattr(self.column, "_annotations", {}).get("proxy_key")
        return str(proxy or self.column.key)

    def value_of(self, row: Any) -> Any:
        mapping = getattr(row, "_mapping", None)
        if mapping is not None:  # a Row: of columns (by label), or of entities (the first holds the key)
            return mapping[self.name] if self.name in mapping else getattr(row[0], self.name)
        return getattr(row, self.name)


@dataclass
class Keyset:
    """One page's request: at most ``limit`` rows after ``after`` (None: from the start)."""

    limit: int
    after: Sequence[Any] | None = None
    keys: list[_Key] = field(default_factory=list)
    next_after: list[Any] | None = None  # set by ``taken`` when there are more rows

    def take(self, rows: Iterable[T]) -> list[T]:
        found = list(rows)
        if len(found) <= self.limit:
            self.next_after = None
            return found
        found = found[: self.limit]
        self.next_after = [_plain(k.value_of(found[-1])) for k in self.keys]
        return found


def _key(item: Any) -> _Key:
    if isinstance(item, UnaryExpression) and item.modifier in (operators.desc_op, operators.asc_op):
        return _Key(item.element, item.modifier is operators.desc_op)
    return _Key(item, False)


def ordered(stmt: SelectT, page: Keyset | None, *order: Any) -> SelectT:
    """``stmt`` in ``order`` (a total order: end it in the primary key); with ``page``: that page (+1 row)."""
    stmt = stmt.order_by(*order)
    if page is None:
        return stmt
    keys = [_key(o) for o in order]
    page.keys = keys
    if page.after is not None:
        if len(page.after) != len(keys):
            raise CursorInvalid("the cursor does not belong to this list")
        values = [_typed(k, v) for k, v in zip(keys, page.after, strict=True)]
        stmt = stmt.where(_after(keys, values))
    return stmt.limit(page.limit + 1)


def taken(rows: Iterable[T], page: Keyset | None) -> list[T]:
    """The rows of the page (``page.next_after`` set when there is a next one); all rows without a page."""
    return list(rows) if page is None else page.take(rows)


def _after(keys: list[_Key], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after the key, column by column: (a > x) OR (a = x AND b > y) OR ..."""
    clauses = []
    for i, key in enumerate(keys):
        equal = [k.column == v for k, v in zip(keys[:i], values[:i], strict=True)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def _plain(value: Any) -> Any:
    """A key value as JSON can carry it (the cursor)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _typed(key: _Key, value: Any) -> Any:
    """The cursor's JSON value as the column's Python type; anything else is not our cursor (422)."""
    column_type = key.column.type
    column_type = getattr(column_type, "impl_instance", column_type)  # a TypeDecorator (UTCDateTime)
    try:
        python_type = column_type.python_type
    except (AttributeError, NotImplementedError):
        python_type = object
    try:
        if issubclass(python_type, datetime) and isinstance(value, str):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:  # the cursors given out carry UTC offsets
                return moment
        if issubclass(python_type, date) and isinstance(value, str):
            return date.fromisoformat(value)
        if issubclass(python_type, Enum) and isinstance(value, str):
            return python_type(value)
        # The tag is no secret, so a cursor can be forged: only values a column can hold reach SQL.
        if python_type is int and isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
            return value
        if python_type is str and isinstance(value, str) and "\x00" not in value and len(value) <= 256:
            value.encode("utf-8")  # a lone surrogate cannot reach a driver (UnicodeEncodeError is a ValueError)
            return value
    except ValueError:
        pass
    raise CursorInvalid("the cursor does not belong to this list")

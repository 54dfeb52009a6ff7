"""Cursor pagination of the API's lists (issue 22 item 3), built once.

A list route takes ``page: PageQuery = PAGE`` and hands it to its service, which applies it in SQL
(``sscard.db.pagination``: keyset ``WHERE`` + ``LIMIT``, a total order ending in the primary key).

- ``?limit=N``: 1..500 rows, 50 when not given; a larger limit is refused (422), not clamped, so a
  client never mistakes a short page for the end of the list.
- ``?cursor=C``: the page after the one that gave ``C``. Cursors are opaque (base64url of the last
  row's sort key and a tag of the list and its filters): a cursor of another list, or of the same
  list with other filters, is refused with 422 ``CURSOR_INVALID``.
- The body stays the bare JSON array it always was (clients of /api/v1 keep working); the next page
  is announced in the headers ``Link: <...>; rel="next"`` (RFC 8288) and ``X-Next-Cursor``. No such
  header: this is the last page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response

from sscard.api.error_docs import raises
from sscard.db.pagination import CursorInvalid, Keyset

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_PAGING = ("limit", "cursor")


@dataclass
class PageQuery(Keyset):
    """The page a request asks for; announces the next one in the answer's headers."""

    tag: str = ""
    request: Request | None = None
    response: Response | None = None

    def take(self, rows: Any) -> list[Any]:
        found = super().take(rows)
        if self.next_after is not None and self.response is not None and self.request is not None:
            cursor = encode_cursor(self.tag, self.next_after)
            query = [(k, v) for k, v in self.request.query_params.multi_items() if k not in _PAGING]
            query += [("limit", str(self.limit)), ("cursor", cursor)]
            self.response.headers["X-Next-Cursor"] = cursor
            self.response.headers["Link"] = f'<{self.request.url.path}?{urlencode(query)}>; rel="next"'
        return found


def _tag(request: Request) -> str:
    """The list and its filters: a cursor is only good for the list (and filters) that gave it."""
    filters = sorted((k, v) for k, v in request.query_params.multi_items() if k not in _PAGING)
    return hashlib.sha256(json.dumps([request.url.path, filters]).encode()).hexdigest()[:16]


def encode_cursor(tag: str, after: list[Any]) -> str:
    raw = json.dumps({"t": tag, "k": after}, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(tag: str, cursor: str) -> list[Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise CursorInvalid("the cursor is not one this list gave out") from exc
    if not isinstance(data, dict) or data.get("t") != tag or not isinstance(data.get("k"), list):
        raise CursorInvalid("the cursor is not one this list gave out (another list, or other filters)")
    return list(data["k"])


@raises(CursorInvalid)
def page_query(
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page (1..500, default 50).")] = (
        DEFAULT_LIMIT
    ),
    cursor: Annotated[
        str | None,
        Query(max_length=1024, description="`X-Next-Cursor` of the previous page (also in its `Link` header)."),
    ] = None,
) -> PageQuery:
    """The page asked for: ``limit`` rows after ``cursor``."""
    tag = _tag(request)
    after = decode_cursor(tag, cursor) if cursor is not None else None
    return PageQuery(limit=limit, after=after, tag=tag, request=request, response=response)


#: A list route's page: ``page: PageQuery = PAGE``.
PAGE = Depends(page_query)

"""Row ids: their column type, and how they cross the edge (path parameters and request bodies).

Every table's id is a BIGINT on PostgreSQL and an INTEGER (as wide) on SQLite, counted from 1: a
nation's persons and cards (1.4 billion, and a new card number per replacement) pass 2**31. An id
outside 1 … 2**63 − 1 names no row, and the driver cannot even bind it (SQLite raises OverflowError,
PostgreSQL "bigint out of range"), so it is refused where it comes in: 422 ``VALIDATION_FAILED`` with
the bound in the message, never a 500.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import BigInteger, Integer

#: The column type of every table's id (and so of every foreign key to one).
ROW_ID = BigInteger().with_variant(Integer, "sqlite")
MAX_ROW_ID = 2**63 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]

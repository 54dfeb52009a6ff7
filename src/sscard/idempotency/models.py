"""Stored answers of requests that carried an ``Idempotency-Key`` (contract.md).

One row per (caller scope, key): the digest of the request (method, path, body) and the answer given.
The row is written in the request's own transaction, together with the change it answers, so a key
is either answered and its change committed, or neither.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class IdempotentRequest(Base):
    __tablename__ = "idempotent_request"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))  # the caller: "staff:12", "holder:7", "terminal:T1"
    key: Mapped[str] = mapped_column(String(128))
    request_digest: Mapped[str] = mapped_column(String(64))  # service.request_digest (keyed)
    status_code: Mapped[int] = mapped_column(Integer)
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # the retention purge's range

    def __repr__(self) -> str:
        return f"IdempotentRequest(id={self.id}, scope={self.scope})"

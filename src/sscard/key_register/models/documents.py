"""Uploaded documents (confidentiality agreements, security management plans, emergency plans).

Stored in the database with their SHA-256, so they are committed or rolled back with the record
that cites them; the checksum is verified on every read.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID
from sscard.key_register.models._types import enum_column


class DocumentKind(StrEnum):
    CONFIDENTIALITY_AGREEMENT = "confidentiality_agreement"  # 保密协议
    SECURITY_PLAN = "security_plan"  # 第三方安全管理方案
    EMERGENCY_PLAN = "emergency_plan"  # 应急预案


class KeyDocument(Base):
    __tablename__ = "key_document"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind))
    region_code: Mapped[str] = mapped_column(String(6), ForeignKey("region.code"), index=True)
    filename: Mapped[str] = mapped_column(String(128))
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # Deferred: listings never pull megabytes of PDF.
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

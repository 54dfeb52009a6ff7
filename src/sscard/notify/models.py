"""The notification outbox: one row per message, written in the transaction of the change it reports.

Personal data never lies in clear here: a phone or e-mail recipient is sealed with its protected
field kind (ID-5) and shown only masked; every body is sealed too (a QPW-5 message carries a
temporary password). A department recipient is an administrative region code (the human resources
and social security department of that region; ``000000`` is the ministry), which is not personal.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class NotifyChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    DEPARTMENT = "department"  # an official notice to a department's inbox (KEY-9 incident reports)


class MessageState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (also while an attempt is leased)
    SENT = "sent"
    FAILED = "failed"  # a permanent refusal or attempts exhausted; kept, and can be re-queued


def _enum(cls: type[StrEnum], length: int = 16) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    # Sent to the gateway as its idempotency key, so a resend after a crash can be deduplicated there.
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[NotifyChannel] = mapped_column(_enum(NotifyChannel))
    topic: Mapped[str] = mapped_column(String(64), index=True)  # e.g. pin.lock, keys.incident.carrier_loss
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    department_code: Mapped[str | None] = mapped_column(String(6), index=True)
    recipient_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed phone / e-mail
    recipient_masked: Mapped[str] = mapped_column(String(64))  # 138****5678, h***@example.com, dept:110000
    subject: Mapped[str] = mapped_column(String(200))  # never personal data
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[MessageState] = mapped_column(_enum(MessageState), default=MessageState.PENDING)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(200))  # a reason without addresses or secrets
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)

    def __repr__(self) -> str:  # never the recipient or the body
        return f"OutboxMessage(id={self.id}, channel={self.channel}, topic={self.topic}, state={self.state})"

"""Queue messages on the outbox inside the caller's transaction.

A message exists if and only if the change it reports was committed: ``enqueue`` only adds a row to
the caller's unit of work, and the dispatcher sends it after commit (``dispatcher.py``). Committing
also wakes an in-process dispatcher loop when one runs, so messages leave at once rather than at
the next poll.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from sscard.audit import Actor, record_event
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.identity import mask_email, mask_phone
from sscard.identity.protected import EMAIL, PHONE, FieldKind
from sscard.notify.errors import MessageNotFailed, MessageNotFound, NotifyInvalid
from sscard.notify.models import MessageState, NotifyChannel, OutboxMessage
from sscard.people.models import Person
from sscard.regions.codes import is_region_code

# Bodies get their own AEAD context: a body copied into a phone column (or back) does not open.
BODY = FieldKind("notify_body")
MAX_BODY = 4000
_PREFIX = re.compile(r"^(【[^】]{1,30}】)")
_DEFAULT_SUBJECT = "【社会保障卡】通知 / Notice"


def _subject_of(text: str) -> str:
    match = _PREFIX.match(text)
    return f"{match.group(1)}通知 / Notice" if match else _DEFAULT_SUBJECT


def message_values(
    *,
    channel: NotifyChannel | str,
    topic: str,
    body: str,
    subject: str = "",
    recipient: str | None = None,
    department_code: str | None = None,
    person_id: int | None = None,
    not_before: datetime | None = None,
) -> dict[str, Any]:
    """The checked, sealed column values of one message (``NotifyInvalid`` when it cannot be sent)."""
    try:
        channel = NotifyChannel(channel)
    except ValueError:
        raise NotifyInvalid(f"unknown channel; one of: {', '.join(c.value for c in NotifyChannel)}") from None
    if not topic or len(topic) > 64:
        raise NotifyInvalid("a topic is 1-64 characters")
    if not body.strip() or len(body) > MAX_BODY:
        raise NotifyInvalid(f"a message body is 1-{MAX_BODY} characters")
    subject = (subject or _subject_of(body)).strip()
    if len(subject) > 200:
        raise NotifyInvalid("a subject has at most 200 characters")

    recipient_enc: bytes | None = None
    if channel is NotifyChannel.DEPARTMENT:
        if not department_code or not is_region_code(department_code):
            raise NotifyInvalid("a department notice needs the six-digit region code of the department")
        masked = f"dept:{department_code}"
    else:
        if not recipient or department_code:
            raise NotifyInvalid(f"an {channel.value} message needs a recipient address and no department")
        kind = PHONE if channel is NotifyChannel.SMS else EMAIL
        recipient_enc = kind.seal(recipient)
        masked = mask_phone(recipient) if channel is NotifyChannel.SMS else mask_email(recipient)

    return {
        "uid": uuid.uuid4().hex,
        "channel": channel,
        "topic": topic,
        "person_id": person_id,
        "department_code": department_code,
        "recipient_enc": recipient_enc,
        "recipient_masked": masked[:64],
        "subject": subject,
        "body_enc": BODY.seal(body),
        "state": MessageState.PENDING,
        "attempts": 0,
        "next_attempt_at": not_before or utcnow(),
    }


def enqueue(
    uow: UnitOfWork,
    *,
    channel: NotifyChannel | str,
    topic: str,
    body: str,
    subject: str = "",
    recipient: str | None = None,
    department_code: str | None = None,
    person_id: int | None = None,
    not_before: datetime | None = None,
    flush: bool = True,
) -> OutboxMessage:
    """Add one message to the caller's transaction; it is sent only after that transaction commits.

    ``flush=False`` leaves the INSERT to the caller's next flush (many messages in one statement)."""
    values = message_values(channel=channel, topic=topic, body=body, subject=subject, recipient=recipient,
                            department_code=department_code, person_id=person_id, not_before=not_before)  # fmt: skip
    return _add(uow, values, flush=flush)


def _add(uow: UnitOfWork, values: dict[str, Any], *, flush: bool) -> OutboxMessage:
    message = OutboxMessage(**values)
    uow.session.add(message)
    if flush:
        uow.flush()
    _wake_after_commit(uow)
    return message


def _wake_after_commit(uow: UnitOfWork) -> None:
    from sscard.notify.dispatcher import wake

    uow.after_commit(wake)


def enqueue_rows(uow: UnitOfWork, rows: Sequence[dict[str, Any]]) -> int:
    """Queue many messages (``message_values``) in one executemany without ORM objects, for a batch that needs
    only their number (the yearly statements queue one notice per contact of every contributor)."""
    if rows:
        uow.session.execute(insert(OutboxMessage), list(rows))
        _wake_after_commit(uow)
    return len(rows)


def person_notice_values(
    person: Person, *, topic: str, text: str, text_en: str = "", channel: str | None = None, subject: str = ""
) -> list[dict[str, Any]]:
    """The messages of a notice to a person's contacts on file (CH-5): ``channel`` "sms" or "email", else
    every contact.

    Every contact rather than the first: a notice exists so that an action the holder did not take
    is noticed, and a stale phone number must not swallow it. No contact on file queues nothing.
    """
    body = f"{text}\n{text_en}" if text_en else text
    wanted = {NotifyChannel(channel)} if channel else {NotifyChannel.SMS, NotifyChannel.EMAIL}
    contacts = [(NotifyChannel.SMS, "phone"), (NotifyChannel.EMAIL, "email")]
    return [
        message_values(
            channel=ch,
            topic=topic,
            body=body,
            subject=subject,
            recipient=getattr(person, field),  # opened bound to the person's row
            person_id=person.id,
        )
        for ch, field in contacts
        if ch in wanted and getattr(person, f"{field}_enc")
    ]


def notify_person(
    uow: UnitOfWork,
    *,
    person: Person,
    topic: str,
    text: str,
    text_en: str = "",
    channel: str | None = None,
    subject: str = "",
    flush: bool = True,
) -> list[OutboxMessage]:
    """Queue a notice to a person's contacts on file (CH-5; see ``person_notice_values``)."""
    values = person_notice_values(person, topic=topic, text=text, text_en=text_en, channel=channel, subject=subject)
    return [_add(uow, v, flush=flush) for v in values]


def notify_department(uow: UnitOfWork, *, department_code: str, topic: str, subject: str, body: str) -> OutboxMessage:
    """Queue an official notice to the department of a region (``000000`` is the ministry)."""
    return enqueue(
        uow, channel=NotifyChannel.DEPARTMENT, topic=topic, subject=subject, body=body, department_code=department_code
    )


def open_body(message: OutboxMessage) -> str:
    """The clear body, for the dispatcher and for staff who may read department notices."""
    return BODY.open(message.body_enc)


def open_recipient(message: OutboxMessage) -> str:
    """The clear address the sender needs (the department code for department notices)."""
    if message.channel is NotifyChannel.DEPARTMENT:
        return message.department_code or ""
    kind = PHONE if message.channel is NotifyChannel.SMS else EMAIL
    return kind.open(message.recipient_enc or b"")


def get_message_or_raise(uow: UnitOfWork, message_id: int) -> OutboxMessage:
    """The message with this id; ``MessageNotFound`` otherwise."""
    message = uow.session.get(OutboxMessage, message_id)
    if message is None:
        raise MessageNotFound(f"no outbox message {message_id}")
    return message


def list_messages(
    uow: UnitOfWork,
    *,
    state: MessageState | str | None = None,
    topic_prefix: str | None = None,
    department_code: str | None = None,
    limit: int = 100,
) -> list[OutboxMessage]:
    """Messages, newest first, optionally by state, topic prefix or department."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(max(1, min(limit, 1000)))
    if state is not None:
        query = query.where(OutboxMessage.state == MessageState(state))
    if topic_prefix:
        query = query.where(OutboxMessage.topic.startswith(topic_prefix, autoescape=True))
    if department_code:
        query = query.where(OutboxMessage.department_code == department_code)
    return list(uow.session.scalars(query))


def requeue_failed(uow: UnitOfWork, *, message_id: int, actor: Actor) -> OutboxMessage:
    """Give a failed message a fresh set of attempts (after the address or the gateway was fixed)."""

    message = get_message_or_raise(uow, message_id)
    if message.state is not MessageState.FAILED:
        raise MessageNotFailed(f"message {message_id} is {message.state.value}")
    message.state = MessageState.PENDING
    message.attempts = 0
    message.next_attempt_at = utcnow()
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="notify.requeue",
        subject=f"outbox:{message.id}",
        details={"topic": message.topic, "channel": message.channel.value},
    )
    return message

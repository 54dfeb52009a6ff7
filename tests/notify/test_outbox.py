"""The outbox: queued in the caller's transaction, personal data sealed, bodies sealed (ID-5, CH-5)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sscard.db.base import utcnow
from sscard.notify import MessageState, NotifyChannel, OutboxMessage, enqueue, notify_department, notify_person
from sscard.notify.errors import MessageNotFailed, NotifyInvalid
from sscard.notify.outbox import list_messages, open_body, open_recipient, requeue_failed
from tests.people.factories import CLERK, add_test_person


# rule ID-5: the recipient and the body are sealed; only the masked address is in clear
def test_enqueue_seals_recipient_and_body(uow) -> None:
    msg = enqueue(uow, channel="sms", topic="test.sealed", body="【社保】您的卡已挂失", recipient="13812345678")
    row = uow.session.scalar(select(OutboxMessage).where(OutboxMessage.id == msg.id))
    assert row is not None and row.state is MessageState.PENDING and row.attempts == 0
    assert b"13812345678" not in (row.recipient_enc or b"") and "挂失".encode() not in row.body_enc
    assert row.recipient_masked == "138****5678"
    assert open_recipient(row) == "13812345678" and open_body(row) == "【社保】您的卡已挂失"
    assert row.subject.startswith("【社保】")
    assert "13812345678" not in repr(row)


# rule CH-5: the holder is told on every contact on file, or only on the chosen channel
def test_notify_person_uses_contacts_on_file(uow) -> None:
    person = add_test_person(uow, phone="13912340000", email="holder@example.com")
    both = notify_person(uow, person=person, topic="pin.lock", text="【社会保障卡】锁定", text_en="locked")
    assert sorted(m.channel.value for m in both) == ["email", "sms"]
    assert all(m.person_id == person.id for m in both)
    assert open_body(both[0]) == "【社会保障卡】锁定\nlocked"
    only_mail = notify_person(uow, person=person, topic="qpw.temporary_password", text="x", channel="email")
    assert [m.channel for m in only_mail] == [NotifyChannel.EMAIL]
    assert open_recipient(only_mail[0]) == "holder@example.com"
    nobody = add_test_person(uow)
    assert notify_person(uow, person=nobody, topic="pin.lock", text="x") == []


def test_department_notice(uow) -> None:
    msg = notify_department(uow, department_code="110000", topic="keys.test", subject="事件报告", body="正文")
    assert msg.recipient_masked == "dept:110000" and msg.recipient_enc is None
    assert open_recipient(msg) == "110000"
    assert msg in list_messages(uow, department_code="110000", topic_prefix="keys.")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"channel": "fax", "recipient": "1"},
        {"channel": "sms"},
        {"channel": "department"},
        {"channel": "department", "department_code": "11"},
        {"channel": "email", "recipient": "a@example.com", "department_code": "110000"},
        {"channel": "sms", "recipient": "13812345678", "body": ""},
        {"channel": "sms", "recipient": "13812345678", "topic": ""},
    ],
)
def test_bad_messages_are_refused(uow, kwargs) -> None:
    kwargs = {"topic": "t", "body": "b", **kwargs}
    with pytest.raises(NotifyInvalid) as exc:
        enqueue(uow, **kwargs)
    assert exc.value.code == "NOTIFY_INVALID"


def test_rollback_drops_the_message(uow) -> None:
    """A message exists only if the change it reports was committed."""
    before = len(list_messages(uow, topic_prefix="test.rollback"))
    uow.commit()
    enqueue(uow, channel="department", topic="test.rollback", body="b", department_code="110000")
    uow.rollback()
    assert len(list_messages(uow, topic_prefix="test.rollback")) == before


def test_requeue_only_failed(uow) -> None:
    msg = enqueue(uow, channel="department", topic="test.requeue", body="b", department_code="110000")
    with pytest.raises(MessageNotFailed):
        requeue_failed(uow, message_id=msg.id, actor=CLERK)
    msg.state, msg.attempts = MessageState.FAILED, 12
    uow.flush()
    again = requeue_failed(uow, message_id=msg.id, actor=CLERK)
    assert again.state is MessageState.PENDING and again.attempts == 0 and again.next_attempt_at <= utcnow()

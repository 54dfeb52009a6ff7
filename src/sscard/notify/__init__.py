"""The notification outbox: messages queued in the caller's transaction, sent after commit.

    notify_person(uow, person=p, topic="pin.lock", text=zh, text_en=en)      # CH-5 notices
    notify_department(uow, department_code="110000", topic=..., subject=..., body=...)  # KEY-9
    dispatch_pending()                                                         # after commit; CLI/loop

Senders per channel live in ``senders/`` (SMTP, SMS gateway) and ``department.py`` (a local inbox
file); ``registry.py`` chooses among them.
"""

from sscard.notify.dispatcher import DispatchReport, dispatch_pending
from sscard.notify.models import MessageState, NotifyChannel, OutboxMessage
from sscard.notify.outbox import enqueue, list_messages, notify_department, notify_person, requeue_failed

__all__ = [
    "DispatchReport",
    "MessageState",
    "NotifyChannel",
    "OutboxMessage",
    "dispatch_pending",
    "enqueue",
    "list_messages",
    "notify_department",
    "notify_person",
    "requeue_failed",
]

"""Outbox errors, each with a stable code."""

from __future__ import annotations

from sscard.errors import Conflict, NotFound, ValidationFailed


class NotifyInvalid(ValidationFailed):
    code = "NOTIFY_INVALID"
    title = "The notification is not valid."
    title_zh = "通知内容无效。"


class MessageNotFound(NotFound):
    code = "NOTIFY_MESSAGE_NOT_FOUND"
    title = "No such outbox message."
    title_zh = "通知消息不存在。"


class MessageNotFailed(Conflict):
    code = "NOTIFY_NOT_FAILED"
    title = "Only a failed message can be queued again."
    title_zh = "只有发送失败的消息才能重新排队。"

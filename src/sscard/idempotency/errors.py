"""Idempotency-Key errors (contract.md)."""

from __future__ import annotations

from sscard.errors import ValidationFailed


class IdempotencyKeyReused(ValidationFailed):
    code = "IDEMPOTENCY_KEY_REUSED"
    title = "This Idempotency-Key was already used for another request."
    title_zh = "该幂等键已用于另一笔不同的请求。"


class IdempotencyKeyInvalid(ValidationFailed):
    code = "IDEMPOTENCY_KEY_INVALID"
    title = "The Idempotency-Key must be 1 to 128 visible ASCII characters."
    title_zh = "幂等键须为 1 至 128 个可见 ASCII 字符。"

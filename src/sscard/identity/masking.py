"""Masking for display and logs (ID-5): ``1101**********123X``, ``138****5678``."""

from __future__ import annotations


def mask_id_number(value: str) -> str:
    if len(value) < 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_email(value: str) -> str:
    local, sep, domain = value.partition("@")
    if not sep:
        return "*" * len(value)
    return (local[:1] + "***" if local else "***") + "@" + domain


def mask_name(value: str) -> str:
    """张三丰 → 张**; keeps the family name only."""
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1)

"""Column helpers shared by the key-management tables."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


def enum_column(cls: type[StrEnum], length: int = 32) -> Enum:
    """Store a StrEnum by value in a VARCHAR (no native enum: identical on SQLite and PostgreSQL)."""
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])

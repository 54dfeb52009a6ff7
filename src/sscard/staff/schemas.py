"""Staff API shapes. Nothing here ever carries a password hash."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sscard.staff.roles import Role


class StaffLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)

    def __repr__(self) -> str:  # keep the password out of reprs and tracebacks
        return f"StaffLoginIn(username={self.username!r})"


class StaffLoginOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    role: Role
    region: str
    expires_at: datetime


class StaffRead(BaseModel):
    username: str
    display_name: str = ""
    role: Role
    region: str
    active: bool = True
    bank_code: str | None = None  # bank clerks: the bank of their outlet (PIN-6)

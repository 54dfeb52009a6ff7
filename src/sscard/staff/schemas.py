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
    otp: str | None = Field(
        default=None,
        max_length=16,
        description="The authenticator app's 6-digit code: security officers, key custodians, auditors, "
        "administrators (once enrolled).",
    )

    def __repr__(self) -> str:  # keep the password and the code out of reprs and tracebacks
        return f"StaffLoginIn(username={self.username!r})"


class StaffLoginOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    role: Role
    region: str
    expires_at: datetime
    second_factor: Literal["none", "verified", "enrolment_required"] = Field(
        default="none",
        description="`enrolment_required`: this session may only enrol a second factor "
        "(POST /api/v1/staff/totp/enrol, then /confirm).",
    )


class TotpEnrolOut(BaseModel):
    otpauth_uri: str = Field(description="Shown once: scan it into an authenticator app, then confirm a code.")


class TotpConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    otp: str = Field(min_length=6, max_length=16)

    def __repr__(self) -> str:
        return "TotpConfirmIn(otp=***)"


class StaffReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200)


class StaffRead(BaseModel):
    username: str
    display_name: str = ""
    role: Role
    region: str
    active: bool = True
    bank_code: str | None = None  # bank clerks: the bank of their outlet (PIN-6)

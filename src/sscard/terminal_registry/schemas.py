"""Terminal API schemas: enrollment, the staff registry view, and the signed echo."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sscard.terminal_registry.models import InstitutionType, Terminal, TerminalStatus


class TerminalEnroll(BaseModel):
    """A terminal to register, with the public half of the key pair it generated for key loading."""

    model_config = ConfigDict(extra="forbid")

    institution: str = Field(min_length=1, max_length=200, description="Institution name, e.g. a pharmacy.")
    institution_type: InstitutionType = InstitutionType.PHARMACY
    region_code: str | None = Field(
        default=None, pattern=r"^[0-9]{6}$", description="Six-digit region; the staff member's own when omitted."
    )
    public_key: str = Field(
        min_length=80,
        max_length=100,
        description="The terminal's P-256 public key: 65-byte uncompressed point (04‖X‖Y), standard base64.",
    )


class TerminalEnrolled(BaseModel):
    """The registered terminal and its key, sealed to the enrolled public key (docs/terminal-protocol.md)."""

    terminal_id: str
    institution: str
    institution_type: InstitutionType
    region_code: str
    suite: str = Field(description="`sm` (SM4-CMAC, SM4 PIN blocks) or `intl` (AES-CMAC, AES PIN blocks).")
    key_version: int
    mac_kcv: str = Field(description="KCV of the MAC key: first 3 bytes of E(key, 16 zero bytes), upper-case hex.")
    pin_kcv: str = Field(description="KCV of the PIN key: first 3 bytes of E(key, 16 zero bytes), upper-case hex.")
    key_envelope: str = Field(description="ECIES envelope of MAC key ‖ PIN key (16 bytes each), standard base64.")


class TerminalStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=200, description="Why (kept in the registry and the audit log).")


class TerminalRead(BaseModel):
    terminal_id: str
    institution: str
    institution_type: InstitutionType
    region_code: str
    status: TerminalStatus
    suite: str
    key_version: int
    public_key_sha256: str
    enrolled_by: str
    enrolled_at: datetime
    status_reason: str | None
    status_changed_at: datetime | None

    @classmethod
    def of(cls, t: Terminal) -> TerminalRead:
        return cls(
            terminal_id=t.terminal_id,
            institution=t.institution_name,
            institution_type=t.institution_type,
            region_code=t.region_code,
            status=t.status,
            suite=t.suite,
            key_version=t.key_version,
            public_key_sha256=t.public_key_fingerprint,
            enrolled_by=t.enrolled_by,
            enrolled_at=t.enrolled_at,
            status_reason=t.status_reason,
            status_changed_at=t.status_changed_at,
        )


class EchoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(default="", max_length=200)


class EchoOut(BaseModel):
    """What the server saw of an authenticated request: proof that signing works end to end."""

    ok: bool = True
    terminal_id: str
    institution_type: InstitutionType
    region_code: str
    key_version: int
    server_time: int = Field(description="Server clock, unix seconds (compare with your own: ±120 s allowed).")
    message: str = ""

"""Wire models of the card PIN routes. PIN blocks travel as hex; nothing here ever holds a clear PIN."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from sscard.cards.schemas import CardRead
from sscard.credentials.pin.evidence import DocumentType
from sscard.credentials.pin.status import PinStatus

# ISO 9564 format 4: one 16-byte block (AES / SM4), sent as 32 hex digits.
PIN_BLOCK_PATTERN = r"^[0-9A-Fa-f]{32}$"
CARD_NO_FIELD = Field(min_length=1, max_length=16, examples=["A00012345"])


class IdentityEvidenceIn(BaseModel):
    """CH-2: the identity document the clerk checked; the number is compared, then kept only masked."""

    model_config = ConfigDict(extra="forbid")

    document_type: DocumentType = Field(examples=["resident_id_card"])
    document_number: str = Field(min_length=1, max_length=32)


class CounterPinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evidence: IdentityEvidenceIn


class PinPadIn(BaseModel):
    """A new PIN typed on the counter's PIN pad (a registered terminal) and enciphered by it."""

    model_config = ConfigDict(extra="forbid")

    terminal_id: str = Field(min_length=1, max_length=64)
    pin_block: str = Field(pattern=PIN_BLOCK_PATTERN, description="ISO 9564 format-4 PIN block, hex.")


class CounterPinReset(CounterPinRequest):
    """PIN-6: without ``pin_pad`` the PIN returns to the initial one; with it, to the holder's new PIN."""

    pin_pad: PinPadIn | None = None


class PinStatusRead(BaseModel):
    card_no_masked: str
    pin_enabled: bool
    locked: bool
    failures: int
    tries_left: int
    restorable: bool
    changed_at: datetime | None
    changed_channel: str | None

    @classmethod
    def of(cls, card_no_masked: str, status: PinStatus) -> PinStatusRead:
        return cls(
            card_no_masked=card_no_masked,
            pin_enabled=status.enabled,
            locked=status.locked,
            failures=status.failures,
            tries_left=status.tries_left,
            restorable=status.restorable,
            changed_at=status.changed_at,
            changed_channel=status.changed_channel,
        )


class TerminalPinVerify(BaseModel):
    """A card transaction's PIN check; ``pin_block`` absent when the holder entered no PIN."""

    model_config = ConfigDict(extra="forbid")

    card_no: str = CARD_NO_FIELD
    pin_block: str | None = Field(default=None, pattern=PIN_BLOCK_PATTERN)


class TerminalPinChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_no: str = CARD_NO_FIELD
    old_pin_block: str = Field(pattern=PIN_BLOCK_PATTERN, description="The current PIN, or the initial one.")
    new_pin_block: str = Field(pattern=PIN_BLOCK_PATTERN)


class CampaignPromptRead(BaseModel):
    campaign: str
    action: str
    message: str
    message_zh: str


class TerminalPinVerified(BaseModel):
    ok: bool = True
    pin_enabled: bool
    code: str | None = None
    tries_left: int
    campaign_prompt: CampaignPromptRead | None = Field(
        default=None, description="PIN-9: make the holder change the initial PIN before continuing."
    )


class TerminalPinChanged(BaseModel):
    ok: bool = True
    code: str | None = None
    pin_enabled: bool = True


class InitialPinCountRead(BaseModel):
    region_code: str
    card_type: str
    active_cards: int
    initial_pin: int
    share: float


class KioskInfoQuery(BaseModel):
    """PIN-12: a card information query at a kiosk; ``pin_block`` is needed when the card's PIN is enabled."""

    model_config = ConfigDict(extra="forbid")

    card_no: str = CARD_NO_FIELD
    pin_block: str | None = Field(default=None, pattern=PIN_BLOCK_PATTERN)


class KioskCardInfoRead(BaseModel):
    ok: bool = True
    code: str | None = None
    card_no_masked: str
    name_masked: str
    card_type: str
    state: str
    financial: bool
    issued_on: date | None
    activated_on: date | None
    pin_enabled: bool
    insurance: list[str] = Field(description="Insurance types the holder participates in today (INS-2).")
    campaign_prompt: CampaignPromptRead | None = None


class ActivateWithPin(CounterPinRequest):
    """PIN-4: activate the card and set the holder's PIN typed on the counter's PIN pad, in one step."""

    pin_pad: PinPadIn


class ActivatedWithPinRead(BaseModel):
    card: CardRead
    pin: PinStatusRead

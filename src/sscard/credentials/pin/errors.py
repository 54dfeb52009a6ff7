"""Card PIN errors, each with a stable code (PIN-1..PIN-11, CARD-4, CH-2).

The terminal-facing codes are fixed by the contract: ``PIN_WRONG``, ``PIN_LOCKED``, ``PIN_REQUIRED``,
``PIN_TOO_SIMPLE`` (plus ``CARD_NOT_ACTIVE`` / ``CARD_BLOCKED`` from the cards domain). No error ever
carries a PIN, a PIN block or a verification value.
"""

from __future__ import annotations

from typing import Any

from sscard.errors import Conflict, DomainError, Forbidden, ValidationFailed


class PinWrong(DomainError):
    """PIN-5: a wrong PIN; counted against the card, ``tries_left`` says how many remain."""

    code = "PIN_WRONG"
    status = 403
    title = "Wrong PIN."
    title_zh = "密码错误。"

    def __init__(self, *, tries_left: int, pin_enabled: bool, **extra: Any) -> None:
        plural = "try" if tries_left == 1 else "tries"
        super().__init__(
            f"wrong PIN; {tries_left} {plural} left before the PIN locks",
            tries_left=tries_left,
            pin_enabled=pin_enabled,
            **extra,
        )


class PinLocked(DomainError):
    """PIN-5: locked after consecutive failures; even the right PIN is refused until a counter reset."""

    code = "PIN_LOCKED"
    status = 423
    title = "The card's PIN is locked; reset it at a service outlet with the ID document and the card."
    title_zh = "密码已锁定，请持本人身份证件和社会保障卡到服务网点办理密码重置。"

    def __init__(self, detail: str | None = None, *, pin_enabled: bool, **extra: Any) -> None:
        super().__init__(detail, tries_left=0, pin_enabled=pin_enabled, **extra)


class PinRequired(DomainError):
    """PIN-2: the PIN is enabled, so every card transaction needs it."""

    code = "PIN_REQUIRED"
    status = 428
    title = "This card's PIN is enabled; the transaction needs the PIN."
    title_zh = "该卡已启用密码，办理业务需输入密码。"


class PinTooSimple(ValidationFailed):
    """PIN-3: the proposed PIN breaks a simplicity rule; ``reason`` names which one."""

    code = "PIN_TOO_SIMPLE"
    title = "The new PIN is too simple."
    title_zh = "新密码过于简单。"

    def __init__(self, detail: str, *, reason: str, **extra: Any) -> None:
        super().__init__(detail, reason=reason, **extra)


class PinNotEnabled(Conflict):
    """PIN-7: only an enabled PIN can be cancelled."""

    code = "PIN_NOT_ENABLED"
    title = "The card's PIN is not enabled."
    title_zh = "该卡未启用密码。"


class PinNothingToRestore(Conflict):
    """PIN-8: no holder change since the last counter operation, so there is no original to restore."""

    code = "PIN_NOTHING_TO_RESTORE"
    title = "There is no earlier PIN to restore."
    title_zh = "没有可恢复的原密码。"


class PinNotLocked(Conflict):
    code = "PIN_NOT_LOCKED"
    title = "The card's PIN is not locked."
    title_zh = "该卡密码未锁定。"


class PinChangeNotHere(Forbidden):
    """PIN-4: this kind of terminal does not offer PIN changes."""

    code = "PIN_CHANGE_NOT_OFFERED"
    title = "PIN changes are not offered at this terminal."
    title_zh = "此终端不提供修改密码服务。"


class PinInputInvalid(ValidationFailed):
    code = "PIN_INPUT_INVALID"
    title = "The PIN request is not valid."
    title_zh = "密码业务请求无效。"


class PinResetModeNotAllowed(ValidationFailed):
    """PIN-6: the region's policy decides whether a reset returns to the initial PIN or takes a new one."""

    code = "PIN_RESET_MODE_NOT_ALLOWED"
    title = "This kind of PIN reset is not allowed by the region's policy."
    title_zh = "本地区政策不允许此种密码重置方式。"


class IdentityEvidenceInvalid(ValidationFailed):
    """CH-2: the counter must say which identity document it checked."""

    code = "IDENTITY_EVIDENCE_INVALID"
    title = "Record the identity document checked: its type and number."
    title_zh = "请登记所核验的身份证件类型和号码。"


class IdentityEvidenceMismatch(ValidationFailed):
    """CH-2: the ID document shown is not the cardholder's."""

    code = "IDENTITY_EVIDENCE_MISMATCH"
    title = "The identity document does not belong to the cardholder."
    title_zh = "所出示的身份证件与持卡人不符。"


class InfoQueryNotHere(Forbidden):
    """PIN-12: card information queries with the card are offered at touch-screen kiosks."""

    code = "INFO_QUERY_NOT_OFFERED"
    title = "Card information queries are not offered at this terminal."
    title_zh = "此终端不提供社保卡信息查询服务。"


class PinAtActivationNotOffered(Forbidden):
    """PIN-4: this region's policy does not offer setting the PIN in the activation step."""

    code = "PIN_AT_ACTIVATION_NOT_OFFERED"
    title = "Setting the PIN at activation is not offered in this region."
    title_zh = "本地区激活时不提供设置密码服务。"

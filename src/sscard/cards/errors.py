"""Card errors, each with a stable code (CARD-1..CARD-6)."""

from __future__ import annotations

from typing import Any

from sscard.errors import Conflict, DomainError, NotFound, Throttled, ValidationFailed


class CardNotFound(NotFound):
    code = "CARD_NOT_FOUND"
    title = "No such card."
    title_zh = "卡片不存在。"


class CardIllegalTransition(Conflict):
    """CARD-1: the card's state does not allow this step; names the from and to states."""

    code = "CARD_ILLEGAL_TRANSITION"
    title = "The card's state does not allow this operation."
    title_zh = "卡片当前状态不允许此操作。"

    def __init__(self, from_state: str, to_state: str, event: str, **extra: Any) -> None:
        super().__init__(
            f"cannot {event.replace('_', ' ')}: a card cannot go from {from_state} to {to_state}",
            from_state=from_state,
            to_state=to_state,
            **extra,
        )
        self.from_state = from_state
        self.to_state = to_state


class CardLiveExists(Conflict):
    """CARD-2: at most one live card per person and card type."""

    code = "CARD_LIVE_EXISTS"
    title = "The person already holds a live card of this type."
    title_zh = "该人员已持有此类型的有效卡片。"


class CardTypeInvalid(ValidationFailed):
    code = "CARD_TYPE_INVALID"
    title = "Unknown card type."
    title_zh = "卡片类型无效。"


class CardSpecInvalid(ValidationFailed):
    """CARD-3 / CARD-6: a generation, medium or financial function that this card type cannot have."""

    code = "CARD_SPEC_INVALID"
    title = "This card type cannot be issued with these features."
    title_zh = "此类型卡片不支持所选功能。"


class CardInputInvalid(ValidationFailed):
    code = "CARD_INPUT_INVALID"
    title = "The card request is not valid."
    title_zh = "卡片业务请求无效。"


class CardNotActive(Conflict):
    """CARD-4: a card that is not activated cannot be used; the holder goes to an activation window."""

    code = "CARD_NOT_ACTIVE"
    title = "The card is not activated; activate it at a service window or bank outlet."
    title_zh = "卡片未激活，请到服务窗口或银行网点激活。"


class CardBlocked(Conflict):
    """CARD-2 / CARD-5: a loss-reported, lost, replaced or cancelled card is invalid for every use."""

    code = "CARD_BLOCKED"
    title = "The card is blocked (reported lost, replaced or cancelled)."
    title_zh = "卡片已挂失、补换或注销，不能使用。"


class LossReportInvalid(ValidationFailed):
    code = "LOSS_REPORT_INVALID"
    title = "Give the citizen ID number or the social security number."
    title_zh = "请提供公民身份号码或社会保障号码。"


class LossReportNoCard(NotFound):
    # One answer for "no such person" and "no card to block": the hotline needs no password, so
    # it must not tell a caller whether a number is registered.
    code = "LOSS_REPORT_NO_CARD"
    title = "No card that can be reported lost was found for this number."
    title_zh = "未找到可挂失的卡片。"


class CardNumbersExhausted(DomainError):
    code = "CARD_NUMBERS_EXHAUSTED"
    status = 503
    title = "The card number space is exhausted."
    title_zh = "卡号已用尽。"


class HotlineThrottled(Throttled):
    """Too many hotline calls from one source address in the window; ``retry_after`` seconds."""

    code = "HOTLINE_THROTTLED"
    title = "Too many hotline requests from this source; wait before trying again."
    title_zh = "该来源的热线请求过多，请稍后再试。"


class PersonalisationNotRecorded(NotFound):
    """CARD-7: the card has no personalisation record (issued before the record was kept)."""

    code = "CARD_PERSONALISATION_NOT_RECORDED"
    title = "The card's personalisation record is not on file."
    title_zh = "该卡无制卡个人化记录。"

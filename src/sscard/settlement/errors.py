"""Settlement errors, each with a stable code (contract: ``INSUFFICIENT_FUNDS``, ``TXN_CONFLICT``).

``INSUFFICIENT_FUNDS`` is the ledger's own error (``sscard.ledger.errors.InsufficientFunds``)."""

from __future__ import annotations

from sscard.errors import Conflict, Forbidden, NotFound, ValidationFailed


class NotAMedicalTerminal(Forbidden):
    code = "TERMINAL_NOT_MEDICAL"
    title = "Medical settlement is offered only at designated medical institutions' terminals."
    title_zh = "仅定点医药机构（医院、药店、诊所、社区卫生服务站）的终端可进行医保结算。"


class AmountInvalid(ValidationFailed):
    code = "AMOUNT_INVALID"
    title = "The amount must be a whole number of fen, above zero and within the limit."
    title_zh = "金额须为大于零且不超过上限的整数（分）。"


class TxnConflict(Conflict):
    code = "TXN_CONFLICT"
    title = "This terminal transaction id was already used for another request."
    title_zh = "该终端交易流水号已用于另一笔不同的交易。"


class TxnNotFound(NotFound):
    code = "TXN_NOT_FOUND"
    title = "No settlement with this transaction id at this terminal."
    title_zh = "本终端无此交易流水号的结算。"


class RefundExceedsPayment(Conflict):
    code = "REFUND_EXCEEDS_PAYMENT"
    title = "Refunds may not exceed what the settlement paid."
    title_zh = "退款总额不得超过原结算金额。"


class SettlementReversed(Conflict):
    code = "SETTLEMENT_REVERSED"
    title = "The settlement was reversed; nothing is left to refund or reverse."
    title_zh = "该结算已冲正。"


class ReversalNotAllowed(Conflict):
    code = "REVERSAL_NOT_ALLOWED"
    title = "A settlement is reversed only on its own business day and before any refund."
    title_zh = "仅可在结算当日且未退款时冲正。"


class SettlementFileMissing(NotFound):
    code = "SETTLEMENT_FILE_MISSING"
    title = "The institution's settlement file for that day is missing."
    title_zh = "缺少该机构当日的结算文件。"

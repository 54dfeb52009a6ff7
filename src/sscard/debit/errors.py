"""Debit account errors (FIN-2, FIN-3), each with a stable code. ``INSUFFICIENT_FUNDS`` is the ledger's
own, ``AMOUNT_INVALID`` and ``TXN_CONFLICT`` the settlement's (one code, one meaning)."""

from __future__ import annotations

from sscard.errors import Conflict, Forbidden, NotFound, ValidationFailed


class NotAFinancialCard(Conflict):
    code = "CARD_NOT_FINANCIAL"
    title = "The card has no financial function (no issuing bank)."
    title_zh = "该卡未开通金融功能（无发卡银行）。"


class DebitAccountExists(Conflict):
    code = "DEBIT_ACCOUNT_EXISTS"
    title = "The card already has its debit account."
    title_zh = "该卡已开立借记账户。"


class DebitAccountNotFound(NotFound):
    code = "DEBIT_ACCOUNT_NOT_FOUND"
    title = "The card has no debit account; it is opened at the card's bank outlet."
    title_zh = "该卡未开立借记账户，请到发卡银行网点开立。"


class TransferToSelf(ValidationFailed):
    code = "TRANSFER_TO_SELF"
    title = "A transfer needs another account than the one it is paid from."
    title_zh = "转出与转入账户不能相同。"


class NotABankTerminal(Forbidden):
    code = "TERMINAL_NOT_BANK"
    title = "Debit consumption is offered only at bank POS terminals."
    title_zh = "借记消费仅限银行受理终端。"

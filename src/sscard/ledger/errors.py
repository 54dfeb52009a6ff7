"""Ledger errors, each with a stable code."""

from __future__ import annotations

from sscard.errors import Conflict, NotFound, ValidationFailed


class LegsUnbalanced(ValidationFailed):
    code = "LEDGER_UNBALANCED"
    title = "The legs of a posting must sum to zero."
    title_zh = "记账分录借贷不平衡。"


class LegInvalid(ValidationFailed):
    code = "LEDGER_LEG_INVALID"
    title = "A posting needs at least two legs, each a non-zero whole number of fen."
    title_zh = "记账分录至少需要两条非零金额（分）。"


class InsufficientFunds(Conflict):
    code = "INSUFFICIENT_FUNDS"
    title = "The account's balance is too low."
    title_zh = "账户余额不足。"


class AccountClosed(Conflict):
    code = "LEDGER_ACCOUNT_CLOSED"
    title = "The ledger account is closed."
    title_zh = "账户已关闭。"


class AccountNotFound(NotFound):
    code = "LEDGER_ACCOUNT_NOT_FOUND"
    title = "No such ledger account."
    title_zh = "账户不存在。"


class AlreadyReversed(Conflict):
    code = "POSTING_ALREADY_REVERSED"
    title = "This posting has already been reversed."
    title_zh = "该记账已被冲正。"


class PeriodArchived(ValidationFailed):
    """A period whose records ``sscard partitions detach`` archived: a declaration or correction for it, and
    its statement, movements or balances, which the database can no longer show (docs/partitioning.md)."""

    code = "PERIOD_ARCHIVED"
    title = "The period's records are archived (sscard partitions detach): no longer shown, declared or corrected."
    title_zh = "该期间的记录已归档，不能再查询、申报或更正。"

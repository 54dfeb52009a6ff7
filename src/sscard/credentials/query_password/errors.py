"""Query-password errors, each with a stable code (QPW-*, contract.md). None carries a password."""

from __future__ import annotations

from sscard.errors import DomainError, Forbidden, Throttled, Unauthenticated, ValidationFailed


class InvalidCredentials(Unauthenticated):
    # One code for an unknown ID, a wrong password and an expired initial password: never reveal which.
    code = "INVALID_CREDENTIALS"
    title = "Wrong ID number or password."
    title_zh = "身份证号码或密码错误。"


class LoginThrottled(Throttled):
    """QPW-7: a wait after failed logins (per account or per source address); ``retry_after`` seconds."""

    code = "LOGIN_THROTTLED"
    title = "Too many failed logins; wait before trying again."
    title_zh = "登录失败次数过多，请稍后再试。"


class AccountLocked(DomainError):
    """QPW-7 / QPW-3: the policy's hard lock; only the counter, after verifying the holder, lifts it."""

    code = "ACCOUNT_LOCKED"
    status = 423
    title = "The account is locked; verify your identity at a social insurance agency counter."
    title_zh = "账户已锁定，请持本人身份证件到社保经办机构核实身份。"


class PasswordChangeRequired(Forbidden):
    """QPW-2 / QPW-4: with the initial or a temporary password only changing it is allowed."""

    code = "PASSWORD_CHANGE_REQUIRED"
    title = "Change your initial or temporary password first."
    title_zh = "请先修改初始密码或临时密码。"


class OldPasswordWrong(Forbidden):
    code = "OLD_PASSWORD_WRONG"
    title = "The current password is wrong."
    title_zh = "原密码错误。"


class PasswordWeak(ValidationFailed):
    """QPW-6: the new password breaks a rule; ``reason`` names which one."""

    code = "PASSWORD_WEAK"
    title = "The new password is too weak."
    title_zh = "新密码强度不足。"

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail, reason=reason)


class NoticeVersionUnknown(ValidationFailed):
    code = "NOTICE_VERSION_UNKNOWN"
    title = "That is not the current liability notice."
    title_zh = "不是当前版本的责任告知书。"


class RecoveryInputInvalid(ValidationFailed):
    code = "RECOVERY_INPUT_INVALID"
    title = "The password recovery request is not valid."
    title_zh = "找回密码请求无效。"


class PortalSessionInvalid(Unauthenticated):
    code = "UNAUTHENTICATED"
    title = "Sign in to the portal first."
    title_zh = "请先登录。"

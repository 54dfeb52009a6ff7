"""Staff errors, each with a stable code (CH-2)."""

from __future__ import annotations

from sscard.errors import Conflict, DomainError, Forbidden, NotFound, Throttled, Unauthenticated, ValidationFailed


class InvalidCredentials(Unauthenticated):
    # One code for an unknown user, a wrong password and a deactivated account: never reveal which.
    code = "INVALID_CREDENTIALS"
    title = "Wrong username or password."
    title_zh = "用户名或密码错误。"


class LoginThrottled(Throttled):
    code = "LOGIN_THROTTLED"
    title = "Too many failed logins; wait before trying again."
    title_zh = "登录失败次数过多，请稍后再试。"


class RoleForbidden(Forbidden):
    code = "ROLE_FORBIDDEN"
    title = "Your role may not perform this operation."
    title_zh = "您的角色无权执行此操作。"


class OutsideRegion(Forbidden):
    code = "OUTSIDE_REGION"
    title = "The target is outside your region."
    title_zh = "目标不在您的管辖地区内。"


class CardOtherBank(Forbidden):
    # PIN-6, FIN-3: a bank outlet acts only on cards issued through its own bank.
    code = "CARD_OTHER_BANK"
    title = "The card was not issued through your bank."
    title_zh = "该卡不是由您所在银行发行的。"


class StaffNotFound(NotFound):
    code = "STAFF_NOT_FOUND"
    title = "No such staff account."
    title_zh = "工作人员账户不存在。"


class UsernameTaken(Conflict):
    code = "STAFF_USERNAME_TAKEN"
    title = "That username is already in use."
    title_zh = "用户名已被使用。"


class InvalidStaffInput(ValidationFailed):
    code = "STAFF_INVALID"
    title = "The staff account details are not valid."
    title_zh = "工作人员账户信息无效。"


class PasswordTooWeak(ValidationFailed):
    code = "PASSWORD_WEAK"
    title = "The password is too weak."
    title_zh = "密码强度不足。"


class StaffAccountLocked(DomainError):
    # The same for a known and an unknown username (issue 17 item 8): never reveal which.
    code = "ACCOUNT_LOCKED"
    status = 423
    title = "Too many failed logins: the account is locked until an administrator unlocks it."
    title_zh = "登录失败次数过多，账户已锁定，须由管理员解锁。"


class OtpRequired(Unauthenticated):
    """The password was right; the role signs in with a TOTP code too (field ``otp``)."""

    code = "OTP_REQUIRED"
    title = "This role needs a one-time code from the authenticator app (field otp)."
    title_zh = "该角色登录须同时提供动态验证码（otp）。"


class OtpInvalid(Unauthenticated):
    code = "OTP_INVALID"
    title = "The one-time code is not valid."
    title_zh = "动态验证码错误。"


class SecondFactorEnrolmentRequired(Forbidden):
    code = "SECOND_FACTOR_ENROLMENT_REQUIRED"
    title = "Enrol a second factor first (POST /api/v1/staff/totp/enrol, then /confirm)."
    title_zh = "请先绑定动态验证码（第二因素）。"


class SecondFactorState(Conflict):
    code = "SECOND_FACTOR_STATE"
    title = "The second factor is not in a state that allows this."
    title_zh = "第二因素当前状态不允许此操作。"

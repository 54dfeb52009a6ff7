"""Staff errors, each with a stable code (CH-2)."""

from __future__ import annotations

from sscard.errors import Conflict, Forbidden, NotFound, Throttled, Unauthenticated, ValidationFailed


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

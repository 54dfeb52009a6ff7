"""Insurance errors, each with a stable code (INS-1..INS-3, INS-7)."""

from __future__ import annotations

from sscard.errors import Conflict, NotFound, ValidationFailed
from sscard.ledger.errors import PeriodArchived as PeriodArchived  # the ledger's months are archived too


class RegistrationUnderage(ValidationFailed):
    code = "REGISTRATION_UNDERAGE"
    title = "The person is under 16 on the employment start date."
    title_zh = "参保人在用工起始日未满16周岁。"


class RegistrationDateInvalid(ValidationFailed):
    code = "REGISTRATION_DATE_INVALID"
    title = "The registration date is in the future or before the employment start."
    title_zh = "登记日期不能晚于今天。"


class RegistrationDuplicate(Conflict):
    code = "REGISTRATION_DUPLICATE"
    title = "The person already has an open registration with this employer."
    title_zh = "该人员已在此单位参保登记。"


class RegistrationNotFound(NotFound):
    code = "REGISTRATION_NOT_FOUND"
    title = "No such insurance registration."
    title_zh = "参保登记不存在。"


class RegistrationKindInvalid(ValidationFailed):
    code = "REGISTRATION_KIND_INVALID"
    title = "Only flexible and self-employed workers register themselves."
    title_zh = "仅灵活就业人员和个体工商户可自行登记。"


class InsuranceTypeInvalid(ValidationFailed):
    code = "INSURANCE_TYPE_INVALID"
    title = "Not an insurance type this registration may hold."
    title_zh = "险种无效。"


class RegistrationNotLate(Conflict):
    code = "REGISTRATION_NOT_LATE"
    title = "The registration was on time: there is no premium to decide."
    title_zh = "该登记未逾期，无需核定滞纳金。"


class PremiumAlreadyDecided(Conflict):
    code = "PREMIUM_ALREADY_DECIDED"
    title = "The premium of this late registration has already been decided."
    title_zh = "该逾期登记的滞纳金已核定。"


class NotRegistered(Conflict):
    code = "NOT_REGISTERED"
    title = "The person is not registered for insurance with this employer."
    title_zh = "该人员未在此单位参保登记。"


class PeriodInvalid(ValidationFailed):
    code = "PERIOD_INVALID"
    title = "The period is not a YYYY-MM month."
    title_zh = "所属期应为YYYY-MM。"


class PeriodInFuture(ValidationFailed):
    code = "PERIOD_IN_FUTURE"
    title = "The period has not begun yet."
    title_zh = "所属期尚未开始。"


class PeriodBeforeRegistration(ValidationFailed):
    code = "PERIOD_BEFORE_REGISTRATION"
    title = "The period is before the registration's employment start (or after it ended)."
    title_zh = "所属期不在参保登记的有效期内。"


class BaseInvalid(ValidationFailed):
    code = "BASE_INVALID"
    title = "The contribution base must be a positive whole number of fen."
    title_zh = "缴费基数应为正整数（分）。"


class BaseAbsurd(ValidationFailed):
    code = "BASE_ABSURD"
    title = "The contribution base is more than ten times the region's ceiling: probably a typing error."
    title_zh = "缴费基数超过上限的十倍，疑为录入错误。"


class BaseOutOfRange(ValidationFailed):
    code = "BASE_OUT_OF_RANGE"
    title = "The chosen base is outside the region's 60-300 % bounds."
    title_zh = "所选缴费基数超出本地区允许范围。"


class DeclarationConflict(Conflict):
    code = "DECLARATION_CONFLICT"
    title = "This month was already declared with another base; correct the declaration instead."
    title_zh = "该月已按其他基数申报，请办理更正。"


class DeclarationNotFound(NotFound):
    code = "DECLARATION_NOT_FOUND"
    title = "No such declaration."
    title_zh = "申报记录不存在。"


class DeclarationInvalid(ValidationFailed):
    code = "DECLARATION_INVALID"
    title = "The declaration document is not valid."
    title_zh = "申报文件无效。"


class DeclarationOtherEmployer(ValidationFailed):
    """A line of an employer's own upload that names another employer (``jobs/contributions_import.py``)."""

    code = "EMPLOYER_MISMATCH"
    title = "The line names another employer's credit code."
    title_zh = "该行的统一社会信用代码不是本单位的。"

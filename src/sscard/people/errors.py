"""People errors, each with a stable code (PER-1, PER-2, ID-4, ID-5)."""

from __future__ import annotations

from sscard.errors import Conflict, Forbidden, NotFound, ValidationFailed


class PersonNotFound(NotFound):
    code = "PERSON_NOT_FOUND"
    title = "No such person."
    title_zh = "参保人不存在。"


class PersonDuplicate(Conflict):
    code = "PERSON_DUPLICATE"
    title = "A person with this citizen ID number is already registered."
    title_zh = "该公民身份号码的人员已登记。"


class PersonDeceased(Conflict):
    code = "PERSON_DECEASED"
    title = "The person is registered as deceased."
    title_zh = "该人员已登记为死亡。"


class IdMismatch(ValidationFailed):
    """ID-4: a gender or birth date that disagrees with the one the ID number encodes."""

    code = "ID_MISMATCH"
    title = "The gender or birth date does not agree with the citizen ID number."
    title_zh = "性别或出生日期与公民身份号码不一致。"


class DateInvalid(ValidationFailed):
    code = "DATE_INVALID"
    title = "The date is not a YYYY-MM-DD date."
    title_zh = "日期格式应为YYYY-MM-DD。"


class NameInvalid(ValidationFailed):
    code = "NAME_INVALID"
    title = "The name is not valid."
    title_zh = "姓名无效。"


class GenderInvalid(ValidationFailed):
    code = "GENDER_INVALID"
    title = "The gender is not valid."
    title_zh = "性别无效。"


class PhoneInvalid(ValidationFailed):
    code = "PHONE_INVALID"
    title = "The phone number is not an 11-digit mainland mobile number."
    title_zh = "手机号码不是有效的11位大陆手机号。"


class EmailInvalid(ValidationFailed):
    code = "EMAIL_INVALID"
    title = "The email address is not valid."
    title_zh = "电子邮箱地址无效。"


class PersonStatusInvalid(ValidationFailed):
    code = "PERSON_STATUS_INVALID"
    title = "Unknown person status."
    title_zh = "人员状态无效。"


class EvidenceRequired(ValidationFailed):
    """CH-2: sensitive counter operations record the identity evidence that was checked."""

    code = "EVIDENCE_REQUIRED"
    title = "Record the identity document that was checked."
    title_zh = "请记录已核验的身份证件。"


class RevealForbidden(Forbidden):
    code = "REVEAL_FORBIDDEN"
    title = "Your role may not see full personal data."
    title_zh = "您的角色无权查看完整个人信息。"


class RevealFieldsInvalid(ValidationFailed):
    code = "REVEAL_FIELDS_INVALID"
    title = "Unknown field to reveal."
    title_zh = "请求显示的字段无效。"


class PersonRecordInvalid(ValidationFailed):
    code = "PERSON_RECORD_INVALID"
    title = "The record is not valid."
    title_zh = "记录无效。"


# --- record corrections (QPW-3, PER-1) ---------------------------------------------------------------


class CorrectionEmpty(ValidationFailed):
    code = "CORRECTION_EMPTY"
    title = "Nothing to correct: give the name, phone or email to change."
    title_zh = "未提供需要更正的姓名、手机号码或电子邮箱。"


class CorrectionNoChange(ValidationFailed):
    """The value given is the one already on file: nothing would change, nothing is recorded."""

    code = "CORRECTION_NO_CHANGE"
    title = "The new value is the one already on file."
    title_zh = "更正后的信息与现有登记信息相同。"


class CorrectionReasonInvalid(ValidationFailed):
    code = "CORRECTION_REASON_INVALID"
    title = "Say why the citizen ID number on file is wrong."
    title_zh = "请说明登记的公民身份号码有误的原因。"


class CorrectionNotFound(NotFound):
    code = "CORRECTION_NOT_FOUND"
    title = "No such correction request."
    title_zh = "更正申请不存在。"


class CorrectionPending(Conflict):
    code = "CORRECTION_PENDING"
    title = "A correction of this person's citizen ID number is already waiting for approval."
    title_zh = "该人员已有待审批的公民身份号码更正申请。"


class CorrectionNotPending(Conflict):
    code = "CORRECTION_NOT_PENDING"
    title = "The correction request has already been decided."
    title_zh = "该更正申请已审批。"


class CorrectionNeedsSupervisor(Forbidden):
    """A citizen ID correction is approved by a counter supervisor only."""

    code = "CORRECTION_NEEDS_SUPERVISOR"
    title = "A citizen ID number correction is approved by a counter supervisor."
    title_zh = "公民身份号码更正须由柜面主管审批。"


class CorrectionSelfApproval(Forbidden):
    """Two different staff members: the one who requests a correction never approves it."""

    code = "SELF_APPROVAL"
    title = "You cannot approve your own request."
    title_zh = "不能审批本人提交的申请。"

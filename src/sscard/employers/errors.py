"""Employer errors, each with a stable code (INS-1, GB 32100)."""

from __future__ import annotations

from sscard.errors import Conflict, NotFound, Unauthenticated, ValidationFailed


class UsccInvalid(ValidationFailed):
    """A bad credit code; ``code`` is the specific one (USCC_LENGTH, USCC_CHARS, USCC_CHECKSUM)."""

    code = "USCC_INVALID"
    title = "The unified social credit code is not valid."
    title_zh = "统一社会信用代码无效。"


class UsccLength(UsccInvalid):
    code = "USCC_LENGTH"
    title = "A unified social credit code has 18 characters."
    title_zh = "统一社会信用代码应为18位。"


class UsccChars(UsccInvalid):
    code = "USCC_CHARS"
    title = "The code holds a character credit codes do not use."
    title_zh = "统一社会信用代码含有不允许的字符。"


class UsccChecksum(UsccInvalid):
    code = "USCC_CHECKSUM"
    title = "The check character of the credit code does not match."
    title_zh = "统一社会信用代码校验位错误。"


USCC_ERRORS: dict[str, type[UsccInvalid]] = {"USCC_LENGTH": UsccLength, "USCC_CHARS": UsccChars,
                                             "USCC_CHECKSUM": UsccChecksum}  # fmt: skip


class EmployerNotFound(NotFound):
    code = "EMPLOYER_NOT_FOUND"
    title = "No such employer."
    title_zh = "用人单位不存在。"


class EmployerDuplicate(Conflict):
    code = "EMPLOYER_DUPLICATE"
    title = "An employer with this credit code is already registered."
    title_zh = "该统一社会信用代码的单位已登记。"


class EmployerNameInvalid(ValidationFailed):
    code = "EMPLOYER_NAME_INVALID"
    title = "The employer's name must be 1 to 128 characters."
    title_zh = "单位名称应为1至128个字符。"


class EmployerSessionInvalid(Unauthenticated):
    title = "The employer session is not valid; sign in again."
    title_zh = "单位登录已失效，请重新登录。"

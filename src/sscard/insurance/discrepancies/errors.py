"""Errors of discrepancy reports (INS-6)."""

from __future__ import annotations

from sscard.errors import Conflict, NotFound, ValidationFailed


class ReportNotFound(NotFound):
    code = "DISCREPANCY_NOT_FOUND"
    title = "No such discrepancy report."
    title_zh = "未找到该异议记录。"


class ReportAlreadyAnswered(Conflict):
    code = "DISCREPANCY_ANSWERED"
    title = "The discrepancy report has already been answered."
    title_zh = "该异议已答复。"


class ReportInvalid(ValidationFailed):
    code = "DISCREPANCY_INVALID"
    title = "The discrepancy report is not valid."
    title_zh = "异议内容无效。"

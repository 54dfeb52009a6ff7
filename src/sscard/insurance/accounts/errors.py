"""Errors of the personal-account queries and interest crediting."""

from __future__ import annotations

from sscard.errors import Conflict, ValidationFailed


class InterestYearOpen(Conflict):
    code = "INTEREST_YEAR_OPEN"
    title = "Interest is credited only for a year that has ended."
    title_zh = "年度未结束，不能记入当年利息。"


class InterestRateMissing(ValidationFailed):
    code = "INTEREST_RATE_MISSING"
    title = "The region's policy has no credited interest rate for this year."
    title_zh = "该地区政策未设定该年度记账利率。"


class QueryInvalid(ValidationFailed):
    code = "INSURANCE_QUERY_INVALID"
    title = "The query is not valid."
    title_zh = "查询条件无效。"

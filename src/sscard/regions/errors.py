"""Region errors with stable codes."""

from __future__ import annotations

from sscard.errors import Conflict, NotFound, ValidationFailed


class RegionNotFound(NotFound):
    code = "REGION_NOT_FOUND"
    title = "No such region."
    title_zh = "地区不存在。"


class InvalidRegion(ValidationFailed):
    code = "REGION_INVALID"
    title = "The region is not valid."
    title_zh = "地区信息无效。"


class RegionExists(Conflict):
    code = "REGION_EXISTS"
    title = "A different region with that code already exists."
    title_zh = "该地区代码已被其他地区使用。"

"""Policy errors, each with a stable code."""

from __future__ import annotations

from sscard.errors import Conflict, ValidationFailed


class PolicyInvalid(ValidationFailed):
    code = "POLICY_INVALID"
    title = "The policy change is not valid."
    title_zh = "政策参数无效。"


class PolicyScheduleConflict(Conflict):
    """Versions of one scope take effect in version order: no change may take effect before a scheduled one."""

    code = "POLICY_SCHEDULE_CONFLICT"
    title = "A later policy change is already scheduled for this region."
    title_zh = "该地区已有更晚生效的政策变更。"

"""What the holder is told: the liability notice (QPW-4) and notices of password events (CH-5).

Notices go through the notification outbox in the caller's transaction: sent after commit, retried,
never lost, never sent for a change that rolled back. They never carry a password; the temporary
password of QPW-5 travels only in its own message (recovery.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from sscard.db.session import UnitOfWork
from sscard.notify import notify_person
from sscard.people.models import Person

CHINA = timezone(timedelta(hours=8), "CST")  # times in messages are local (UTC+8, no daylight saving)


@dataclass(frozen=True)
class LiabilityNotice:
    version: str
    text_zh: str
    text_en: str


# QPW-4, seeds 000 and 004 item 4. Bump the version when the text changes: acknowledgements name it.
LIABILITY_NOTICE = LiabilityNotice(
    version="2026-1",
    text_zh=(
        "您仍在使用系统设置的社保查询初始密码（身份证号码后8位，X转为0），请立即修改。"
        "若因本人原因未及时修改初始密码，或因个人社会保障卡保管不慎、泄露查询密码造成个人参保信息外泄，"
        "由参保人本人负责。"
    ),
    text_en=(
        "You are still using the initial query password set by the system (the last 8 characters of your ID "
        "number, X as 0). Change it now. If, for personal reasons, you do not change the initial password in "
        "time, or your personal insurance information leaks because you kept your social security card "
        "carelessly or disclosed your query password, you are personally responsible."
    ),
)

PasswordEvent = Literal["password_changed", "password_reinitialised"]

_TEXT: dict[str, tuple[str, str]] = {
    "password_changed": (
        "【社保查询】您的网上查询密码已于{at}修改。如非本人操作，请立即到社保经办机构核实身份并重置密码。",
        "[Social insurance portal] Your online query password was changed at {at}. Not you? Visit a social "
        "insurance agency counter with your ID at once to reset it.",
    ),
    "password_reinitialised": (
        "【社保查询】您的网上查询密码已于{at}在经办机构柜台恢复为初始密码，请登录后立即修改。如非本人办理，请立即联系经办机构。",
        "[Social insurance portal] Your online query password was reset to the initial password at an agency "
        "counter at {at}. Sign in and change it now. Not you? Contact the agency at once.",
    ),
}


def _stamp(now: datetime) -> str:
    return now.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def notify_holder(uow: UnitOfWork, *, person: Person, event: PasswordEvent, now: datetime) -> None:
    """CH-5: queue the holder's notice of a password event on every contact on file."""
    zh, en = _TEXT[event]
    at = _stamp(now)
    notify_person(uow, person=person, topic=f"qpw.{event}", text=zh.format(at=at), text_en=en.format(at=at))

"""CH-5: what the holder is told when the counter corrects their record (never the values themselves)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "CST")  # times in messages are local (UTC+8, no daylight saving)

_FIELD_NAMES = {
    "name": ("姓名", "name"),
    "phone": ("手机号码", "mobile phone number"),
    "email": ("电子邮箱", "email address"),
    "id_number": ("公民身份号码", "citizen ID number"),
}
_TEXT = (
    "【社会保障卡】您的参保登记信息（{fields_zh}）已于{at}在经办机构柜台更正。如非本人办理，请立即携身份证件联系经办机构。",
    "[Social security card] Your record ({fields_en}) was corrected at an agency counter at {at}. Not you? "
    "Contact the agency with your ID document at once.",
)
_ID_NOTE = (
    "网上查询请使用更正后的身份证号码登录；如您从未修改查询密码，初始密码随之改为新号码后8位（X转为0），登录后须立即修改。"
    "社保卡交易密码尚未启用且初始密码按身份证号码或出生日期设置的，初始密码随之按更正后的信息生成。",
    "Sign in to the online query service with the corrected ID number; if you never changed your query "
    "password, the initial one is now the last 8 characters of the new number (X as 0), to be changed at "
    "first sign-in. A card PIN never enabled whose initial value comes from the ID number or birth date "
    "now follows the corrected record.",
)


def correction_notice(*, fields: tuple[str, ...], now: datetime) -> str:
    """The bilingual notice of a record correction naming the fields changed (no value, old or new)."""
    at = now.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    zh = _TEXT[0].format(fields_zh="、".join(_FIELD_NAMES[f][0] for f in fields), at=at)
    en = _TEXT[1].format(fields_en=", ".join(_FIELD_NAMES[f][1] for f in fields), at=at)
    if "id_number" in fields:
        zh, en = zh + _ID_NOTE[0], en + " " + _ID_NOTE[1]
    return f"{zh}\n{en}"

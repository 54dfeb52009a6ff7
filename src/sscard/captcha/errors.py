"""Captcha errors."""

from __future__ import annotations

from sscard.errors import ValidationFailed


class CaptchaInvalid(ValidationFailed):
    # One code for wrong, expired, used or unknown: a guesser learns nothing about which.
    code = "CAPTCHA_INVALID"
    title = "The verification code is wrong or has expired; request a new one."
    title_zh = "验证码错误或已过期，请重新获取。"

"""Captcha errors."""

from __future__ import annotations

from sscard.errors import ValidationFailed


class CaptchaInvalid(ValidationFailed):
    # One code for wrong, expired, used or unknown: a guesser learns nothing about which.
    code = "CAPTCHA_INVALID"
    title = "The verification code is wrong or has expired; request a new one."
    title_zh = "验证码错误或已过期，请重新获取。"


class CaptchaRequired(ValidationFailed):
    # The region's policy asks for a verification code at this sign-in (login_captcha_after_failures).
    code = "CAPTCHA_REQUIRED"
    title = "Type the verification code shown with the form."
    title_zh = "请输入验证码。"

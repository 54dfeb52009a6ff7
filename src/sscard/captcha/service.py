"""Issue and check captchas (QPW-5).

The answer is kept only as a keyed index from the security module (a plain hash of five characters
could be reversed by trying them all). A challenge is consumed by its first check, right or wrong, so
each image allows exactly one guess; it also expires after a few minutes.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update

from sscard.captcha.errors import CaptchaInvalid
from sscard.captcha.image import render_captcha
from sscard.captcha.models import CaptchaChallenge
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.security_module import get_security_module

# Upper case and digits without look-alikes (0/O, 1/I, 2/Z, 5/S, 8/B): answers are case-insensitive.
ALPHABET = "ACDEFGHJKLMNPQRTUVWXY34679"
LENGTH = 5
TTL = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class IssuedCaptcha:
    captcha_id: str
    png: bytes
    expires_at: datetime


def _new_answer() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def _answer_index(answer: str) -> bytes:
    return get_security_module().blind_index(answer.strip().upper().encode(), purpose="captcha")


def issue_captcha(uow: UnitOfWork, *, now: datetime | None = None) -> IssuedCaptcha:
    """A new challenge: its id, its image, and when it expires (the answer is never returned)."""
    now = now or utcnow()
    # Old challenges are garbage; each issue sweeps what expired a while ago (an index range delete).
    uow.session.execute(delete(CaptchaChallenge).where(CaptchaChallenge.expires_at < now - timedelta(hours=1)))
    answer = _new_answer()
    challenge = CaptchaChallenge(
        id=secrets.token_urlsafe(24), answer_hash=_answer_index(answer), created_at=now, expires_at=now + TTL
    )
    uow.session.add(challenge)
    uow.flush()
    return IssuedCaptcha(challenge.id, render_captcha(answer), challenge.expires_at)


def check_captcha(uow: UnitOfWork, *, captcha_id: str, answer: str, now: datetime | None = None) -> None:
    """Consume the challenge and compare; ``CAPTCHA_INVALID`` if wrong, unknown, used or expired."""
    now = now or utcnow()
    if not captcha_id or len(captcha_id) > 48 or not answer or len(answer) > 16:
        raise CaptchaInvalid()
    # One atomic statement: two requests racing with one challenge cannot both consume it.
    stored = uow.session.execute(
        update(CaptchaChallenge)
        .where(CaptchaChallenge.id == captcha_id, CaptchaChallenge.used_at.is_(None), CaptchaChallenge.expires_at > now)
        .values(used_at=now)
        .returning(CaptchaChallenge.answer_hash)
    ).scalar_one_or_none()
    if stored is None or not hmac.compare_digest(stored, _answer_index(answer)):
        raise CaptchaInvalid()

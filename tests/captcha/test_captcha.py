"""The self-hosted image captcha of the forgot-password form (QPW-5)."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import pytest
from PIL import Image

from sscard.captcha import service
from sscard.captcha.errors import CaptchaInvalid
from sscard.captcha.image import render_captcha
from sscard.captcha.models import CaptchaChallenge
from sscard.db.base import utcnow


def test_render_is_a_png() -> None:
    png = render_captcha("K7FQX")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (200, 70)
    assert render_captcha("K7FQX") != png  # distortion and noise are random every time


@pytest.fixture
def known_answer(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(service, "_new_answer", lambda: "K7FQX")
    return "K7FQX"


# rule QPW-5: the answer is stored only as a keyed hash; single use; case-insensitive
def test_single_use_and_hashed(uow, known_answer: str) -> None:
    issued = service.issue_captcha(uow)
    row = uow.session.get(CaptchaChallenge, issued.captcha_id)
    assert row is not None and known_answer.encode() not in row.answer_hash and len(row.answer_hash) == 32
    service.check_captcha(uow, captcha_id=issued.captcha_id, answer=" k7fqx ")
    with pytest.raises(CaptchaInvalid):
        service.check_captcha(uow, captcha_id=issued.captcha_id, answer=known_answer)


# rule QPW-5: a wrong guess consumes the challenge (one guess per image)
def test_wrong_answer_consumes(uow, known_answer: str) -> None:
    issued = service.issue_captcha(uow)
    with pytest.raises(CaptchaInvalid):
        service.check_captcha(uow, captcha_id=issued.captcha_id, answer="WRONG")
    with pytest.raises(CaptchaInvalid):
        service.check_captcha(uow, captcha_id=issued.captcha_id, answer=known_answer)


# rule QPW-5: challenges expire
def test_expiry_and_unknown(uow, known_answer: str) -> None:
    issued = service.issue_captcha(uow)
    with pytest.raises(CaptchaInvalid):
        service.check_captcha(
            uow, captcha_id=issued.captcha_id, answer=known_answer, now=utcnow() + timedelta(minutes=6)
        )
    for cid, answer in (("no-such-id", known_answer), ("", known_answer), (issued.captcha_id, "")):
        with pytest.raises(CaptchaInvalid):
            service.check_captcha(uow, captcha_id=cid, answer=answer)


def test_api_returns_png(db_env) -> None:
    from fastapi.testclient import TestClient

    from sscard.api.app import create_app

    with TestClient(create_app()) as client:
        r = client.get("/api/v1/portal/captcha")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"captcha_id", "image_png_base64", "expires_at"}
    assert base64.b64decode(body["image_png_base64"]).startswith(b"\x89PNG")

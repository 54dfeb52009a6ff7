"""Draw a captcha: distorted characters on a noisy background, as PNG bytes (Pillow, no system fonts)."""

from __future__ import annotations

import io
import secrets

from PIL import Image, ImageDraw, ImageFilter, ImageFont

WIDTH, HEIGHT = 200, 70


def _rand(lo: int, hi: int) -> int:
    return lo + secrets.randbelow(hi - lo + 1)


def render_captcha(text: str) -> bytes:
    """A PNG showing ``text``: each character rotated and offset, crossed by lines and speckled."""
    image = Image.new("RGB", (WIDTH, HEIGHT), (_rand(225, 255), _rand(225, 255), _rand(225, 255)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):  # background strokes in pale colours
        draw.line(
            [(_rand(0, WIDTH), _rand(0, HEIGHT)), (_rand(0, WIDTH), _rand(0, HEIGHT))],
            fill=(_rand(150, 220), _rand(150, 220), _rand(150, 220)),
            width=_rand(1, 2),
        )
    step = (WIDTH - 20) // max(1, len(text))
    for i, char in enumerate(text):
        # Pillow's built-in scalable font: the image needs no font installed on the server.
        font = ImageFont.load_default(size=_rand(34, 44))
        glyph = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((10, 2), char, font=font, fill=(_rand(0, 110), _rand(0, 110), _rand(0, 110), 255))
        glyph = glyph.rotate(_rand(-30, 30), resample=Image.Resampling.BICUBIC, expand=False)
        image.paste(glyph, (10 + i * step + _rand(-4, 4), _rand(-2, 14)), glyph)
    for _ in range(3):  # strokes through the text
        draw.line(
            [(0, _rand(10, HEIGHT - 10)), (WIDTH, _rand(10, HEIGHT - 10))],
            fill=(_rand(40, 140), _rand(40, 140), _rand(40, 140)),
            width=2,
        )
    pixels = image.load()
    assert pixels is not None  # noqa: S101 - an RGB image always has pixel access
    for _ in range(WIDTH * HEIGHT // 12):  # speckle
        pixels[_rand(0, WIDTH - 1), _rand(0, HEIGHT - 1)] = (_rand(0, 255), _rand(0, 255), _rand(0, 255))
    image = image.filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()

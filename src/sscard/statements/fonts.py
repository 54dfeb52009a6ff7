"""The CJK font every statement embeds (INS-4): WenQuanYi Micro Hei from Debian's ``fonts-wqy-microhei``.

A statement is a document the holder keeps and a third party may check, so its glyphs travel inside
the file rather than being named and left to the reader (the key reports' ``STSong-Light`` CID font
shows a substitute face, or nothing, where the reader lacks Adobe's Chinese pack). reportlab embeds
TrueType outlines only (not CFF-flavoured OpenType such as Noto CJK), and subsets them: a statement
carries the few hundred glyphs it uses, about 20 KB. The font is a system package, installed by
``.ci/run`` and by the operator (``apt-get install fonts-wqy-microhei``); nothing is downloaded at run
time. ``SSCARD_STATEMENT_FONT`` names another TrueType file (.ttf/.ttc, subfont 0) instead.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from sscard.statements.errors import StatementFontMissing

FONT_NAME = "SSCardCJK"
#: Where Debian and its derivatives put the TrueType CJK faces this module accepts, best first.
CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # fonts-arphic-uming
)
ENV = "SSCARD_STATEMENT_FONT"


def font_path() -> Path:
    """The TrueType file to embed; ``StatementFontMissing`` (with the package to install) if there is none."""
    configured = os.environ.get(ENV, "").strip()
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise StatementFontMissing(f"{ENV} names {path}, which is not a file")
        return path
    for candidate in CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise StatementFontMissing(
        "no embeddable CJK TrueType font found; install the Debian package fonts-wqy-microhei "
        f"(apt-get install fonts-wqy-microhei) or set {ENV} to a .ttf/.ttc file"
    )


@lru_cache(maxsize=1)
def register_font() -> str:
    """Register the font with reportlab once per process (parsing the 5 MB file takes ~0.3 s); its name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    path = font_path()
    try:
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(path), subfontIndex=0))
    except TTFError as exc:  # CFF outlines, a damaged file: say which file and why
        raise StatementFontMissing(f"{path} cannot be embedded: {exc}") from None
    return FONT_NAME

"""structlog JSON logs with personal data masked and secrets dropped, whatever a caller passes."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from sscard.config import get_settings
from sscard.identity.masking import mask_id_number, mask_phone

# Keys whose values are never logged, even masked.
SECRET_KEYS = re.compile(r"(pin|password|passwd|secret|token|key|component|captcha_answer|pvv|mac)", re.I)
ID_RE = re.compile(r"(?<![0-9])([1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])[0-9]{2}[0-9]{3}[0-9Xx])(?![0-9])")
PHONE_RE = re.compile(r"(?<![0-9])(1[3-9][0-9]{9})(?![0-9])")


def mask_text(text: str) -> str:
    text = ID_RE.sub(lambda m: mask_id_number(m.group(1)), text)
    return PHONE_RE.sub(lambda m: mask_phone(m.group(1)), text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: ("[redacted]" if SECRET_KEYS.search(str(k)) else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def scrub_event(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key != "event" and SECRET_KEYS.search(key) and key not in {"request_id"}:
            event[key] = "[redacted]"
        else:
            event[key] = _scrub(event[key])
    return event


class _CurrentStderr:
    """Resolve ``sys.stderr`` at each write, so redirection (and pytest's capture) is honoured even by
    loggers cached before it changed."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_configured = False
QUIET_LIBRARIES = ("httpx", "httpcore")


def configure_logging(force: bool = False) -> None:
    global _configured
    if _configured and not force:
        return
    settings = get_settings()
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    renderer: Any = structlog.processors.JSONRenderer() if settings.log_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            scrub_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(message)s")
    # httpx and httpcore log every outgoing request at INFO ("HTTP Request: POST …"): noise in the terminal
    # simulator's answers and the CLI's output, and a gateway URL may carry a credential or a phone
    # number in its query. Their warnings and errors still show.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    _configured = True

"""Key-management operations audited when refused (CH-4): ``refusals_audited`` is shared with the
console pages in ``sscard.web.refusals`` (as ``web/transaction.py``); the API and the CLI import it here."""

from __future__ import annotations

from sscard.web.refusals import refusals_audited

__all__ = ["refusals_audited"]

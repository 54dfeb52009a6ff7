"""Reliability fixtures: the real app in process (``client``, ``staff_headers``) and real servers."""

from __future__ import annotations

from tests.cards.conftest import client, staff_headers

__all__ = ["client", "staff_headers"]

"""Settlement fixtures: the PIN tests' app client, staff and enrolled terminals, plus funded cards."""

from __future__ import annotations

from tests.credentials.pin.conftest import client, staff_headers, terminal  # noqa: F401
from tests.settlement.factories import funded_card, ledger_counts  # noqa: F401

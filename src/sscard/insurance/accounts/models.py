"""Schema owned by the accounts domain: the uniqueness that makes interest crediting idempotent.

Interest for a year is posted once per personal account: its posting's ``source_ref`` is
``interest:<year>:<account id>``, unique among ``interest`` postings. The database refuses a second
one even when two runs race (the service also checks first, so a re-run simply skips).
"""

from __future__ import annotations

from sqlalchemy import Index, text

from sscard.ledger.models import LedgerPosting

INTEREST_ONCE = Index(
    "uq_ledger_posting_interest",
    LedgerPosting.source_ref,
    unique=True,
    sqlite_where=text("kind = 'interest'"),
    postgresql_where=text("kind = 'interest'"),
)

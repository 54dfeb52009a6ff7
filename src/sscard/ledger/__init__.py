"""A generic double-entry ledger: accounts, postings and their signed legs (FIN, INS-3)."""

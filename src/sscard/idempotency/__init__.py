"""``Idempotency-Key`` for state-changing HTTP requests (contract.md): the first answer again, once."""

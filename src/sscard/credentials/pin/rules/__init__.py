"""The card PIN rules, in one place: change a PIN rule here.

- ``decision.py`` — verifying a PIN (PIN-2 enabled or not, PIN-5 counting and lock, CARD-4 card not
  active): ``decide_verify``, the one pure decision both paths call (the batched lane,
  ``batch_verify.py``, and the single request, ``service.verify_card_pin``), and ``verify_details``,
  the audit details of an accepted verification on both. Tested without a database
  (``tests/credentials/pin/test_rules.py``).
- ``threshold.py`` — the lockout threshold from the regional policy (PIN-5), and ``LockoutThresholds``,
  the batched path's cache of it (forgotten when the policy changes).
- ``simplicity.py`` — the initial PIN a policy rule derives (PIN-1) and what a new PIN may not be
  (PIN-3). Run by the security module over the clear PIN it opens (``security_module/pinops.py``), so it
  imports nothing of sscard.
- ``../status.py`` — what a card's PIN row means under a threshold (enabled, failures, locked, tries left).

What is not a rule lives elsewhere: the key operations behind ``SecurityModule`` (``security_module/pinops.py``),
the ISO 9564 format-4 block (``sscard.terminal.pinblock``, the terminal SDK's), the atomic counter
statements (``store.py``) and the batch's SQL (``batch_db.py``).

This ``__init__`` imports nothing: the security module imports ``simplicity`` without the rest.
"""

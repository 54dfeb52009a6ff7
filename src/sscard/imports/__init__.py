"""Bulk imports (batch work that streams a file, is idempotent by natural key and resumable)."""

"""Append-only, hash-chained audit log (CH-4)."""

from sscard.audit.actor import Actor, Channel
from sscard.audit.service import record_event

__all__ = ["Actor", "Channel", "record_event"]

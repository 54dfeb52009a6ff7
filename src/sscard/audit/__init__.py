"""Append-only, hash-chained audit log (CH-4)."""

from sscard.audit.actor import Actor, Channel
from sscard.audit.service import AuditEvent, record_event, record_events

__all__ = ["Actor", "AuditEvent", "Channel", "record_event", "record_events"]

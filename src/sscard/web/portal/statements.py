"""Who downloads a statement from the portal (the same actor as the API's portal route)."""

from __future__ import annotations

from sscard.audit import Actor
from sscard.audit.actor import Channel
from sscard.credentials.query_password.sessions import HolderSession


def statement_actor(holder: HolderSession) -> Actor:
    return Actor(kind="holder", id=str(holder.person_id), channel=Channel.PORTAL, role="holder")

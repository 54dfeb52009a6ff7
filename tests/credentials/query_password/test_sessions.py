"""Portal session tokens: opaque, stored only as a digest, expiring, revocable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sscard.credentials.query_password.errors import PortalSessionInvalid
from sscard.credentials.query_password.models import PortalSession
from sscard.credentials.query_password.service import login_holder
from sscard.credentials.query_password.sessions import SESSION_TTL, end_session, resolve_session, token_digest
from sscard.db.base import utcnow
from tests.credentials.query_password.factories import make_holder


def test_token_stored_hashed_and_expiring(uow) -> None:
    person, number, initial = make_holder(uow)
    now = utcnow()
    login = login_holder(uow, id_number=number, password=initial, source="192.0.2.1", now=now)
    rows = uow.session.scalars(select(PortalSession).where(PortalSession.person_id == person.id)).all()
    assert len(rows) == 1 and rows[0].token_hash == token_digest(login.access_token)
    assert login.access_token.encode() not in rows[0].token_hash
    held = resolve_session(uow, token=login.access_token, now=now + SESSION_TTL - timedelta(seconds=1))
    assert held.person_id == person.id and held.must_change
    with pytest.raises(PortalSessionInvalid):
        resolve_session(uow, token=login.access_token, now=now + SESSION_TTL)
    end_session(uow, session_id=held.session_id, now=now)
    with pytest.raises(PortalSessionInvalid):
        resolve_session(uow, token=login.access_token, now=now)
    for bad in ("", "sst_staff-token", "pst_" + "x" * 200):
        with pytest.raises(PortalSessionInvalid):
            resolve_session(uow, token=bad)

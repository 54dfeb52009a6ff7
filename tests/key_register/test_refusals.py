"""Refusals are audited in their own transaction and leave nothing of the refused change (CH-4)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sscard.api.refusals import refusals_audited
from sscard.audit.models import AuditEntry
from sscard.audit.service import verify_chain
from sscard.key_register.carriers import get_carrier_or_raise, record_carrier_use, store_carrier
from sscard.key_register.errors import CarrierIllegalTransition, CarrierNotUsable
from sscard.key_register.states import CarrierState
from tests.key_register.factories import receive


# rule CH-4: a refused operation is rolled back, and its refusal survives with the error's code
def test_refusal_survives_rollback(uow, custodian) -> None:
    card = receive(uow, custodian)
    uow.commit()
    subject = f"carrier:{card.id}"
    with pytest.raises(CarrierIllegalTransition):
        with refusals_audited(uow, actor=custodian, action="carrier.store", subject=subject):
            store_carrier(uow, carrier_id=card.id, location="保险柜", purpose="入库", actor=custodian)
            # A second step of the same operation fails: the first must not survive either.
            store_carrier(uow, carrier_id=card.id, location="保险柜", purpose="again", actor=custodian)
    uow.session.expire_all()
    assert get_carrier_or_raise(uow, card.id).state is CarrierState.RECEIVED
    entries = list(uow.session.scalars(select(AuditEntry).where(AuditEntry.subject == subject)))
    assert [e.action for e in entries] == ["carrier.receive", "carrier.store"]
    assert entries[-1].result == "refused" and '"code":"CARRIER_ILLEGAL_TRANSITION"' in entries[-1].details
    assert entries[-1].actor_id == custodian.id and entries[-1].region == custodian.region
    assert verify_chain(uow).ok


def test_non_domain_errors_are_not_swallowed(uow, custodian) -> None:
    with pytest.raises(RuntimeError):
        with refusals_audited(uow, actor=custodian, action="x", subject="y"):
            raise RuntimeError("bug")


# rule KEY-5: a use of a carrier that is not in use is refused and audited
def test_refused_use(uow, custodian) -> None:
    card = receive(uow, custodian)
    uow.commit()
    with pytest.raises(CarrierNotUsable):
        with refusals_audited(uow, actor=custodian, action="carrier.use", subject=f"carrier:{card.id}"):
            record_carrier_use(uow, carrier_id=card.id, location="x", purpose="y", actor=custodian)
    refused = uow.session.scalar(
        select(AuditEntry).where(AuditEntry.subject == f"carrier:{card.id}", AuditEntry.result == "refused")
    )
    assert refused is not None and "CARRIER_NOT_USABLE" in refused.details

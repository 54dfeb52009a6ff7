"""The link to the security module's key inventory (KEY-9): revoke and rotate by inventory label.

The inventory belongs to ``sscard.security``; until it provides ``sscard.security.inventory`` the
measures stay pending for an officer to confirm. These tests pin the contract the bridge expects,
with a small in-memory inventory standing in for it.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import dataclass

import pytest

from sscard.keys import bridge
from sscard.keys.carriers import load_key
from sscard.keys.errors import KeysInvalid
from sscard.keys.incidents import close_incident, measures_of, record_findings, report_carrier_loss
from sscard.keys.models import MeasureKind, MeasureStatus
from sscard.keys.states import CarrierType
from tests.keys.factories import receive


@dataclass
class _Key:
    label: str
    region_code: str
    state: str = "active"
    rotated: bool = False


@pytest.fixture
def inventory(monkeypatch):
    keys = {"MK-1": _Key("MK-1", "110105"), "TK-1": _Key("TK-1", "110105")}
    module = types.ModuleType("sscard.security.inventory")
    module.get_key = lambda uow, *, label: keys.get(label)  # type: ignore[attr-defined]

    def revoke_key(uow, *, label, reason, actor):
        keys[label].state = "revoked"

    def schedule_rotation(uow, *, label, reason, actor):
        keys[label].state = "rotation_scheduled"

    module.revoke_key = revoke_key  # type: ignore[attr-defined]
    module.schedule_rotation = schedule_rotation  # type: ignore[attr-defined]
    module.is_rotated = lambda uow, *, label: keys[label].rotated  # type: ignore[attr-defined]
    module.list_keys = lambda uow, *, region_code: list(keys.values())  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sscard.security.inventory", module)
    return keys


# rule KEY-9: with an inventory, loss revokes at once and rotation completes the measure
def test_loss_revokes_and_rotation_closes(uow, officer, custodian, inventory) -> None:
    card = receive(uow, custodian, CarrierType.MASTER_KEY_CARD)
    with pytest.raises(KeysInvalid):  # a label the inventory does not know
        load_key(uow, carrier_id=card.id, key_label="NOPE", actor=officer)
    load_key(uow, carrier_id=card.id, key_label="MK-1", actor=officer)
    incident = report_carrier_loss(uow, carrier_id=card.id, description="遗失", actor=custodian)
    assert inventory["MK-1"].state == "rotation_scheduled" and inventory["TK-1"].state == "active"
    status = {(m.kind, m.target): m.status for m in measures_of(uow, incident_id=incident.id)}
    assert status[(MeasureKind.KEY_REVOKED, "MK-1")] is MeasureStatus.DONE
    assert status[(MeasureKind.KEY_ROTATION, "MK-1")] is MeasureStatus.PENDING
    record_findings(uow, incident_id=incident.id, cause="c", handling="h", actor=officer)
    inventory["MK-1"].rotated = True  # the security officer rotated it in the inventory
    close_incident(uow, incident_id=incident.id, actor=officer)
    status = {(m.kind, m.target): m.status for m in measures_of(uow, incident_id=incident.id)}
    assert status[(MeasureKind.KEY_ROTATION, "MK-1")] is MeasureStatus.DONE
    assert {k["label"] for k in bridge.list_keys(uow, region_code="110105")} == {"MK-1", "TK-1"}


def test_without_inventory_measures_wait_for_an_officer(uow, custodian, officer) -> None:
    if importlib.util.find_spec("sscard.security.inventory") is not None:
        pytest.skip("the key inventory exists")
    assert bridge.key_known(uow, "anything") is None
    outcome = bridge.revoke_key(uow, label="X", reason="r", actor=officer)
    assert not outcome.done and "by hand" in outcome.detail

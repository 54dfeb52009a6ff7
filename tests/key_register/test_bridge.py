"""The link to the security module's key inventory (KEY-9): revoke and rotate by inventory label."""

from __future__ import annotations

from sscard.key_register import bridge
from sscard.key_register.inventory import list_keys, rotate_key
from tests.key_register.factories import REGION, inventory_key


# rule KEY-9: the bridge revokes in the real inventory, and sees a scheduled rotation through
def test_revoke_and_rotation_through_the_inventory(uow, officer) -> None:
    label = inventory_key(uow, officer)
    assert bridge.key_known(uow, label) and not bridge.key_known(uow, "LK/NO-SUCH-KEY")
    assert bridge.revoke_key(uow, label=label, reason="载体遗失", actor=officer).done
    assert [k.state for k in list_keys(uow, label=label)] == ["revoked"]
    scheduled = bridge.schedule_rotation(uow, label=label, reason="载体遗失", actor=officer)
    assert not scheduled.done and not bridge.key_rotated(uow, label=label)
    rotate_key(uow, label=label, actor=officer)
    assert bridge.key_rotated(uow, label=label)
    listed = {k["label"]: k["state"] for k in bridge.list_keys(uow, region_code="110100")}  # city covers REGION
    assert listed[f"{label}@1"] == "revoked" and listed[f"{label}@2"] == "active"
    assert not [k for k in bridge.list_keys(uow, region_code="310000") if k["label"].startswith(label)]
    assert REGION.startswith("1101")


# rule KEY-9: when the inventory refuses, the measure stays for an officer to do by hand
def test_refusal_leaves_the_measure_pending(uow, officer) -> None:
    outcome = bridge.revoke_key(uow, label="LK/NO-SUCH-KEY", reason="x", actor=officer)
    assert not outcome.done and "KEY_NOT_FOUND" in outcome.detail and "by hand" in outcome.detail
    outcome = bridge.schedule_rotation(uow, label="LK/NO-SUCH-KEY", reason="x", actor=officer)
    assert not outcome.done and "by hand" in outcome.detail

"""Key carriers (KEY-5), PSAM deployments (KEY-8) and witnessed destruction (KEY-8)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sscard.audit import Actor
from sscard.audit.models import AuditEntry
from sscard.db.base import china_today
from sscard.key_register.carriers import (
    ReceiptLine,
    carriers_on_receipt,
    deploy_carrier,
    keys_on,
    load_key,
    receive_carrier,
    receive_receipt,
    record_carrier_use,
    recover_carrier,
    store_carrier,
    usage_log,
)
from sscard.key_register.destruction import request_destruction, sign_destruction, signatures_of
from sscard.key_register.errors import (
    CarrierExists,
    CarrierIllegalTransition,
    CarrierNotUsable,
    DestructionClosed,
    DuplicateSignature,
    KeysInvalid,
    NotPsam,
    StaffNotEligible,
)
from sscard.key_register.psam import current_deployment, deploy_psam, deployments_of, psam_register, recover_psam
from sscard.key_register.states import CarrierState, CarrierType
from sscard.staff.errors import OutsideRegion
from sscard.staff.roles import Role
from tests.key_register.factories import REGION, inventory_key, receive, staff_actor, terminal, unique
from tests.staff.factories import ensure_region

S = CarrierState


def _audit(uow, subject: str) -> list[AuditEntry]:
    return list(uow.session.scalars(select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.id)))


# rule KEY-5: one ministry delivery receipt may register several carriers, all or none
def test_one_receipt_several_carriers(uow, custodian) -> None:
    ensure_region(uow, REGION)
    receipt, on = unique("RC"), china_today() - timedelta(days=2)
    fields = {"region_code": REGION, "receipt_no": receipt, "received_on": on, "received_from": "人社部信息中心"}
    lines = [ReceiptLine(CarrierType.PSAM_CARD, unique("SN")) for _ in range(3)]
    lines.append(ReceiptLine(CarrierType.TRANSMISSION_KEY_CARD, unique("TK"), holder="张三"))
    cards = receive_receipt(uow, **fields, location="机要室", lines=lines, actor=custodian)
    assert [c.serial for c in cards] == [line.serial for line in lines]
    assert {c.receipt_no for c in cards} == {receipt} and cards[-1].holder == "张三"
    assert [c.id for c in carriers_on_receipt(uow, receipt_no=receipt)] == [c.id for c in cards]
    for card in cards:
        assert [e.action for e in _audit(uow, f"carrier:{card.id}")] == ["carrier.receive"]
    # the same receipt, one carrier more, registered later: the same number, date and sender are accepted
    late = receive_carrier(uow, carrier_type="psam_card", serial=unique("SN"), location="x", actor=custodian, **fields)
    assert late.receipt_no == receipt
    # a line listed twice, or a serial already registered, refuses the whole receipt
    twice = ReceiptLine(CarrierType.PSAM_CARD, unique("SN"))
    with pytest.raises(KeysInvalid):
        receive_receipt(
            uow, **{**fields, "receipt_no": unique("RC")}, location="x", lines=[twice, twice], actor=custodian
        )
    with pytest.raises(CarrierExists):
        receive_receipt(
            uow,
            **{**fields, "receipt_no": unique("RC")},
            location="x",
            lines=[ReceiptLine(CarrierType.PSAM_CARD, cards[0].serial)],
            actor=custodian,
        )
    with pytest.raises(KeysInvalid):
        receive_receipt(uow, **fields, location="x", lines=[], actor=custodian)


# rule KEY-5: registered on receipt from the ministry with receipt number, date and sender
def test_receive_with_receipt(uow, custodian) -> None:
    card = receive(uow, custodian, CarrierType.MASTER_KEY_CARD)
    assert card.state is S.RECEIVED and card.issuer == "人力资源和社会保障部" and card.holder == custodian.id
    [entry] = _audit(uow, f"carrier:{card.id}")
    assert entry.action == "carrier.receive" and card.receipt_no in entry.details
    with pytest.raises(CarrierExists):  # same type and serial
        receive_carrier(
            uow,
            carrier_type=card.carrier_type,
            serial=card.serial,
            region_code=REGION,
            receipt_no=unique("RC"),
            received_on=china_today(),
            received_from="人社部",
            location="x",
            actor=custodian,
        )
    with pytest.raises(CarrierExists):  # same receipt number with another date and sender: not that receipt
        receive_carrier(
            uow,
            carrier_type=CarrierType.KEY_MOTHER_CARD,
            serial=unique("SN"),
            region_code=REGION,
            receipt_no=card.receipt_no,
            received_on=china_today(),
            received_from="人社部",
            location="x",
            actor=custodian,
        )
    with pytest.raises(KeysInvalid):
        receive_carrier(
            uow,
            carrier_type=CarrierType.KEY_MOTHER_CARD,
            serial=unique("SN"),
            region_code=REGION,
            receipt_no=unique("RC"),
            received_on=china_today() + timedelta(days=2),
            received_from="人社部",
            location="x",
            actor=custodian,
        )


# rule KEY-5: every movement and every use is logged with who, where and why, and audited
def test_movements_and_uses_are_logged(uow, custodian) -> None:
    card = receive(uow, custodian, CarrierType.KEY_MOTHER_CARD)
    deploy_carrier(
        uow, carrier_id=card.id, holder=custodian.id, location="密钥管理室", purpose="发卡密钥分散", actor=custodian
    )
    record_carrier_use(uow, carrier_id=card.id, location="密钥管理室", purpose="为城市分散子密钥", actor=custodian)
    store_carrier(uow, carrier_id=card.id, location="保险柜B", purpose="使用完毕入柜", actor=custodian)
    record_carrier_use(uow, carrier_id=card.id, location="保险柜B", purpose="密钥仪式", actor=custodian, count=2)
    log = usage_log(uow, carrier_id=card.id)
    assert [e.kind for e in log] == ["receive", "deploy", "use", "store", "use"]
    assert all(e.used_by == custodian.id and e.location and e.purpose for e in log)
    assert card.usage_count == 3 and card.state is S.IN_CUSTODY and card.location == "保险柜B"
    actions = [e.action for e in _audit(uow, f"carrier:{card.id}")]
    assert actions == ["carrier.receive", "carrier.deploy", "carrier.use", "carrier.store", "carrier.use"]


# rule KEY-5: out-of-order steps are refused with a stable code; a lost carrier cannot be used
def test_illegal_steps_are_refused(uow, custodian) -> None:
    card = receive(uow, custodian, CarrierType.TRANSMISSION_KEY_CARD)
    with pytest.raises(CarrierNotUsable):
        record_carrier_use(uow, carrier_id=card.id, location="x", purpose="y", actor=custodian)
    with pytest.raises(CarrierIllegalTransition) as exc:
        recover_carrier(uow, carrier_id=card.id, location="x", purpose="y", actor=custodian)
    assert exc.value.code == "CARRIER_ILLEGAL_TRANSITION" and exc.value.from_state == "received"
    with pytest.raises(CarrierIllegalTransition):
        request_destruction(uow, carrier_id=card.id, method="剪角", place="x", reason="y", actor=custodian)
    with pytest.raises(KeysInvalid):
        deploy_carrier(uow, carrier_id=card.id, holder="", location="x", purpose="y", actor=custodian)


# rule KEY-9 (preparation): a carrier records the inventory labels of the keys it holds
def test_load_keys(uow, officer) -> None:
    card = receive(uow, officer, CarrierType.MASTER_KEY_CARD)
    master, transport = inventory_key(uow, officer), inventory_key(uow, officer, purpose="transport")
    load_key(uow, carrier_id=card.id, key_label=master, actor=officer)
    load_key(uow, carrier_id=card.id, key_label=master, actor=officer)  # idempotent
    load_key(uow, carrier_id=card.id, key_label=transport, actor=officer)
    assert keys_on(uow, carrier_id=card.id) == sorted([master, transport])
    with pytest.raises(KeysInvalid) as exc:  # a label the key inventory does not hold
        load_key(uow, carrier_id=card.id, key_label="MK-110105-01", actor=officer)
    assert exc.value.code == "KEYS_INVALID"


# rule KEY-8: a PSAM deployment records terminal or institution, physical form, environment and mode
def test_psam_deployment_and_recovery(uow, custodian) -> None:
    card = receive(uow, custodian)
    tid = terminal(uow)
    with pytest.raises(KeysInvalid):  # bound to nothing
        deploy_psam(
            uow, carrier_id=card.id, physical_form="plug_in", environment="柜台", usage_mode="attended", actor=custodian
        )
    with pytest.raises(KeysInvalid):  # unknown form
        deploy_psam(
            uow,
            carrier_id=card.id,
            terminal_id=tid,
            physical_form="usb",
            environment="柜台",
            usage_mode="attended",
            actor=custodian,
        )
    deployment = deploy_psam(
        uow,
        carrier_id=card.id,
        terminal_id=tid,
        institution="测试大药房",
        physical_form="plug_in",
        environment="药房收银台内侧，终端加锁，监控覆盖",
        usage_mode="attended",
        actor=custodian,
    )
    assert card.state is S.IN_SERVICE and current_deployment(uow, carrier_id=card.id) is deployment
    [entry] = [e for e in psam_register(uow, region_code=REGION) if e.carrier.id == card.id]
    assert entry.deployment is deployment
    record_carrier_use(uow, carrier_id=card.id, location=tid, purpose="日结交易计数", actor=custodian, count=120)
    assert card.usage_count == 120
    recover_psam(uow, carrier_id=card.id, location="机要室", reason="终端更换", actor=custodian)
    assert card.state is S.RECOVERED and current_deployment(uow, carrier_id=card.id) is None
    assert deployments_of(uow, carrier_id=card.id)[0].end_reason == "recovered"
    master = receive(uow, custodian, CarrierType.MASTER_KEY_CARD)
    with pytest.raises(NotPsam):
        deploy_psam(
            uow,
            carrier_id=master.id,
            terminal_id=tid,
            physical_form="plug_in",
            environment="x",
            usage_mode="attended",
            actor=custodian,
        )


# rule KEY-8: a PSAM goes only into a terminal of its own region
def test_psam_terminal_outside_region(uow, custodian) -> None:
    card = receive(uow, custodian)
    far = terminal(uow, region_code="310104")
    with pytest.raises(KeysInvalid):
        deploy_psam(
            uow,
            carrier_id=card.id,
            terminal_id=far,
            physical_form="plug_in",
            environment="x",
            usage_mode="attended",
            actor=custodian,
        )


# rule KEY-8: destruction is witnessed: two signatures by two different people
def test_witnessed_destruction(uow, custodian, officer) -> None:
    card = receive(uow, custodian)
    store_carrier(uow, carrier_id=card.id, location="保险柜", purpose="待销毁", actor=custodian)
    record = request_destruction(
        uow, carrier_id=card.id, method="物理剪毁", place="机要室", reason="芯片损坏", actor=custodian
    )
    with pytest.raises(DestructionClosed):  # one open destruction per carrier
        request_destruction(uow, carrier_id=card.id, method="x", place="y", reason="z", actor=custodian)
    # rule KEY-8 (issue 17 item 5): the person who recorded the destruction is not one of its witnesses
    with pytest.raises(StaffNotEligible):
        sign_destruction(uow, destruction_id=record.id, actor=custodian)
    witness = staff_actor(uow, Role.KEY_CUSTODIAN)
    sign_destruction(uow, destruction_id=record.id, actor=witness)
    with pytest.raises(DuplicateSignature) as exc:
        sign_destruction(uow, destruction_id=record.id, actor=witness)
    assert exc.value.code == "SIGNATURE_DUPLICATE" and card.state is S.IN_CUSTODY
    clerk = staff_actor(uow, Role.COUNTER_CLERK)
    with pytest.raises(StaffNotEligible):
        sign_destruction(uow, destruction_id=record.id, actor=clerk)
    with pytest.raises(StaffNotEligible):
        sign_destruction(uow, destruction_id=record.id, actor=Actor.cli_operator())
    sign_destruction(uow, destruction_id=record.id, actor=officer)
    assert card.state is S.DESTROYED and record.completed_at is not None
    assert {s.signer for s in signatures_of(uow, destruction_id=record.id)} == {witness.id, officer.id}
    with pytest.raises(DestructionClosed):
        sign_destruction(uow, destruction_id=record.id, actor=staff_actor(uow))


# rule CH-2: nobody acts on another region's carriers
def test_outside_region(uow, custodian, stranger) -> None:
    card = receive(uow, custodian)
    with pytest.raises(OutsideRegion):
        store_carrier(uow, carrier_id=card.id, location="x", purpose="y", actor=stranger)
    with pytest.raises(OutsideRegion):
        record_carrier_use(uow, carrier_id=card.id, location="x", purpose="y", actor=stranger)
    with pytest.raises(OutsideRegion):
        receive(uow, stranger, region_code=REGION)

"""rotate-data-key: every protected column re-encrypted in batches, resumable, old versions readable meanwhile."""

from __future__ import annotations

import secrets
from datetime import date

import pytest
from sqlalchemy import LargeBinary, select

from sscard.db import registry
from sscard.db.base import utcnow
from sscard.db.session import unit_of_work
from sscard.identity.protected import EMAIL, ID_NUMBER, NAME, PHONE, person_row
from sscard.identity.protected_columns import PROTECTED_COLUMNS
from sscard.key_register import rotation
from sscard.key_register.models.module_keys import DataKeyRotation, DataKeyRotationProgress
from sscard.notify.outbox import BODY
from sscard.people.models import Person
from sscard.security_module.errors import KeyInputInvalid, KeyRetired
from sscard.security_module.hsm import HierarchyModule
from tests.security_module.conftest import staff

OFFICER = staff("officer", role="security_officer")


def test_every_encrypted_column_is_registered() -> None:
    # rule KEY-3 — no protected column can be missed by a data-key rotation
    registered = {(c.table, c.column) for c in PROTECTED_COLUMNS}
    found = {
        (table.name, col.name)
        for table in registry.metadata.tables.values()
        for col in table.columns
        if col.name.endswith("_enc") and isinstance(col.type, LargeBinary)
    }
    assert found == registered


def add_people(engine, count: int) -> list[str]:
    from sscard.notify.models import MessageState, NotifyChannel, OutboxMessage

    ids = [f"44030419850709{i:03d}X" for i in range(count)]
    with unit_of_work(engine) as uow:
        for i, number in enumerate(ids):
            bidx = ID_NUMBER.index(number)  # the row's identity: every sealed value is bound to it
            uow.session.add(Person(
                id_number_enc=ID_NUMBER.seal(number, row=person_row("id_number_enc", bidx)), id_number_bidx=bidx,
                name_enc=NAME.seal(f"人{i}", row=person_row("name_enc", bidx)), name_bidx=NAME.index(f"人{i}"),
                gender="M", birth_date=date(1985, 7, 9), region_code="440304",
                phone_enc=PHONE.seal(f"1380013{i:04d}", row=person_row("phone_enc", bidx)) if i % 2 else None,
                email_enc=EMAIL.seal(f"p{i}@example.com", row=person_row("email_enc", bidx)),
            ))  # fmt: skip
        for channel, recipient in ((NotifyChannel.SMS, PHONE.seal("13800138000")), (NotifyChannel.DEPARTMENT, None)):
            uow.session.add(OutboxMessage(
                uid=secrets.token_hex(16), channel=channel, topic="t", recipient_enc=recipient,
                recipient_masked="x", subject="s", body_enc=BODY.seal("正文"), state=MessageState.PENDING,
                attempts=0, next_attempt_at=utcnow(),
            ))  # fmt: skip
    return ids


def versions(module: HierarchyModule, engine) -> set[int]:
    with unit_of_work(engine) as uow:
        tokens = [t for row in uow.session.execute(select(Person.id_number_enc, Person.phone_enc)) for t in row if t]
    return {module.field_key_version(t) for t in tokens}


def run_all(engine, rotation_id: int, batch_size: int = 7) -> int:
    resealed = 0
    for name in rotation.tables():
        done = False
        while not done:
            with unit_of_work(engine) as uow:
                result = rotation.rotate_batch(uow, rotation_id=rotation_id, table_name=name, batch_size=batch_size)
            resealed, done = resealed + result.resealed, result.done
    return resealed


# rule KEY-3: data-key rotation re-encrypts every protected field, resumes after a stop, then retires the old key
def test_rotation_resumes_and_retires(isolated_db, installed: HierarchyModule) -> None:
    engine = isolated_db.engine
    ids = add_people(engine, 23)
    old_token = ID_NUMBER.seal(ids[0])
    with unit_of_work(engine) as uow:
        first = rotation.begin_rotation(uow, actor=OFFICER).id
    with unit_of_work(engine) as uow:  # one batch, then the run "dies"
        assert rotation.rotate_batch(uow, rotation_id=first, table_name="person", batch_size=10).rows == 10
    assert versions(installed, engine) == {1, 2}  # both readable during the rotation
    with unit_of_work(engine) as uow:
        assert uow.session.scalars(select(Person).order_by(Person.id)).all()[-1].id_number == ids[-1]
        with pytest.raises(KeyInputInvalid):  # not finished: refused, nothing retired
            rotation.finish_rotation(uow, rotation_id=first, actor=OFFICER)
    with unit_of_work(engine) as uow:
        assert rotation.begin_rotation(uow, actor=OFFICER).id == first  # resumed, no third version
        assert rotation.remaining(uow, rotation_id=first, table_name="person") == 13
    # 13 rows * (id, name, e-mail, half the phones) + 2 bodies + 1 recipient
    assert run_all(engine, first) == 13 * 3 + 6 + 2 + 1
    with unit_of_work(engine) as uow:
        finished = rotation.finish_rotation(uow, rotation_id=first, actor=OFFICER)
    assert finished.state == "finished" and installed.describe("DATA").current == 2
    assert versions(installed, engine) == {2}
    with pytest.raises(KeyRetired):
        ID_NUMBER.open(old_token)
    with unit_of_work(engine) as uow:
        people = uow.session.scalars(select(Person).order_by(Person.id)).all()
        assert [p.id_number for p in people] == ids
        assert uow.session.scalar(select(Person).where(Person.id_number_bidx == ID_NUMBER.index(ids[5]))) is not None
        progress = uow.session.scalars(select(DataKeyRotationProgress)).all()
        assert all(p.done for p in progress) and sum(p.rows_done for p in progress if p.table_name == "person") == 23
        second = rotation.begin_rotation(uow, actor=OFFICER)
        assert (second.from_version, second.to_version) == (2, 3)
        assert uow.session.scalar(select(DataKeyRotation).where(DataKeyRotation.id == first)).state == "finished"

"""GB/T 39786-2021 level 3, integrity of important data at rest, checked on read (issue 27 item 2a).

A person's ID number, name, phone and e-mail and an employer's contact are sealed bound to their row
(identity/protected.py ``RowBinding``): someone who can write the database but holds no key cannot move
a sealed value to another row or column, nor alter it, without the read failing with
PROTECTED_DATA_INVALID and a ``protected_data.integrity_failure`` security log line.
"""

from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa

from sscard.people.models import Person
from sscard.security_module.errors import ProtectedDataInvalid
from tests.people.factories import add_test_person, new_id_number, new_phone


def _raw_update(uow, table: str, row_id: int, **values: bytes) -> None:
    """What a database writer without the keys can do: change the stored bytes under the ORM's feet."""
    sets = ", ".join(f"{column} = :{column}" for column in values)
    uow.session.execute(sa.text(f"UPDATE {table} SET {sets} WHERE id = :id"), {"id": row_id, **values})  # noqa: S608
    uow.session.expire_all()


def _two_people(uow) -> tuple[Person, Person]:
    a = add_test_person(uow, name="王" + secrets.choice("明华强伟"), phone=new_phone(), email="a@example.com")
    b = add_test_person(uow, name="李" + secrets.choice("芳娜静敏"), phone=new_phone(), email="b@example.com")
    return a, b


# rule ID-5: a sealed name copied from person A's row into person B's is detected on read (GB/T 39786
# integrity at rest), with a clear error and a security log line naming the table and column
def test_name_copied_from_another_row_is_detected(uow, monkeypatch) -> None:
    from sscard.identity import protected
    from sscard.people.service import get_person_or_raise, person_read

    a, b = _two_people(uow)
    a_name, b_id = a.name, b.id
    _raw_update(uow, "person", b_id, name_enc=bytes(a.name_enc))
    b = get_person_or_raise(uow, b_id)
    # The module's own logger, recorded directly: structlog's capture_logs misses a logger an earlier test
    # already used (loggers are cached on first use), which made this test order-dependent.
    logs: list[dict] = []
    monkeypatch.setattr(protected.log, "warning", lambda event, **kw: logs.append({"event": event, **kw}))
    with pytest.raises(ProtectedDataInvalid) as caught:
        person_read(b)
    assert caught.value.code == "PROTECTED_DATA_INVALID" and "person.name_enc" in str(caught.value)
    assert a_name not in str(caught.value)
    [event] = [e for e in logs if e["event"] == "protected_data.integrity_failure"]
    assert (event["table"], event["column"]) == ("person", "name_enc")
    assert get_person_or_raise(uow, a.id).name == a_name  # A's own row still reads


# rule ID-5: every sealed column of a person is bound: a citizen ID, phone or e-mail copied from another
# row fails too, and so does a sealed value moved to another column of the same row
@pytest.mark.parametrize("column", ["id_number_enc", "phone_enc", "email_enc"])
def test_every_person_column_is_bound_to_its_row(uow, column: str) -> None:
    a, b = _two_people(uow)
    field = column.removesuffix("_enc")
    _raw_update(uow, "person", b.id, **{column: bytes(getattr(a, column))})
    with pytest.raises(ProtectedDataInvalid):
        getattr(uow.session.get(Person, b.id), field)
    c = add_test_person(uow, phone=new_phone(), email="c@example.com")
    _raw_update(uow, "person", c.id, phone_enc=bytes(c.email_enc))  # same row, other column
    with pytest.raises(ProtectedDataInvalid):
        _ = uow.session.get(Person, c.id).phone


# rule ID-5: one altered byte of a sealed value fails its tag; the whole row copied (ID, name, phone and
# e-mail together) cannot be opened under the other row's identity either
def test_altered_or_wholesale_copied_values_fail(uow) -> None:
    a, b = _two_people(uow)
    token = bytearray(a.name_enc)
    token[-1] ^= 0x01
    _raw_update(uow, "person", a.id, name_enc=bytes(token))
    with pytest.raises(ProtectedDataInvalid):
        _ = uow.session.get(Person, a.id).name
    c = add_test_person(uow, phone=new_phone(), email="c@example.com")
    _raw_update(uow, "person", c.id, **{k: bytes(getattr(b, k)) for k in ("id_number_enc", "name_enc", "phone_enc")})
    c = uow.session.get(Person, c.id)
    for field in ("id_number", "name", "phone"):
        with pytest.raises(ProtectedDataInvalid):
            getattr(c, field)


# rule ID-5: a correction of the citizen ID changes the row's identity: every sealed value of the row is
# bound again, and still reads
def test_id_correction_rebinds_the_row(uow) -> None:
    from sscard.record_corrections.service import approve_id_correction, request_id_correction
    from tests.people.factories import CLERK
    from tests.staff.factories import ensure_region

    ensure_region(uow, "110000")
    person = add_test_person(uow, name="赵敏", phone=new_phone(), email="zm@example.com")
    old_bidx, phone = bytes(person.id_number_bidx), person.phone
    new_number = new_id_number(region="110105")
    correction = request_id_correction(
        uow, person_id=person.id, new_id_number=new_number, document_type="resident_id_card",
        document_number=new_number, reason="typo at registration", actor=CLERK,
    )  # fmt: skip
    supervisor = CLERK.__class__(kind="staff", id="sup1", channel=CLERK.channel, role="counter_supervisor",
                                 region="110000")  # fmt: skip
    approve_id_correction(uow, correction_id=correction.id, actor=supervisor)
    uow.session.expire_all()
    person = uow.session.get(Person, person.id)
    assert bytes(person.id_number_bidx) != old_bidx
    assert (person.id_number, person.name, person.phone, person.email) == (new_number, "赵敏", phone, "zm@example.com")


# rule ID-5: an employer's contact (name, phone) is bound to the employer's row too
def test_employer_contact_bound_to_its_row(uow) -> None:
    from sscard.employers.models import Employer
    from sscard.identity.protected import NAME, PHONE, employer_row
    from tests.employers.factories import add_test_employer

    a = add_test_employer(uow, contact_name="钱经理", contact_phone=new_phone())
    b = add_test_employer(uow, contact_name="孙经理", contact_phone=new_phone())
    assert NAME.open(a.contact_name_enc, row=employer_row("contact_name_enc", a.uscc)) == "钱经理"
    _raw_update(uow, "employer", b.id, contact_phone_enc=bytes(a.contact_phone_enc))
    b = uow.session.get(Employer, b.id)
    with pytest.raises(ProtectedDataInvalid):
        PHONE.open(b.contact_phone_enc, row=employer_row("contact_phone_enc", b.uscc))


def _pg_url() -> str:
    import os

    from tests.conftest import PG_URL, _pg_reachable

    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    return PG_URL


# rule ID-5 (migration 0015): rows sealed before row binding are re-sealed bound on upgrade (and read
# bound afterwards, no longer unbound), unbound again on downgrade
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0015_binds_existing_rows(backend, tmp_path) -> None:
    from sscard.db import migrate
    from sscard.db.session import build_engine
    from sscard.identity.protected import EMAIL, ID_NUMBER, NAME, PHONE, employer_row, person_row
    from tests.employers.factories import new_uscc

    if backend == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'm.db'}", ""
    else:
        url, schema = _pg_url(), f"m_{secrets.token_hex(5)}"
    migrate.upgrade(url, schema, revision="0013_sealed_documents")
    engine = build_engine(url, schema=schema)
    people = [(new_id_number(region="110105"), f"测试{chr(0x4E00 + i)}", new_phone() if i % 2 else None)
              for i in range(25)]  # fmt: skip
    uscc = new_uscc()
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO region (code, name_zh, name_en, level, created_at) "
                                 "VALUES ('110000', '北京', 'Beijing', 'province', CURRENT_TIMESTAMP)"))  # fmt: skip
            conn.execute(
                sa.text(
                    "INSERT INTO person (id, id_number_enc, id_number_bidx, name_enc, name_bidx, gender, birth_date, "
                    "region_code, phone_enc, email_enc, status, created_at, updated_at) VALUES (:id, :enc, :bidx, "
                    ":name, :nbidx, 'M', '1980-01-01', '110105', :phone, :email, 'employed', CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP)"
                ),
                [{"id": i + 1, "enc": ID_NUMBER.seal(n), "bidx": ID_NUMBER.index(n), "name": NAME.seal(name),
                  "nbidx": NAME.index(name), "phone": PHONE.seal(phone) if phone else None,
                  "email": EMAIL.seal(f"p{i}@example.com")} for i, (n, name, phone) in enumerate(people)],
            )  # fmt: skip
            conn.execute(
                sa.text("INSERT INTO employer (id, uscc, name, region_code, contact_name_enc, created_at) "
                        "VALUES (1, :uscc, '测试有限公司', '110000', :contact, CURRENT_TIMESTAMP)"),
                {"uscc": uscc, "contact": NAME.seal("钱经理")},
            )  # fmt: skip
        engine.dispose()
        migrate.upgrade(url, schema)
        engine = build_engine(url, schema=schema)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id_number_enc, id_number_bidx, name_enc, phone_enc, email_enc "
                                        "FROM person ORDER BY id")).all()  # fmt: skip
            for i, ((number, name, phone), row) in enumerate(zip(people, rows, strict=True)):
                bidx = bytes(row.id_number_bidx)
                assert ID_NUMBER.open(bytes(row.id_number_enc), row=person_row("id_number_enc", bidx)) == number
                assert NAME.open(bytes(row.name_enc), row=person_row("name_enc", bidx)) == name
                assert EMAIL.open(bytes(row.email_enc), row=person_row("email_enc", bidx)) == f"p{i}@example.com"
                assert (row.phone_enc and PHONE.open(bytes(row.phone_enc), row=person_row("phone_enc", bidx))) == phone
                with pytest.raises(ProtectedDataInvalid):  # no longer opens unbound
                    NAME.open(bytes(row.name_enc))
            contact = conn.execute(sa.text("SELECT contact_name_enc FROM employer")).scalar_one()
            assert NAME.open(bytes(contact), row=employer_row("contact_name_enc", uscc)) == "钱经理"
        engine.dispose()
        migrate.downgrade(url, schema, revision="0013_sealed_documents")
        engine = build_engine(url, schema=schema)
        with engine.connect() as conn:
            names = [NAME.open(bytes(t)) for t in conn.execute(sa.text("SELECT name_enc FROM person ORDER BY id"))
                     .scalars()]  # fmt: skip
            assert names == [name for _, name, _ in people]
    finally:
        engine.dispose()
        if schema:
            admin = build_engine(url)
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


# rule ID-5 / CARD-7: a card's personalisation record (name and citizen ID as printed) is bound to its card:
# the sealed values copied from another card's record are detected on the counter's check, not matched
def test_personalisation_record_bound_to_its_card(uow) -> None:
    from sscard.cards.models import CardPersonalisation
    from sscard.cards.personalisation import check_presented_card, personalisation_of
    from sscard.cards.service import issue_card
    from tests.people.factories import CLERK

    a_number = new_id_number(region="110105")
    a = add_test_person(uow, id_number=a_number, name="周一")
    b = add_test_person(uow, name="吴二")
    a_card = issue_card(uow, person_id=a.id, actor=CLERK)
    b_card = issue_card(uow, person_id=b.id, actor=CLERK)
    a_record = personalisation_of(uow, card_id=a_card.id)
    b_record = personalisation_of(uow, card_id=b_card.id)
    assert a_record is not None and b_record is not None
    moved = {"id_number_enc": bytes(a_record.id_number_enc), "name_enc": bytes(a_record.name_enc)}
    _raw_update(uow, "card_personalisation", b_record.id, **moved)
    b_person = uow.session.get(Person, b.id)
    with pytest.raises(ProtectedDataInvalid):
        check_presented_card(uow, card_no=b_card.card_no, presented={"id_number": a_number, "name": "周一"},
                             person=b_person, actor=CLERK)  # fmt: skip
    assert uow.session.get(CardPersonalisation, a_record.id) is not None
    own = check_presented_card(uow, card_no=a_card.card_no, presented={"id_number": a_number}, person=a, actor=CLERK)
    assert own.matches  # A's own record still reads

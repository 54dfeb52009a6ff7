"""persons' names encrypted at rest; bank clerks carry their bank; demo passwords marked

``person.name`` becomes ``person.name_enc`` (sealed by the security module, as the ID number) and
``person.name_bidx`` (keyed blind index for exact search): name, gender, birth date and region in clear
narrowed a citizen ID to about 500 candidates (ID-5). Existing names are sealed here, in batches, on
SQLite and PostgreSQL alike; the clear column is then dropped. The downgrade opens them again.

``staff_account.bank_code``: a bank outlet's staff act only on cards issued through their bank
(PIN-6, FIN-3). Existing bank clerk accounts get no bank: they act on no card until an administrator
recreates them with one (fail closed).

``staff_account.demo_password``: true when the account's password is the published demo password;
production refuses to start while an active account has it (startup.py). Existing accounts are
verified here once against that password (one Argon2id verification each, about 30 ms here).

Revision ID: 0004_people_at_rest
Revises: 0003_bigint_ids
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_people_at_rest"
down_revision: str | None = "0003_bigint_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _mark_demo_passwords() -> None:
    from sscard.demo.data import DEMO_STAFF_PASSWORD
    from sscard.staff.passwords import verify_password

    staff = sa.table("staff_account", sa.column("id"), sa.column("password_hash"), sa.column("demo_password"))
    bind = op.get_bind()
    marked = [
        row.id
        for row in bind.execute(sa.select(staff.c.id, staff.c.password_hash))
        if verify_password(row.password_hash, DEMO_STAFF_PASSWORD)
    ]
    if marked:
        bind.execute(sa.update(staff).where(staff.c.id.in_(marked)).values(demo_password=True))


BATCH = 1000


def _seal_names() -> None:
    """Seal every person's clear name into name_enc / name_bidx, BATCH rows per round trip."""
    from sscard.identity.protected import NAME
    from sscard.people.validation import name_index_key

    person = sa.table("person", sa.column("id"), sa.column("name"), sa.column("name_enc"), sa.column("name_bidx"))
    bind = op.get_bind()
    update = (
        sa.update(person)
        .where(person.c.id == sa.bindparam("pid"))
        .values(name_enc=sa.bindparam("enc"), name_bidx=sa.bindparam("bidx"))
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(person.c.id, person.c.name).where(person.c.id > last).order_by(person.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            update,
            [{"pid": r.id, "enc": NAME.seal(r.name), "bidx": NAME.index(name_index_key(r.name))} for r in rows],
        )
        last = rows[-1].id


def _open_names() -> None:
    from sscard.identity.protected import NAME

    person = sa.table("person", sa.column("id"), sa.column("name"), sa.column("name_enc"))
    bind = op.get_bind()
    rows = bind.execute(sa.select(person.c.id, person.c.name_enc)).all()
    if rows:
        stmt = sa.update(person).where(person.c.id == sa.bindparam("pid")).values(name=sa.bindparam("clear"))
        bind.execute(stmt, [{"pid": r.id, "clear": NAME.open(r.name_enc)} for r in rows])


def upgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("name_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("name_bidx", sa.LargeBinary(length=32), nullable=True))
    _seal_names()
    with op.batch_alter_table("person") as batch:
        batch.alter_column("name_enc", existing_type=sa.LargeBinary(), nullable=False)
        batch.alter_column("name_bidx", existing_type=sa.LargeBinary(length=32), nullable=False)
        batch.create_index(batch.f("ix_person_name_bidx"), ["name_bidx"], unique=False)
        batch.drop_column("name")
    with op.batch_alter_table("staff_account") as batch:
        batch.add_column(sa.Column("bank_code", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("demo_password", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_index(batch.f("ix_staff_account_demo_password"), ["demo_password"], unique=False)
    _mark_demo_passwords()


def downgrade() -> None:
    with op.batch_alter_table("staff_account") as batch:
        batch.drop_index(batch.f("ix_staff_account_demo_password"))
        batch.drop_column("demo_password")
        batch.drop_column("bank_code")
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("name", sa.String(length=64), nullable=True))
    _open_names()
    with op.batch_alter_table("person") as batch:
        batch.alter_column("name", existing_type=sa.String(length=64), nullable=False)
        batch.drop_index(batch.f("ix_person_name_bidx"))
        batch.drop_column("name_bidx")
        batch.drop_column("name_enc")

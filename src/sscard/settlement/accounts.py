"""The accounts a settlement moves: the holder's medical personal account and the institution's clearing account."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, select

from sscard.db.session import UnitOfWork
from sscard.ledger.models import AccountKind, Institution, LedgerAccount
from sscard.ledger.service import ensure_institution, open_account

_INST = cast(Table, Institution.__table__)
_ACC = cast(Table, LedgerAccount.__table__)
_FIND_INST = (
    select(_INST.c.id, _ACC.c.id.label("account_id"))
    .outerjoin(_ACC, (_ACC.c.institution_id == _INST.c.id) & (_ACC.c.kind == AccountKind.SETTLEMENT_CLEARING.value))
    .where(_INST.c.region_code == bindparam("region_code"), _INST.c.name == bindparam("name"))
)
_LOCK_MEDICAL = (
    select(_ACC.c.id, _ACC.c.balance_fen)
    .where(_ACC.c.kind == AccountKind.MEDICAL_PERSONAL.value, _ACC.c.person_id == bindparam("person_id"))
    .with_for_update()
)
_LOCK_ID = select(_ACC.c.id, _ACC.c.balance_fen).where(_ACC.c.id == bindparam("account_id")).with_for_update()


def clearing_account_of(uow: UnitOfWork, *, region_code: str, name: str, institution_type: str) -> tuple[int, int]:
    """(institution id, its ``settlement_clearing`` account id), both made on the institution's first use."""
    params = {"region_code": region_code, "name": name}
    row = uow.session.execute(_FIND_INST, params).one_or_none()
    if row is not None and row.account_id is not None:
        return int(row.id), int(row.account_id)
    institution_id = (
        int(row.id)
        if row is not None
        else ensure_institution(uow, region_code=region_code, name=name, institution_type=institution_type)
    )
    account = open_account(
        uow, kind=AccountKind.SETTLEMENT_CLEARING.value, region_code=region_code, institution_id=institution_id
    )
    return institution_id, account.id


def lock_medical_account(uow: UnitOfWork, *, person_id: int) -> tuple[int, int] | None:
    """(account id, balance) of the person's medical personal account, row-locked until commit; None if
    the person has none (never credited)."""
    row = uow.session.execute(_LOCK_MEDICAL, {"person_id": person_id}).one_or_none()
    return None if row is None else (int(row.id), int(row.balance_fen))


def lock_account(uow: UnitOfWork, account_id: int) -> int:
    """Row-lock an account until commit; its balance as locked."""
    return int(uow.session.execute(_LOCK_ID, {"account_id": account_id}).one().balance_fen)

"""INS-5: the 12345 hotline's automatic voice query: no password, non-sensitive facts only (seed 004).

What a caller who knows an ID number may hear: the state of the holder's cards, whether
contributions are declared up to last month, and the last month declared. Never a name, a phone, an
address, an amount (no base, no part, no balance), an employer or a full card number: anyone who
knows a citizen ID can call, so the answer tells only what an agency's voice menu tells (参保缴费是否
正常、缴至何月) and sends the caller to the portal or a counter for the rest. ``unknown`` means no
insurance record at all — said honestly, never invented. An unregistered number gets the same shape
of answer (no cards, ``unknown``), and every query is audited as a disclosure (CH-4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sscard.audit import Actor, Channel, record_event
from sscard.cards.errors import LossReportInvalid
from sscard.cards.lifecycle import get_card
from sscard.cards.numbers import mask_card_no
from sscard.cards.service import list_cards_of_person
from sscard.cards.states import CardState
from sscard.db.base import china_date, utcnow
from sscard.db.session import UnitOfWork
from sscard.identity import mask_id_number, parse_citizen_id
from sscard.insurance.accounts.records import contribution_status
from sscard.people.service import find_person_by_id_number, person_subject

VOICE_CALLER = Actor(kind="caller", id="hotline-12345-ivr", channel=Channel.HOTLINE, role="caller")
MAX_CARDS = 5

STATE_ZH = {
    CardState.APPLIED: "已申领，正在制卡",
    CardState.ISSUED: "已制卡，尚未激活，请到社保卡服务窗口激活",
    CardState.ACTIVE: "正常使用",
    CardState.LOSS_REPORTED: "已临时挂失",
    CardState.LOST: "已正式挂失",
    CardState.REPLACED: "已补换，旧卡停用",
    CardState.CANCELLED: "已注销",
}
CONTRIBUTIONS_UNKNOWN = "unknown"
CONTRIBUTIONS_NOTE_ZH = "未查询到参保缴费记录，请登录网上查询系统或咨询参保地经办机构。"
_NOTE_ZH = {
    "yes": "社会保险费已缴至{month}，缴费正常。缴费明细请登录网上查询系统查询。",
    "no": "截至上月的社会保险费尚未足额申报，最近缴费月份：{month}。详情请登录网上查询系统或咨询参保地经办机构。",
}


@dataclass(frozen=True)
class VoiceCard:
    card_no_masked: str
    card_type: str
    state: str
    state_zh: str


@dataclass(frozen=True)
class VoiceAnswer:
    cards: list[VoiceCard] = field(default_factory=list)
    # "yes" | "no" | "unknown" (no insurance record at all, INS-3).
    contributions_up_to_date: str = CONTRIBUTIONS_UNKNOWN
    contributions_note_zh: str = CONTRIBUTIONS_NOTE_ZH
    # The newest month declared, "YYYY-MM" (None: none); no amount, no employer.
    contributions_paid_through: str | None = None
    as_of: datetime = field(default_factory=utcnow)


def _one_number(id_number: str | None, ss_number: str | None) -> str:

    given = [n.strip() for n in (id_number, ss_number) if n and n.strip()]
    if not given:
        raise LossReportInvalid("give id_number or ss_number")
    numbers = {parse_citizen_id(n).number for n in given}  # ID-1: the same number; ID_* codes when invalid
    if len(numbers) > 1:
        raise LossReportInvalid("id_number and ss_number differ; give one of them")
    return numbers.pop()


def answer_voice_query(
    uow: UnitOfWork,
    *,
    id_number: str | None = None,
    ss_number: str | None = None,
    actor: Actor = VOICE_CALLER,
    within: Callable[[str], bool] | None = None,
    reads: UnitOfWork | None = None,
) -> VoiceAnswer:
    """The non-sensitive facts for one number: card states and the contribution status (INS-5).

    A person outside ``within`` (the operator's region, CH-2) is answered as not registered. The facts
    are read in ``reads`` (a read-only unit of work, the replica's, db/replica.py) when given; what
    decides or writes (a lapsed loss report expired, the audit entry) runs in ``uow``, the primary.
    """
    number = _one_number(id_number, ss_number)
    now = utcnow()
    reads = reads or uow
    person = find_person_by_id_number(reads, number)
    if person is not None and within is not None and not within(person.region_code):
        person = None
    cards: list[VoiceCard] = []
    if person is not None:
        for listed in list_cards_of_person(reads, person_id=person.id)[:MAX_CARDS]:
            # get_card expires a lapsed provisional loss report: a decision, so on the primary
            card = (get_card(uow, listed.card_no) or listed) if listed.state is CardState.LOSS_REPORTED else listed
            cards.append(
                VoiceCard(mask_card_no(card.card_no), card.card_type.value, card.state.value, STATE_ZH[card.state])
            )
    status, through = CONTRIBUTIONS_UNKNOWN, None
    if person is not None:
        found = contribution_status(reads, person_id=person.id, today=china_date(now))
        status, through = found.up_to_date, (found.paid_through.strftime("%Y-%m") if found.paid_through else None)
    record_event(
        uow,
        actor=actor,
        action="hotline.voice_query",
        subject=person_subject(person.id) if person is not None else f"id:{mask_id_number(number)}",
        result="ok" if person is not None else "not_registered",
        details={"cards": len(cards), "contributions": status, "paid_through": through},
    )
    note = _NOTE_ZH[status].format(month=_month_zh(through)) if status in _NOTE_ZH else CONTRIBUTIONS_NOTE_ZH
    return VoiceAnswer(
        cards=cards,
        contributions_up_to_date=status,
        contributions_note_zh=note,
        contributions_paid_through=through,
        as_of=now,
    )


def _month_zh(month: str | None) -> str:
    return f"{month[:4]}年{int(month[5:])}月" if month else "无"

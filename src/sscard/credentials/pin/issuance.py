"""The issuance notice (PIN-12, seed 003): tell the new card's holder the initial PIN rule, never the PIN.

When a card is issued (a first card or a replacement), the holder is told on the phone and e-mail on
file how the initial PIN of their region and card type is formed, and that it must be changed at the
first use (at a bank outlet, a designated medical institution's terminal, a kiosk, the telephone
service or a counter: PIN-4). The message describes the rule in words only: it carries no digit of the
initial PIN, not even for the fixed rule, so that a message read by someone else (a shared phone, a
forwarded e-mail) gives nothing away that the card alone would not.

Queued through the outbox in the caller's transaction (sent after commit) and audited on the card.
"""

from __future__ import annotations

from sscard.audit import Actor
from sscard.cards.lifecycle import audit_card
from sscard.cards.models import Card
from sscard.cards.numbers import mask_card_no
from sscard.db.session import UnitOfWork
from sscard.notify import notify_person
from sscard.people.models import Person
from sscard.people.service import get_person_or_raise
from sscard.policy.schemas import InitialPinRule
from sscard.policy.service import get_effective_policy

TOPIC = "card.issued"

_RULE_ZH: dict[InitialPinRule, str] = {
    InitialPinRule.FIXED_123456: "本地区统一公布的六位初始密码（可向社保经办机构或12345热线查询）",
    InitialPinRule.ID_LAST6: "您本人公民身份号码的后六位（末位为X的按0输入）",
    InitialPinRule.BIRTH_YYMMDD: "您出生日期的年、月、日各取两位组成的六位数字（年月日顺序）",
}
_RULE_EN: dict[InitialPinRule, str] = {
    InitialPinRule.FIXED_123456: "the six-digit initial PIN published for your region (ask the agency or call 12345)",
    InitialPinRule.ID_LAST6: "the last six characters of your citizen ID number (an X is entered as 0)",
    InitialPinRule.BIRTH_YYMMDD: "your birth date as six digits: two each for year, month and day",
}


def issuance_notice_text(*, card_no: str, rule: InitialPinRule | str) -> tuple[str, str]:
    """The (Chinese, English) notice: masked card number, the rule in words, change it at first use."""
    rule = InitialPinRule(rule)
    masked = mask_card_no(card_no)
    zh = (
        f"【社会保障卡】您的社会保障卡{masked}已制发。卡片初始交易密码为{_RULE_ZH[rule]}。"
        "请在首次使用时修改密码（银行网点、定点医药机构终端、自助终端、电话服务或社保经办机构均可办理），"
        "请勿将密码告知他人。"
    )
    en = (
        f"[Social security card] Your card {masked} has been issued. Its initial PIN is {_RULE_EN[rule]}. "
        "Change it at the first use (bank outlet, medical institution terminal, kiosk, telephone service or "
        "agency counter) and never tell anyone your PIN."
    )
    return zh, en


def notify_card_issued(uow: UnitOfWork, *, card: Card, actor: Actor, person: Person | None = None) -> int:
    """Queue the issuance notice to the holder's contacts on file and audit it; returns how many were queued."""
    person = person or get_person_or_raise(uow, card.person_id)
    policy = get_effective_policy(uow, region_code=card.region_code, card_type=card.card_type)
    rule = InitialPinRule(policy.initial_pin_rule)
    zh, en = issuance_notice_text(card_no=card.card_no, rule=rule)
    queued = notify_person(uow, person=person, topic=TOPIC, text=zh, text_en=en)
    audit_card(
        uow,
        card,
        actor=actor,
        action="card.issue_notice",
        details={"initial_pin_rule": rule.value, "queued": len(queued)},
    )
    return len(queued)

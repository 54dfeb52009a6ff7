"""Tell the holder of debit withdrawals, transfers and POS consumption at or above the policy threshold
(FIN-2, CH-5): through the notification outbox, in the transaction that moved the money.

The threshold is the policy key ``debit_notify_threshold_fen`` of the card's region and type
(national default 100,000 fen = ¥1,000; 0 notifies every movement). The notice names the masked card
and the amount only.
"""

from __future__ import annotations

from typing import Literal

from sscard.cards.models import Card
from sscard.cards.numbers import mask_card_no
from sscard.db.session import UnitOfWork

Movement = Literal["withdrawal", "transfer", "consumption"]
_ZH = {"withdrawal": "柜面取款", "transfer": "转账转出", "consumption": "刷卡消费"}


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def notify_movement(uow: UnitOfWork, *, card: Card, what: Movement, amount_fen: int, balance_fen: int) -> bool:
    """Queue the notice when ``amount_fen`` reaches the threshold; True when one was queued."""
    from sscard import notify
    from sscard.people.service import get_person_or_raise
    from sscard.policy.service import get_effective_policy

    policy = get_effective_policy(uow, region_code=card.region_code, card_type=card.card_type)
    if amount_fen < policy.debit_notify_threshold_fen:
        return False
    masked = mask_card_no(card.card_no)
    zh = (f"【社会保障卡】您的卡{masked}借记账户{_ZH[what]}{_yuan(amount_fen)}元，余额{_yuan(balance_fen)}元。"
          "如非本人操作，请立即致电12345挂失。")  # fmt: skip
    en = (f"[Social security card] Debit account of card {masked}: {what} of CNY {_yuan(amount_fen)}, "
          f"balance CNY {_yuan(balance_fen)}. Not you? Call 12345 at once to report it lost.")  # fmt: skip
    person = get_person_or_raise(uow, card.person_id)
    notify.notify_person(uow, person=person, topic=f"debit.{what}", text=zh, text_en=en)
    return True

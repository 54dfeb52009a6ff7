"""Tell the holder about every PIN lock, reset, unlock, cancel, restore and change (CH-5, ASVS 6.3.6).

The message goes to the phone (else the email) on file through the notification outbox, in the same
transaction as the change: it is sent after commit and retried, never lost, and never sent for a
change that rolled back. It names the masked card and what happened — never a PIN.
"""

from __future__ import annotations

from typing import Literal

from sscard.cards.models import Card
from sscard.cards.numbers import mask_card_no
from sscard.db.session import UnitOfWork
from sscard.people.models import Person

PinEvent = Literal["lock", "reset", "unlock", "cancel", "restore", "change"]

_WHAT_ZH: dict[str, str] = {
    "lock": "因连续输错密码已被锁定，请持本人身份证件和社会保障卡到服务网点办理密码重置",
    "reset": "的密码已在服务网点重置",
    "unlock": "的密码锁定已在服务网点解除",
    "cancel": "的密码已在服务网点取消，办理业务不再需要密码",
    "restore": "的密码已在服务网点恢复为原密码",
    "change": "的密码已修改",
}
_WHAT_EN: dict[str, str] = {
    "lock": "PIN is locked after too many wrong tries; reset it at a service outlet with your ID and card",
    "reset": "PIN was reset at a service outlet",
    "unlock": "PIN lock was lifted at a service outlet",
    "cancel": "PIN was cancelled at a service outlet; transactions no longer need a PIN",
    "restore": "PIN was restored to the previous one at a service outlet",
    "change": "PIN was changed",
}


def pin_notice_text(*, card_no: str, event: PinEvent) -> tuple[str, str]:
    """The (Chinese, English) text of the notice; it carries the masked card number only."""
    masked = mask_card_no(card_no)
    zh = f"【社会保障卡】您的卡{masked}{_WHAT_ZH[event]}。如非本人操作，请立即致电12345挂失。"
    en = f"[Social security card] Your card {masked} {_WHAT_EN[event]}. Not you? Call 12345 at once to report it lost."
    return zh, en


def notify_pin_event(uow: UnitOfWork, *, person: Person, card: Card, event: PinEvent) -> None:
    """Queue the holder's notice of ``event`` on the outbox, inside the caller's transaction (CH-5)."""
    from sscard import notify

    zh, en = pin_notice_text(card_no=card.card_no, event=event)
    notify.notify_person(uow, person=person, topic=f"pin.{event}", text=zh, text_en=en)

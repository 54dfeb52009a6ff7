"""Tell the holder about every loss report on their card (CH-5, CARD-5, ASVS 6.3.6).

An oral report needs no password (CARD-5), so anybody who knows an ID number can block a card: the
holder must hear of it on the phone and e-mail on file, so that a report they did not make is noticed
(and withdrawn at a counter). Queued through the notification outbox in the same transaction as the
report: sent after commit, retried, never sent for a report that rolled back. The message names the
masked card number and times only.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal

from sscard.cards.models import Card
from sscard.cards.numbers import mask_card_no
from sscard.db.session import UnitOfWork
from sscard.notify import notify_person
from sscard.people.models import Person

CHINA = timezone(timedelta(hours=8), "CST")  # times in messages are local (UTC+8, no daylight saving)
LossEvent = Literal["reported", "confirmed"]


def _stamp(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def loss_notice_text(
    *, card_no: str, event: LossEvent, at: datetime, expires_at: datetime | None, channel: str
) -> tuple[str, str]:
    """The (Chinese, English) text of the notice: masked card number, when, until when, what to do."""
    masked = mask_card_no(card_no)
    if event == "reported":
        until_zh = f"，临时挂失至{_stamp(expires_at)}，逾期未到柜台确认将自动解除" if expires_at else ""
        until_en = (
            f" The block lapses at {_stamp(expires_at)} (UTC+8) unless confirmed at a counter." if expires_at else ""
        )
        via_zh = "经12345热线" if channel == "hotline" else ""
        via_en = " through the 12345 hotline" if channel == "hotline" else ""
        zh = (
            f"【社会保障卡】您的卡{masked}已于{_stamp(at)}{via_zh}办理临时挂失，卡片已停用{until_zh}。"
            "如非本人办理，请持本人身份证件到社保经办机构柜台解除挂失。"
        )
        en = (
            f"[Social security card] Your card {masked} was reported lost{via_en} at {_stamp(at)} (UTC+8) and "
            f"is blocked.{until_en} Not you? Bring your ID to a social insurance counter to withdraw the report."
        )
    else:
        zh = (
            f"【社会保障卡】您的卡{masked}已于{_stamp(at)}在经办机构柜台正式挂失，原卡永久停用，请办理补卡。"
            "如非本人办理，请立即联系社保经办机构。"
        )
        en = (
            f"[Social security card] Your card {masked} was formally reported lost at a counter at {_stamp(at)} "
            "(UTC+8) and can no longer be used; apply for a replacement. Not you? Contact the agency at once."
        )
    return zh, en


def notify_loss_event(
    uow: UnitOfWork,
    *,
    person: Person,
    card: Card,
    event: LossEvent,
    at: datetime,
    expires_at: datetime | None = None,
    channel: str = "",
) -> None:
    """Queue the holder's notice of a loss report on every contact on file, in the caller's transaction."""
    zh, en = loss_notice_text(card_no=card.card_no, event=event, at=at, expires_at=expires_at, channel=channel)
    notify_person(uow, person=person, topic=f"card.loss_{event}", text=zh, text_en=en)

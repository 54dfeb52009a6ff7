"""Bank POS consumption requests for the batch tests: cards with an enabled PIN, signed attempts, the app."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from sscard.cards.models import Card
from sscard.credentials.pin.batch_db import POLICY_GENERATION, generation_params
from sscard.credentials.pin.rules.threshold import LockoutThresholds, PolicyGeneration
from sscard.db.session import unit_of_work
from sscard.debit.batch import ConsumeAttempt, NoticeThresholds
from tests.settlement.factories import PIN, enable_pin

PATH = "/terminal/debit/consumption"
enabled = enable_pin  # a funded debit card whose PIN the holder changed at a kiosk (PIN enabled, PIN-2)


def body_of(t, card_no: str, amount: int, txn_id: str, pin: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"card_no": card_no, "amount_fen": amount, "txn_id": txn_id}
    if pin is not None:
        body["pin_block"] = t.pin_block(card_no, pin)
    return body


def attempt(t, card_no: str, amount: int, txn_id: str, *, pin: str | None = PIN) -> ConsumeAttempt:
    body = body_of(t, card_no, amount, txn_id, pin)
    request = t.build_request("POST", PATH, json_body=body)
    return ConsumeAttempt(method="POST", target=request.url.raw_path.decode(), headers=request.headers,
                          body=request.content, card_no=card_no, amount_fen=amount, txn_id=txn_id,
                          pin_block=bytes.fromhex(body["pin_block"]) if pin else None,
                          received_at=time.time())  # fmt: skip


def consume(t, card_no: str, amount: int, txn_id: str, *, pin: str | None = PIN) -> dict[str, Any]:
    """One request to the real app (through the lane: batched, or handed on to the route)."""
    return t.request("POST", PATH, json_body=body_of(t, card_no, amount, txn_id, pin))


def caches(card_nos: list[str]) -> tuple[LockoutThresholds, NoticeThresholds]:
    """Threshold caches that know the cards' regions (the pipeline driver reads missing ones after its commit)."""
    found = LockoutThresholds(), NoticeThresholds()
    with unit_of_work() as uow:
        generation = PolicyGeneration(*uow.session.connection().execute(POLICY_GENERATION, generation_params()).one())
        for cache in found:
            cache.observe(generation)
            for card in uow.session.scalars(select(Card).where(Card.card_no.in_(card_nos))):
                cache.get_or_read(uow, card.region_code, card.card_type)
    return found


def opened(pos, debit_card) -> None:
    """The outlet's institution row and the bank's clearing account are made by the first consumption
    (the single path's: this card's PIN is not enabled, so the lane hands it on)."""
    card_no, _ = debit_card(1_000)
    consume(pos, card_no, 1, f"OPEN{time.time_ns() % 10**9}", pin=None)

"""Card information queries at touch-screen kiosks (PIN-12): MAC-authenticated like every terminal route
(CH-3); the PIN block, when the card's PIN is enabled, is enciphered under the kiosk's key (PIN-11).

A wrong PIN is counted toward the lock (PIN-5) and the count must survive the refusal, so those
answers commit the unit of work before the problem response is sent, as the PIN routes do.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.terminal import AuthenticatedTerminal, authenticated_terminal
from sscard.cards.errors import CardBlocked, CardIllegalTransition, CardNotActive, CardNotFound, CardTypeInvalid
from sscard.credentials.pin.errors import InfoQueryNotHere, PinLocked, PinRequired, PinWrong
from sscard.credentials.pin.kiosk import kiosk_card_info
from sscard.credentials.pin.schemas import CampaignPromptRead, KioskCardInfoRead, KioskInfoQuery
from sscard.db.early_commit import Why, commit_early_on
from sscard.db.session import UnitOfWork
from sscard.people.errors import PersonNotFound
from sscard.policy.errors import PolicyInvalid

router = APIRouter(prefix="/terminal/card", tags=["terminal"], route_class=IdempotentRoute)


@router.post("/info", response_model=KioskCardInfoRead)  # type: ignore[arg-type]
@raises(
    InfoQueryNotHere,
    PinWrong,
    CardNotFound,
    PersonNotFound,
    CardBlocked,
    CardIllegalTransition,
    CardNotActive,
    CardTypeInvalid,
    PolicyInvalid,
    PinLocked,
    PinRequired,
)
def card_info(
    body: KioskInfoQuery,
    terminal: AuthenticatedTerminal = Depends(authenticated_terminal),
    uow: UnitOfWork = TRANSACTION,
) -> KioskCardInfoRead:
    """The holder's basic card and insurance information at a kiosk; the PIN exactly when it is enabled."""
    with commit_early_on(uow, PinWrong, PinLocked, PinRequired, why=Why.FAILURE_COUNTED):
        info = kiosk_card_info(
            uow,
            card_no=body.card_no,
            pin_block=bytes.fromhex(body.pin_block) if body.pin_block else None,
            terminal=terminal,
            kind=terminal.kind,
            actor=terminal.actor(),
        )
    prompt = info.campaign_prompt
    return KioskCardInfoRead(
        card_no_masked=info.card_no_masked,
        name_masked=info.name_masked,
        card_type=info.card_type,
        state=info.state,
        financial=info.financial,
        issued_on=info.issued_on,
        activated_on=info.activated_on,
        pin_enabled=info.pin_enabled,
        insurance=info.insurance,
        campaign_prompt=CampaignPromptRead(**prompt.as_dict()) if prompt else None,
    )

"""Terminal PIN routes (PIN-2..PIN-5, PIN-9, CARD-4): verify and change a card's PIN.

Every request is MAC-authenticated as a registered terminal (CH-3, ``authenticated_terminal``) and
carries ISO 9564 format-4 PIN blocks enciphered under that terminal's key (PIN-11). A wrong, missing
or refused PIN must still be remembered — the failure counter, the lock, the audit entry, the nonce —
so those answers commit the unit of work before the problem response is sent.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.pin_verify_lane import OUTCOME_KEY
from sscard.api.terminal import SIGNED_BY_TERMINAL, AuthenticatedTerminal, authenticated_terminal
from sscard.cards.errors import CardBlocked, CardIllegalTransition, CardNotActive, CardNotFound, CardTypeInvalid
from sscard.credentials.pin.batch_verify import Authenticated
from sscard.credentials.pin.errors import PinChangeNotHere, PinLocked, PinRequired, PinTooSimple, PinWrong
from sscard.credentials.pin.schemas import (
    CampaignPromptRead,
    TerminalPinChange,
    TerminalPinChanged,
    TerminalPinVerified,
    TerminalPinVerify,
)
from sscard.credentials.pin.service import PinCheck, change_card_pin, verify_card_pin
from sscard.db.early_commit import Why, commit_early_on
from sscard.db.session import UnitOfWork, unit_of_work
from sscard.people.errors import PersonNotFound
from sscard.policy.errors import PolicyInvalid

router = APIRouter(prefix="/terminal/pin", tags=["terminal"], route_class=IdempotentRoute)

# PIN-4: PIN changes at designated medical institutions' terminals, touch-screen kiosks and the
# telephone service (the call centre's IVR keypad, a terminal of its own type: same rules and counters).
CHANGE_KINDS = frozenset({"pharmacy", "hospital", "clinic", "community_health_station", "kiosk", "ivr"})

_REMEMBERED = (PinWrong, PinLocked, PinRequired, PinTooSimple)


@SIGNED_BY_TERMINAL
async def verify_outcome(request: Request) -> Authenticated:
    """The terminal, authenticated by the batch that handed this request on (``api/pin_verify_lane.py``),
    or now, one request at a time: a refusal answers 401 before the body is validated, as on every
    terminal route."""
    outcome = request.scope.get(OUTCOME_KEY)
    if isinstance(outcome, Authenticated):
        return outcome
    return Authenticated(await authenticated_terminal(request))


def _verify_one(body: TerminalPinVerify, terminal: AuthenticatedTerminal) -> PinCheck:
    with unit_of_work() as uow, commit_early_on(uow, *_REMEMBERED, why=Why.FAILURE_COUNTED):
        return verify_card_pin(
            uow,
            card_no=body.card_no,
            pin_block=bytes.fromhex(body.pin_block) if body.pin_block else None,
            terminal=terminal,
            actor=terminal.actor(),
        )


@router.post("/verify", response_model=TerminalPinVerified)  # type: ignore[arg-type]
@raises(
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
async def verify_pin(body: TerminalPinVerify, outcome: Authenticated = Depends(verify_outcome)) -> TerminalPinVerified:
    """Check a card transaction's PIN; a card whose PIN is not enabled needs none (PIN-2).

    The common case never gets here: the PIN verify lane answers it from a batch.
    """
    check = await run_in_threadpool(_verify_one, body, outcome.terminal)
    prompt = check.campaign_prompt
    return TerminalPinVerified(
        pin_enabled=check.pin_enabled,
        tries_left=check.tries_left,
        campaign_prompt=CampaignPromptRead(**prompt.as_dict()) if prompt else None,
    )


@router.post("/change", response_model=TerminalPinChanged)  # type: ignore[arg-type]
@raises(
    PinChangeNotHere,
    PinWrong,
    CardNotFound,
    PersonNotFound,
    CardBlocked,
    CardIllegalTransition,
    CardNotActive,
    CardTypeInvalid,
    PinTooSimple,
    PolicyInvalid,
    PinLocked,
)
def change_pin(
    body: TerminalPinChange,
    terminal: AuthenticatedTerminal = Depends(authenticated_terminal),
    uow: UnitOfWork = TRANSACTION,
) -> TerminalPinChanged:
    """Change the PIN with the current PIN, or the initial one while not enabled (PIN-4); enables it (PIN-2)."""
    if terminal.kind not in CHANGE_KINDS:
        raise PinChangeNotHere(f"PIN changes are offered at {', '.join(sorted(CHANGE_KINDS))} terminals")
    with commit_early_on(uow, *_REMEMBERED, why=Why.FAILURE_COUNTED):
        change_card_pin(
            uow,
            card_no=body.card_no,
            old_pin_block=bytes.fromhex(body.old_pin_block),
            new_pin_block=bytes.fromhex(body.new_pin_block),
            terminal=terminal,
            actor=terminal.actor(),
        )
    return TerminalPinChanged()

"""Terminal channel (CH-3): the signed-request dependency, enrollment, the registry and a signed echo.

Routes that serve terminals take the authenticated terminal as a dependency:

    @router.post("/pin/verify")
    def verify(body: ..., terminal: AuthenticatedTerminal = Depends(authenticated_terminal),
               uow: UnitOfWork = TRANSACTION): ...

It refuses, audited, with 401 ``TERMINAL_UNKNOWN``, ``MAC_INVALID`` or ``REPLAY`` before the route
runs (``sscard.terminal_registry.auth``); the wire format is docs/terminal-protocol.md.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, status
from starlette.concurrency import run_in_threadpool

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.pagination import PAGE, PageQuery
from sscard.api.source import client_address
from sscard.api.staff_auth import StaffPrincipal, require_staff
from sscard.audit import Channel
from sscard.db.early_commit import Why, commit_early
from sscard.db.session import UnitOfWork, unit_of_work
from sscard.regions.codes import RegionLevel, level_of
from sscard.regions.errors import RegionNotFound
from sscard.security_module import get_security_module
from sscard.staff.errors import OutsideRegion
from sscard.staff.roles import ROLE_CHANNEL, Role
from sscard.terminal.protocol import ProtocolError, parse_headers, request_target
from sscard.terminal_registry.auth import (
    AuthenticatedTerminal,
    Refusal,
    check_request,
    record_refusal,
    refusal_of_headers,
)
from sscard.terminal_registry.errors import (
    MacInvalid,
    Replay,
    TerminalExists,
    TerminalNotFound,
    TerminalPublicKeyInvalid,
    TerminalStateConflict,
    TerminalThrottled,
    TerminalUnknown,
)
from sscard.terminal_registry.models import TerminalStatus
from sscard.terminal_registry.schemas import (
    EchoIn,
    EchoOut,
    TerminalEnroll,
    TerminalEnrolled,
    TerminalRead,
    TerminalStatusChange,
)
from sscard.terminal_registry.service import (
    block_terminal,
    get_terminal_or_raise,
    list_terminals,
    record_key_export,
    register_terminal,
    retire_terminal,
    unblock_terminal,
)

__all__ = ["SIGNED_BY_TERMINAL", "AuthenticatedTerminal", "authenticated_terminal", "router"]

_MANAGERS = (Role.ADMINISTRATOR, Role.SECURITY_OFFICER)
#: What every signed-request dependency refuses with, and the security scheme it stands for.
SIGNED_BY_TERMINAL = raises(TerminalUnknown, MacInvalid, Replay, TerminalThrottled, security="terminal")


def wire_target(scope: MutableMapping[str, Any]) -> str:
    """The request target exactly as the terminal sent it (percent-encoding kept), for the MAC."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope.get("path", "/"))
    return request_target(path.split("?", 1)[0], scope.get("query_string", b"").decode("latin-1"))


def authenticate_request(
    *,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    source: str = "unknown",
) -> AuthenticatedTerminal:
    """Return the authenticated terminal, or record the refusal and raise its contract error (CH-3).

    Two units of work of this channel's own, before the route's: the checks (the nonce is spent and
    committed whatever the route then does), and, for a refusal, its count and audit entry (kept
    although the request is refused). ``source`` is the request's address (``api/source.py``):
    refusals are limited and summarised per source.
    """
    now = time.time() if now is None else now
    outcome: AuthenticatedTerminal | Refusal
    try:
        signed = parse_headers(headers)
    except ProtocolError as exc:
        terminal_id, outcome = refusal_of_headers(headers, exc)
    else:
        terminal_id = signed.terminal_id
        with unit_of_work() as uow:
            outcome = check_request(uow, signed, method=method, target=target, body=body, now=now)
    if isinstance(outcome, AuthenticatedTerminal):
        return outcome
    path = target.split("?", 1)[0]
    with unit_of_work() as uow:
        error = record_refusal(
            uow, terminal_id=terminal_id, method=method, path=path, refusal=outcome, source=source, now=now
        )
    raise error


@SIGNED_BY_TERMINAL
async def authenticated_terminal(request: Request) -> AuthenticatedTerminal:
    """Authenticate the request as a registered, active terminal (CH-3) or refuse it with 401."""
    body = await request.body()  # cached by Starlette: the route still reads its JSON body
    return await run_in_threadpool(
        authenticate_request,
        method=request.method,
        target=wire_target(request.scope),
        headers=request.headers,
        body=body,
        source=client_address(request.scope),
    )


def _channel(staff: StaffPrincipal) -> Channel:
    return Channel(ROLE_CHANNEL.get(staff.role, "admin"))


def _region_prefix(code: str) -> str:
    """The leading digits every code inside ``code`` shares (440000 → 44, 440100 → 4401)."""
    return {RegionLevel.NATIONAL: "", RegionLevel.PROVINCE: code[:2], RegionLevel.CITY: code[:4]}.get(
        level_of(code), code
    )


def _public_key(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise TerminalPublicKeyInvalid("public_key is not standard base64") from None


terminal_router = APIRouter(prefix="/terminal", tags=["terminal"], route_class=IdempotentRoute)
registry_router = APIRouter(prefix="/terminals", tags=["terminal registry"], route_class=IdempotentRoute)


@terminal_router.post(
    "/enroll",
    response_model=TerminalEnrolled,
    status_code=status.HTTP_201_CREATED,
)
@raises(OutsideRegion, RegionNotFound, TerminalExists, TerminalPublicKeyInvalid)
def enroll_terminal(
    body: TerminalEnroll,
    staff: StaffPrincipal = Depends(require_staff(*_MANAGERS)),
    uow: UnitOfWork = TRANSACTION,
) -> TerminalEnrolled:
    """Register a terminal and load its key, sealed to the public key it sent (remote key loading)."""
    region_code = body.region_code or staff.region_code
    staff.ensure_region(region_code)
    public_key = _public_key(body.public_key)
    module = get_security_module()
    actor = staff.actor(_channel(staff))
    terminal = register_terminal(
        uow,
        institution_name=body.institution,
        institution_type=body.institution_type,
        region_code=region_code,
        public_key=public_key,
        suite=module.suite,
        actor=actor,
    )
    tid, region, version = terminal.terminal_id, terminal.region_code, terminal.key_version
    mac_kcv, pin_kcv = module.terminal_key_check_values(terminal_id=tid, region_code=region, key_version=version)
    record_key_export(uow, terminal=terminal, kcvs=(mac_kcv, pin_kcv), actor=actor)
    # The key leaves the module (sealed) only once the registration that names it is durable.
    commit_early(uow, why=Why.BEFORE_EFFECT)
    envelope = module.export_terminal_key(
        terminal_id=tid, region_code=region, key_version=version, recipient_public_key=public_key
    )
    return TerminalEnrolled(
        terminal_id=terminal.terminal_id,
        institution=terminal.institution_name,
        institution_type=terminal.institution_type,
        region_code=terminal.region_code,
        suite=terminal.suite,
        key_version=terminal.key_version,
        mac_kcv=mac_kcv,
        pin_kcv=pin_kcv,
        key_envelope=base64.b64encode(envelope).decode("ascii"),
    )


@terminal_router.post("/echo", response_model=EchoOut)  # type: ignore[arg-type]
def echo(body: EchoIn, terminal: AuthenticatedTerminal = Depends(authenticated_terminal)) -> EchoOut:
    """Answer a signed request with what the server saw: proves enrollment, clock and MAC end to end."""
    return _echo(terminal, body.message)


@terminal_router.get("/status", response_model=EchoOut)  # type: ignore[arg-type]
def terminal_status(
    terminal: AuthenticatedTerminal = Depends(authenticated_terminal),
    message: str = Query(default="", max_length=256, description="Echoed back: a signed query string's check."),
) -> EchoOut:
    """Describe the calling terminal as registered (a signed GET: empty body)."""
    return _echo(terminal, message)


def _echo(terminal: AuthenticatedTerminal, message: str) -> EchoOut:
    return EchoOut(
        terminal_id=terminal.terminal_id,
        institution_type=terminal.institution_type,
        region_code=terminal.region_code,
        key_version=terminal.key_version,
        server_time=int(time.time()),
        message=message,
    )


@registry_router.get("", response_model=list[TerminalRead])  # type: ignore[arg-type]
def list_region_terminals(
    status_filter: TerminalStatus | None = Query(default=None, alias="status"),
    staff: StaffPrincipal = Depends(require_staff(*_MANAGERS, Role.AUDITOR)),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[TerminalRead]:
    """List the terminals registered in the staff member's region."""
    rows = list_terminals(uow, region_prefix=_region_prefix(staff.region_code), status=status_filter, page=page)
    return [TerminalRead.of(t) for t in rows]


@registry_router.get("/{terminal_id}", response_model=TerminalRead)  # type: ignore[arg-type]
@raises(OutsideRegion, TerminalNotFound)
def read_terminal(
    terminal_id: str,
    staff: StaffPrincipal = Depends(require_staff(*_MANAGERS, Role.AUDITOR)),
    uow: UnitOfWork = TRANSACTION,
) -> TerminalRead:
    """Show one terminal of the staff member's region."""
    terminal = get_terminal_or_raise(uow, terminal_id)
    staff.ensure_region(terminal.region_code)
    return TerminalRead.of(terminal)


@registry_router.post("/{terminal_id}/block", response_model=TerminalRead)  # type: ignore[arg-type]
@raises(OutsideRegion, TerminalNotFound, TerminalStateConflict)
def block(
    terminal_id: str,
    body: TerminalStatusChange,
    staff: StaffPrincipal = Depends(require_staff(*_MANAGERS)),
    uow: UnitOfWork = TRANSACTION,
) -> TerminalRead:
    """Block an active terminal: every request it sends is refused with `TERMINAL_UNKNOWN`."""
    terminal = block_terminal(uow, terminal_id=terminal_id, reason=body.reason, actor=staff.actor(_channel(staff)),
                              region_check=staff.ensure_region)  # fmt: skip
    return TerminalRead.of(terminal)


@registry_router.post("/{terminal_id}/unblock", response_model=TerminalRead)  # type: ignore[arg-type]
@raises(OutsideRegion, TerminalNotFound, TerminalStateConflict)
def unblock(
    terminal_id: str,
    body: TerminalStatusChange,
    staff: StaffPrincipal = Depends(require_staff(*_MANAGERS)),
    uow: UnitOfWork = TRANSACTION,
) -> TerminalRead:
    """Return a blocked terminal to service."""
    terminal = unblock_terminal(uow, terminal_id=terminal_id, reason=body.reason,
                                actor=staff.actor(_channel(staff)), region_check=staff.ensure_region)  # fmt: skip
    return TerminalRead.of(terminal)


@registry_router.post("/{terminal_id}/retire", response_model=TerminalRead)  # type: ignore[arg-type]
@raises(OutsideRegion, TerminalNotFound, TerminalStateConflict)
def retire(
    terminal_id: str,
    body: TerminalStatusChange,
    staff: StaffPrincipal = Depends(require_staff(*_MANAGERS)),
    uow: UnitOfWork = TRANSACTION,
) -> TerminalRead:
    """Retire a terminal for good (its id is never reused)."""
    terminal = retire_terminal(uow, terminal_id=terminal_id, reason=body.reason, actor=staff.actor(_channel(staff)),
                               region_check=staff.ensure_region)  # fmt: skip
    return TerminalRead.of(terminal)


router = APIRouter(route_class=IdempotentRoute)
router.include_router(terminal_router)
router.include_router(registry_router)

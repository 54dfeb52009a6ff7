"""Terminal channel (CH-3): the signed-request dependency, enrollment, the registry and a signed echo.

Routes that serve terminals take the authenticated terminal as a dependency:

    @router.post("/pin/verify")
    def verify(body: ..., terminal: AuthenticatedTerminal = Depends(authenticated_terminal),
               uow: UnitOfWork = TRANSACTION): ...

It refuses, audited, with 401 ``TERMINAL_UNKNOWN``, ``MAC_INVALID`` or ``REPLAY`` before the route
runs (``sscard.terminals.auth``); the wire format is docs/terminal-protocol.md.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, status
from starlette.concurrency import run_in_threadpool

from sscard.api.deps import TRANSACTION
from sscard.api.source import client_address
from sscard.audit import Channel
from sscard.db.session import UnitOfWork
from sscard.regions.codes import RegionLevel, level_of
from sscard.security import get_security_module
from sscard.staff.deps import StaffPrincipal, require_staff
from sscard.staff.roles import ROLE_CHANNEL, Role
from sscard.terminal.protocol import request_target
from sscard.terminals.auth import AuthenticatedTerminal, authenticate_request
from sscard.terminals.errors import TerminalPublicKeyInvalid
from sscard.terminals.models import TerminalStatus
from sscard.terminals.schemas import (
    EchoIn,
    EchoOut,
    TerminalEnroll,
    TerminalEnrolled,
    TerminalRead,
    TerminalStatusChange,
)
from sscard.terminals.service import (
    block_terminal,
    get_terminal_or_raise,
    list_terminals,
    record_key_export,
    register_terminal,
    retire_terminal,
    unblock_terminal,
)

__all__ = ["AuthenticatedTerminal", "authenticated_terminal", "router"]

_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "`TERMINAL_UNKNOWN` (not registered or not active), `MAC_INVALID`, `REPLAY`."}
}
_STAFF_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "`UNAUTHENTICATED`: a staff bearer token is required."},
    403: {"description": "`ROLE_FORBIDDEN` or `OUTSIDE_REGION`."},
    404: {"description": "`TERMINAL_NOT_FOUND` or `REGION_NOT_FOUND`."},
    409: {"description": "`TERMINAL_STATE`: the terminal's status does not allow this."},
}
_MANAGERS = (Role.ADMINISTRATOR, Role.SECURITY_OFFICER)


def wire_target(scope: MutableMapping[str, Any]) -> str:
    """The request target exactly as the terminal sent it (percent-encoding kept), for the MAC."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope.get("path", "/"))
    return request_target(path.split("?", 1)[0], scope.get("query_string", b"").decode("latin-1"))


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


terminal_router = APIRouter(prefix="/terminal", tags=["terminal"])
registry_router = APIRouter(prefix="/terminals", tags=["terminal registry"])


@terminal_router.post(
    "/enroll",
    response_model=TerminalEnrolled,
    status_code=status.HTTP_201_CREATED,
    responses={**_STAFF_ERRORS, 422: {"description": "`TERMINAL_PUBLIC_KEY_INVALID` or `VALIDATION_FAILED`."}},
)
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
    uow.commit()
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


@terminal_router.post("/echo", response_model=EchoOut, responses=_REFUSALS)  # type: ignore[arg-type]
def echo(body: EchoIn, terminal: AuthenticatedTerminal = Depends(authenticated_terminal)) -> EchoOut:
    """Answer a signed request with what the server saw: proves enrollment, clock and MAC end to end."""
    return _echo(terminal, body.message)


@terminal_router.get("/status", response_model=EchoOut, responses=_REFUSALS)  # type: ignore[arg-type]
def terminal_status(terminal: AuthenticatedTerminal = Depends(authenticated_terminal)) -> EchoOut:
    """Describe the calling terminal as registered (a signed GET: empty body)."""
    return _echo(terminal, "")


def _echo(terminal: AuthenticatedTerminal, message: str) -> EchoOut:
    return EchoOut(
        terminal_id=terminal.terminal_id,
        institution_type=terminal.institution_type,
        region_code=terminal.region_code,
        key_version=terminal.key_version,
        server_time=int(time.time()),
        message=message,
    )


@registry_router.get("", response_model=list[TerminalRead], responses=_STAFF_ERRORS)  # type: ignore[arg-type]
def list_region_terminals(
    status_filter: TerminalStatus | None = Query(default=None, alias="status"),
    staff: StaffPrincipal = Depends(require_staff(*_MANAGERS, Role.AUDITOR)),
    uow: UnitOfWork = TRANSACTION,
) -> list[TerminalRead]:
    """List the terminals registered in the staff member's region."""
    rows = list_terminals(uow, region_prefix=_region_prefix(staff.region_code), status=status_filter)
    return [TerminalRead.of(t) for t in rows]


@registry_router.get("/{terminal_id}", response_model=TerminalRead, responses=_STAFF_ERRORS)  # type: ignore[arg-type]
def read_terminal(
    terminal_id: str,
    staff: StaffPrincipal = Depends(require_staff(*_MANAGERS, Role.AUDITOR)),
    uow: UnitOfWork = TRANSACTION,
) -> TerminalRead:
    """Show one terminal of the staff member's region."""
    terminal = get_terminal_or_raise(uow, terminal_id)
    staff.ensure_region(terminal.region_code)
    return TerminalRead.of(terminal)


@registry_router.post("/{terminal_id}/block", response_model=TerminalRead, responses=_STAFF_ERRORS)  # type: ignore[arg-type]
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


@registry_router.post("/{terminal_id}/unblock", response_model=TerminalRead, responses=_STAFF_ERRORS)  # type: ignore[arg-type]
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


@registry_router.post("/{terminal_id}/retire", response_model=TerminalRead, responses=_STAFF_ERRORS)  # type: ignore[arg-type]
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


router = APIRouter()
router.include_router(terminal_router)
router.include_router(registry_router)

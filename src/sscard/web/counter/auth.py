"""The signed-in staff member of a counter page, resolved by the same session service as the API's
``require_staff`` (the page session keeps the staff token sealed), with the API's role sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends

from sscard.audit import Actor, Channel
from sscard.staff.errors import RoleForbidden
from sscard.staff.principal import StaffPrincipal
from sscard.staff.roles import ROLE_CHANNEL, Role
from sscard.web.page import Page, page_for
from sscard.web.staff_sign_in import signed_in_staff

counter_page = page_for("counter")
LOGIN_URL = "/counter/"

# The API's role sets (api/counter.py, counter_pin.py, counter_query_password.py, counter_corrections.py).
COUNTER = frozenset({Role.COUNTER_CLERK, Role.COUNTER_SUPERVISOR})
ACTIVATION = frozenset({Role.COUNTER_CLERK, Role.COUNTER_SUPERVISOR, Role.BANK_CLERK})  # CARD-1
PIN_STAFF = ACTIVATION  # PIN-6: service outlets and the card's bank outlet
SUPERVISOR = frozenset({Role.COUNTER_SUPERVISOR})  # ID-5: full ID; ID number corrections approved
ANY_COUNTER = ACTIVATION


@dataclass(frozen=True, slots=True)
class StaffPage:
    page: Page
    staff: StaffPrincipal

    def actor(self) -> Actor:
        return self.staff.actor(Channel(ROLE_CHANNEL[self.staff.role]))

    def may(self, roles: frozenset[Role]) -> bool:
        return self.staff.role in roles

    def require(self, roles: frozenset[Role]) -> None:
        """403 ``ROLE_FORBIDDEN`` as the API's ``require_staff`` would answer."""
        if self.staff.role not in roles:
            needed = ", ".join(sorted(r.value for r in roles))
            raise RoleForbidden(f"this operation needs the role {needed}")


def current_staff(page: Page = Depends(counter_page)) -> StaffPage:
    """The signed-in counter staff member; anyone else is sent to the sign-in form."""
    principal = signed_in_staff(page, login_url=LOGIN_URL)
    current = StaffPage(page, principal)
    current.require(ANY_COUNTER)
    page.request.state.service_outlet = principal.role in COUNTER  # the layout's nav (no persons for banks)
    return current


def staff_with(roles: frozenset[Role]) -> Callable[..., StaffPage]:
    def dependency(current: StaffPage = Depends(current_staff)) -> StaffPage:
        current.require(roles)
        return current

    return dependency

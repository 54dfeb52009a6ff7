"""The signed-in staff member of a console page, resolved by the same session service as the API's
``staff_auth`` (the page session keeps the staff token sealed), and the role sets of the security API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute

from sscard.audit import Actor, Channel
from sscard.staff.errors import RoleForbidden
from sscard.staff.principal import StaffPrincipal
from sscard.staff.roles import Role
from sscard.web.page import Page, page_for
from sscard.web.staff_sign_in import signed_in_staff as signed_in

console_page = page_for("console")
LOGIN_URL = "/console/"

# CH-2, as api/key_register/common.py: officers decide; custodians keep and move carriers; auditors read.
OFFICER = (Role.SECURITY_OFFICER,)
KEYS = (Role.SECURITY_OFFICER, Role.KEY_CUSTODIAN)
AUDIT_READ = (Role.SECURITY_OFFICER, Role.KEY_CUSTODIAN, Role.AUDITOR)
REPORTS = (Role.SECURITY_OFFICER, Role.AUDITOR)
# As api/admin.py: administrators and auditors read the policy; administrators change it.
ADMIN = (Role.ADMINISTRATOR,)
POLICY_READ = (Role.ADMINISTRATOR, Role.AUDITOR)


@dataclass(frozen=True, slots=True)
class StaffPage:
    page: Page
    staff: StaffPrincipal

    def actor(self) -> Actor:
        """The audit actor of a security-console action (channel ``security``), as the API's ``actor_of``."""
        return self.staff.actor(Channel.SECURITY)

    def region_scope(self, region: str | None) -> str:
        """The region a listing covers: the one asked for if it lies in the staff region (else 403)."""
        if not region:
            return self.staff.region_code
        self.staff.ensure_region(region)
        return region


# The console's sections (GET paths) and the roles each one's route admits, read from the routes'
# own ``staff_with`` dependencies by ``register_sections`` (not a second list of roles).
SECTIONS: dict[str, frozenset[Role]] = {}


def register_sections(router: APIRouter, paths: tuple[str, ...]) -> None:
    """Record, for each section path, the roles its GET route's ``staff_with`` dependency admits."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path in paths and "GET" in (route.methods or ()):
            for dependency in route.dependant.dependencies:
                roles = getattr(dependency.call, "roles", None)
                if roles is not None:
                    SECTIONS[route.path] = roles
    missing = set(paths) - set(SECTIONS)
    if missing:
        raise RuntimeError(f"console sections without a staff_with dependency: {sorted(missing)}")


def menu_of(role: Role) -> frozenset[str]:
    """The section paths ``role`` may open: what the menu and the start page show."""
    return frozenset(path for path, roles in SECTIONS.items() if role in roles)


def signed_in_staff(page: Page) -> StaffPrincipal:
    staff = signed_in(page, login_url=LOGIN_URL)
    page.context["menu"] = menu_of(staff.role)  # the layout shows only these sections
    return staff


def staff_with(*roles: Role) -> Callable[..., StaffPage]:
    """A dependency: the signed-in staff member holding one of ``roles`` (403 ``ROLE_FORBIDDEN`` otherwise)."""
    allowed = frozenset(roles)

    def dependency(page: Page = Depends(console_page)) -> StaffPage:
        staff = signed_in_staff(page)
        if staff.role not in allowed:
            needed = ", ".join(sorted(r.value for r in allowed))
            raise RoleForbidden(f"this page needs the role {needed}")
        return StaffPage(page, staff)

    dependency.roles = allowed  # type: ignore[attr-defined] # read by register_sections
    return dependency

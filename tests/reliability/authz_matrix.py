"""The expected-permissions table of every HTTP operation (CH-2), as data for ``test_authz_matrix.py``.

Each entry says who may call the operation and how a caller of the right role but another region is
answered. It is written from the rules, not read from the code: a route the table does not name, or
an entry without a route, fails the test, so a new route cannot escape review.

Access:
  PUBLIC      anonymous callers are answered (the reviewed allow-list below, each with its reason)
  TERMINAL    authenticated by the terminal's MAC (CH-3); no staff or holder token opens it: 401
  HOLDER      the cardholder's portal session (QPW-*); staff tokens are not holder tokens: 401
  roles       a staff session of one of these roles (CH-2); other roles 403 ROLE_FORBIDDEN

Region (for staff operations; the staff member of an allowed role in the *other* demo province):
  TARGET      the operation names a row or region of region A: 403 OUTSIDE_REGION, nothing changed
  HIDDEN      as TARGET, but answered 404 like an unknown number, so existence is not disclosed
  OWN         lists the caller's own region: answered, without region A's rows
  NONE        no region to check, with the reason
"""

from __future__ import annotations

from dataclasses import dataclass

from sscard.staff.roles import Role

R = Role
PUBLIC, TERMINAL, HOLDER = "public", "terminal", "holder"
TARGET, HIDDEN, OWN, NONE = "target", "hidden", "own", "none"
ALL_STAFF = frozenset(Role)

# Rule-derived role sets (CH-2 and the rule named beside each).
COUNTER = frozenset({R.COUNTER_CLERK, R.COUNTER_SUPERVISOR})  # service-outlet work (PER-1, CARD-1, CARD-5)
ACTIVATION = COUNTER | {R.BANK_CLERK}  # CARD-1: activated at a service window or bank outlet
PIN_COUNTER = COUNTER | {R.BANK_CLERK}  # PIN-6/7/8: a service outlet or the card's bank outlet
SUPERVISOR = frozenset({R.COUNTER_SUPERVISOR})  # ID-5: the full ID only for the role that needs it
HOTLINE = frozenset({R.HOTLINE_OPERATOR})  # contract: the hotline channel is authenticated
ADMIN = frozenset({R.ADMINISTRATOR})  # regional policy (POL), staff accounts
ADMIN_READ = frozenset({R.ADMINISTRATOR, R.AUDITOR})  # the auditor reads what the administrator sets
OFFICER = frozenset({R.SECURITY_OFFICER})  # KEY-4/6/7/9: decisions, approvals, devices
KEYS = frozenset({R.SECURITY_OFFICER, R.KEY_CUSTODIAN})  # KEY-5/8: carriers kept and moved
KEY_READ = KEYS | {R.AUDITOR}  # registers are read by the auditor too, never changed
KEY_REPORTS = frozenset({R.SECURITY_OFFICER, R.AUDITOR})  # inventory and audit reports
TERMINAL_MANAGERS = frozenset({R.ADMINISTRATOR, R.SECURITY_OFFICER})  # CH-3 registry, KEY-3 key loading
TERMINAL_READ = TERMINAL_MANAGERS | {R.AUDITOR}


@dataclass(frozen=True)
class Op:
    access: str | frozenset[Role]
    region: str = NONE
    why: str = ""  # the reason for PUBLIC and for region NONE

    @property
    def roles(self) -> frozenset[Role]:
        return self.access if isinstance(self.access, frozenset) else frozenset()


def pub(why: str) -> Op:
    return Op(PUBLIC, why=why)


S = "/api/v1/security"
TABLE: dict[str, Op] = {
    # --- the reviewed allow-list of anonymous operations ------------------------------------------------
    "GET /": pub("landing page: what runs, links to docs (demo logins only when SSCARD_ENV=dev)"),
    "GET /api/openapi.json": pub("contract: the OpenAPI document"),
    "HEAD /api/openapi.json": pub("HEAD of the OpenAPI document"),
    "GET /api/docs": pub("Swagger UI over the public OpenAPI document"),
    "GET /api/redoc": pub("ReDoc over the public OpenAPI document"),
    "GET /docs/oauth2-redirect": pub("Swagger UI's OAuth2 redirect helper page (static)"),
    "GET /api/docs-static/{path}": pub("vendored Swagger/ReDoc assets (static files)"),
    "GET /api/v1/health": pub("contract: liveness"),
    "GET /metrics": pub("Prometheus scrape: request counts per route template, no personal data"),
    "POST /api/v1/staff/login": pub("staff sign-in"),
    "POST /api/v1/portal/login": pub("contract: holder sign-in"),
    "GET /api/v1/portal/captcha": pub("captcha for the forgot-password form"),
    "POST /api/v1/portal/forgot-password": pub("contract: QPW-5, same answer whether the account exists"),
    "GET /api/v1/portal/liability-notice": pub("QPW-4: the static liability notice text"),
    "GET /api/v1/regions": pub("administrative region codes and names: public reference data"),
    "GET /api/v1/regions/{code}": pub("one administrative region: public reference data"),
    # --- terminals: MAC-authenticated (CH-3) ---------------------------------------------------------
    "POST /api/v1/terminal/pin/verify": Op(TERMINAL),
    "POST /api/v1/terminal/pin/change": Op(TERMINAL),
    "POST /api/v1/terminal/echo": Op(TERMINAL),
    "GET /api/v1/terminal/status": Op(TERMINAL),
    # --- the holder's portal session (QPW) -----------------------------------------------------------
    "POST /api/v1/portal/password": Op(HOLDER),
    "POST /api/v1/portal/liability-notice/acknowledgements": Op(HOLDER),
    "POST /api/v1/portal/logout": Op(HOLDER),
    "GET /api/v1/portal/me": Op(HOLDER),
    # --- staff session -------------------------------------------------------------------------------
    "POST /api/v1/staff/logout": Op(ALL_STAFF, NONE, "ends the caller's own session"),
    "GET /api/v1/staff/me": Op(ALL_STAFF, NONE, "describes the caller"),
    "GET /api/v1/staff": Op(ADMIN, OWN),
    # Issue 17 item 8: the caller's own second factor; an administrator unlocks and resets in region.
    "POST /api/v1/staff/totp/enrol": Op(ALL_STAFF, NONE, "the caller's own second factor (409 for other roles)"),
    "POST /api/v1/staff/totp/confirm": Op(ALL_STAFF, NONE, "confirms the caller's own enrolment"),
    "POST /api/v1/staff/{username}/unlock": Op(ADMIN, TARGET),
    "POST /api/v1/staff/{username}/totp/reset": Op(ADMIN, TARGET),
    # --- counter: persons and cards ------------------------------------------------------------------
    "POST /api/v1/counter/persons": Op(COUNTER, TARGET),
    "POST /api/v1/counter/persons/lookup": Op(COUNTER, TARGET),
    "GET /api/v1/counter/persons/{person_id}": Op(COUNTER, TARGET),
    "POST /api/v1/counter/persons/{person_id}/reveal": Op(SUPERVISOR, TARGET),
    "POST /api/v1/counter/persons/{person_id}/status": Op(COUNTER, TARGET),
    "GET /api/v1/counter/persons/{person_id}/cards": Op(COUNTER, TARGET),
    "POST /api/v1/counter/cards": Op(COUNTER, TARGET),
    "GET /api/v1/counter/cards/{card_no}": Op(COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/activate": Op(ACTIVATION, TARGET),
    "POST /api/v1/counter/cards/{card_no}/loss/confirm": Op(COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/loss/withdraw": Op(COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/replace": Op(COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/cancel": Op(COUNTER, TARGET),
    "POST /api/v1/counter/query-password/reinitialise": Op(COUNTER, TARGET),  # QPW-3
    "GET /api/v1/counter/cards/{card_no}/pin": Op(PIN_COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/pin/reset": Op(PIN_COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/pin/unlock": Op(PIN_COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/pin/cancel": Op(PIN_COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/pin/restore": Op(PIN_COUNTER, TARGET),
    # --- 12345 hotline (CARD-5, INS-5): no password from the caller, but the channel is authenticated.
    # Another region's number is answered like an unknown number (404 / "not registered"): the
    # hotline's answers are built not to tell whether a number exists.
    "POST /api/v1/hotline/loss-reports": Op(HOTLINE, HIDDEN),
    "GET /api/v1/hotline/voice-query": Op(HOTLINE, HIDDEN),
    "POST /api/v1/hotline/voice-query": Op(HOTLINE, HIDDEN),
    # --- admin: policy and reports -------------------------------------------------------------------
    "GET /api/v1/admin/policy/{region_code}": Op(ADMIN_READ, TARGET),
    "GET /api/v1/admin/policy/{region_code}/versions": Op(ADMIN_READ, TARGET),
    "POST /api/v1/admin/policy/{region_code}": Op(ADMIN, TARGET),
    "GET /api/v1/admin/reports/initial-query-passwords": Op(ADMIN_READ, TARGET),
    "GET /api/v1/admin/reports/initial-pins": Op(ADMIN_READ, TARGET),
    # --- terminal registry (CH-3) --------------------------------------------------------------------
    "POST /api/v1/terminal/enroll": Op(TERMINAL_MANAGERS, TARGET),
    "GET /api/v1/terminals": Op(TERMINAL_READ, OWN),
    "GET /api/v1/terminals/{terminal_id}": Op(TERMINAL_READ, TARGET),
    "POST /api/v1/terminals/{terminal_id}/block": Op(TERMINAL_MANAGERS, TARGET),
    "POST /api/v1/terminals/{terminal_id}/unblock": Op(TERMINAL_MANAGERS, TARGET),
    "POST /api/v1/terminals/{terminal_id}/retire": Op(TERMINAL_MANAGERS, TARGET),
    # --- security console: devices (KEY-4) -----------------------------------------------------------
    f"GET {S}/devices": Op(KEY_READ, TARGET),  # ?region=A
    f"POST {S}/devices": Op(OFFICER, TARGET),
    f"GET {S}/devices/{{device_id}}": Op(KEY_READ, TARGET),
    f"PUT {S}/devices/{{device_id}}/certificate": Op(OFFICER, TARGET),
    f"POST {S}/devices/certificate-revocations": Op(OFFICER, TARGET),
    f"POST {S}/devices/{{device_id}}/move": Op(OFFICER, TARGET),
    f"POST {S}/devices/{{device_id}}/retire": Op(OFFICER, TARGET),
    f"POST {S}/devices/sweep": Op(OFFICER, NONE, "applies the certificate rule (KEY-4) to every device: no choice"),
    f"GET {S}/alerts": Op(KEY_READ, OWN),
    f"POST {S}/alerts/{{alert_id}}/acknowledge": Op(OFFICER, TARGET),
    # --- carriers (KEY-5), destruction and PSAM (KEY-8) ----------------------------------------------
    f"GET {S}/carriers": Op(KEY_READ, TARGET),  # ?region=A
    f"POST {S}/carriers": Op(KEYS, TARGET),
    f"GET {S}/carriers/{{carrier_id}}": Op(KEY_READ, TARGET),
    f"GET {S}/carriers/{{carrier_id}}/usage": Op(KEY_READ, TARGET),
    f"POST {S}/carriers/{{carrier_id}}/deploy": Op(KEYS, TARGET),
    f"POST {S}/carriers/{{carrier_id}}/store": Op(KEYS, TARGET),
    f"POST {S}/carriers/{{carrier_id}}/recover": Op(KEYS, TARGET),
    f"POST {S}/carriers/{{carrier_id}}/uses": Op(KEYS, TARGET),
    f"POST {S}/carriers/{{carrier_id}}/keys": Op(OFFICER, TARGET),
    f"POST {S}/carriers/{{carrier_id}}/destructions": Op(KEYS, TARGET),
    f"POST {S}/destructions/{{destruction_id}}/signatures": Op(KEYS, TARGET),
    f"GET {S}/destructions/{{destruction_id}}": Op(KEY_READ, TARGET),
    f"GET {S}/psam": Op(KEY_READ, TARGET),  # ?region=A
    f"POST {S}/psam/{{carrier_id}}/deploy": Op(KEYS, TARGET),
    f"POST {S}/psam/{{carrier_id}}/recover": Op(KEYS, TARGET),
    f"GET {S}/psam/{{carrier_id}}/deployments": Op(KEY_READ, TARGET),
    # --- handovers to third parties (KEY-7) ----------------------------------------------------------
    f"GET {S}/handovers": Op(KEY_READ, TARGET),  # ?region=A
    f"GET {S}/handovers/overdue": Op(KEY_READ, TARGET),  # ?region=A
    f"POST {S}/handovers": Op(KEYS, TARGET),
    f"GET {S}/handovers/{{handover_id}}": Op(KEY_READ, TARGET),
    f"POST {S}/handovers/{{handover_id}}/record": Op(KEYS, TARGET),
    f"POST {S}/handovers/{{handover_id}}/agreement": Op(KEYS, TARGET),
    f"POST {S}/handovers/{{handover_id}}/security-plan": Op(KEYS, TARGET),
    f"GET {S}/handovers/{{handover_id}}/reviews": Op(KEY_READ, TARGET),
    f"POST {S}/plan-reviews/{{review_id}}/decision": Op(OFFICER, TARGET),
    f"POST {S}/handovers/{{handover_id}}/supervisor": Op(OFFICER, TARGET),
    f"POST {S}/handovers/{{handover_id}}/complete": Op(KEYS, TARGET),
    f"POST {S}/handovers/{{handover_id}}/supervision": Op(KEYS, TARGET),
    f"GET {S}/handovers/{{handover_id}}/supervision": Op(KEY_READ, TARGET),
    f"POST {S}/handovers/{{handover_id}}/recover": Op(KEYS, TARGET),
    f"POST {S}/handovers/{{handover_id}}/cancel": Op(KEYS, TARGET),
    f"GET {S}/documents/{{document_id}}": Op(KEY_READ, TARGET),
    f"GET {S}/documents/{{document_id}}/content": Op(KEY_READ, TARGET),
    # --- emergency plans and incidents (KEY-9), reports ----------------------------------------------
    f"GET {S}/plans": Op(KEY_READ, TARGET),  # ?region=A
    f"GET {S}/plans/in-force": Op(KEY_READ, TARGET),  # ?region=A
    f"POST {S}/plans": Op(OFFICER, TARGET),
    f"POST {S}/carriers/{{carrier_id}}/loss": Op(KEYS, TARGET),
    f"GET {S}/incidents": Op(KEY_READ, TARGET),  # ?region=A
    f"POST {S}/incidents": Op(KEYS, TARGET),
    f"GET {S}/incidents/{{incident_id}}": Op(KEY_READ, TARGET),
    f"POST {S}/incidents/{{incident_id}}/findings": Op(OFFICER, TARGET),
    f"POST {S}/incidents/{{incident_id}}/measures/{{measure_id}}/confirm": Op(OFFICER, TARGET),
    f"POST {S}/incidents/{{incident_id}}/close": Op(OFFICER, TARGET),
    f"GET {S}/reports/inventory": Op(KEY_REPORTS, TARGET),  # ?region=A
    f"GET {S}/reports/audit": Op(KEY_REPORTS, TARGET),  # ?region=A
}

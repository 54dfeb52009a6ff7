"""The expected-permissions table of every HTTP operation (CH-2), as data for ``test_authz_matrix.py``.

Each entry says who may call the operation and how a caller of the right role but another region is
answered. It is written from the rules, not read from the code: a route the table does not name, or
an entry without a route, fails the test, so a new route cannot escape review.

Access:
  PUBLIC      anonymous callers are answered (the reviewed allow-list below, each with its reason)
  TERMINAL    authenticated by the terminal's MAC (CH-3); no staff or holder token opens it: 401
  HOLDER      the cardholder's portal session (QPW-*); staff tokens are not holder tokens: 401
  EMPLOYER    an employer's session (INS-1, INS-3, QPW-5); staff and holder tokens are not employer tokens: 401
  roles       a staff session of one of these roles (CH-2); other roles 403 ROLE_FORBIDDEN
  PAGE        a server-rendered page (issue 21): its own cookie session, never a bearer token; an
              anonymous browser gets the sign-in form, or a 303 to it, or (a POST without the page
              session's CSRF token) the 403 CSRF_REFUSED page, or the 404 page of an unknown address;
              a bearer token changes nothing of that

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
PUBLIC, TERMINAL, HOLDER, EMPLOYER, PAGE = "public", "terminal", "holder", "employer", "page"
TARGET, HIDDEN, OWN, NONE = "target", "hidden", "own", "none"
ALL_STAFF = frozenset(Role)

# Rule-derived role sets (CH-2 and the rule named beside each).
COUNTER = frozenset({R.COUNTER_CLERK, R.COUNTER_SUPERVISOR})  # service-outlet work (PER-1, CARD-1, CARD-5)
ACTIVATION = COUNTER | {R.BANK_CLERK}  # CARD-1: activated at a service window or bank outlet
PIN_COUNTER = COUNTER | {R.BANK_CLERK}  # PIN-6/7/8: a service outlet or the card's bank outlet
SUPERVISOR = frozenset({R.COUNTER_SUPERVISOR})  # ID-5: the full ID only for the role that needs it; QPW-3 approvals
BANK = frozenset({R.BANK_CLERK})  # FIN-2, FIN-3: the RMB debit account at the card's bank outlet
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


def page(why: str) -> Op:
    return Op(PAGE, why=why)


S = "/api/v1/security"
TABLE: dict[str, Op] = {
    # --- the reviewed allow-list of anonymous operations ------------------------------------------------
    "GET /": pub("landing page: what runs, links to docs (demo logins only when SSCARD_ENV=dev)"),
    "GET /static/{path}": pub("the pages' own stylesheets and scripts: no data"),
    # --- pages (issue 21; tests/web, tests/browser): sessions in cookies, CSRF on every POST ----------------
    **{
        f"GET /{channel}/{{rest}}": page("an unknown address under a channel's pages: the 404 page, nothing else")
        for channel in ("portal", "counter", "employer", "console")
    },
    "GET /portal/": page("the portal's sign-in form (QPW-1); a signed-in holder is sent on to /portal/home"),
    "POST /portal/login": page("portal sign-in by ID number and query password (QPW-1, QPW-7 throttled)"),
    "POST /portal/logout": page("ends the portal page session and the holder's portal session"),
    "GET /portal/password": page("QPW-2: the one page open until the initial/temporary password is changed"),
    "POST /portal/password": page("QPW-2/4/6: change the query password, the liability notice acknowledged"),
    "GET /portal/forgot-password": page("QPW-5: the forgot-password form with a new captcha"),
    "POST /portal/forgot-password": page("QPW-5: a temporary password to the contact on file; same answer for all"),
    "GET /portal/cards": page("the holder's own cards (masked, last four), PIN enabled/locked, never a PIN"),
    "POST /portal/cards/loss": page("CARD-5: the holder blocks one of their own cards (opaque reference)"),
    "GET /portal/insurance": page("INS-3/INS-5: the holder's participation, declarations, personal accounts"),
    "GET /portal/discrepancies": page("INS-6: the holder's discrepancy reports and the agency's answers"),
    "POST /portal/discrepancies": page("INS-6: the holder reports a discrepancy"),
    "GET /portal/statements": page("INS-4: the holder's yearly statements"),
    "GET /portal/statements/{year}.pdf": page("INS-4: one of the holder's own yearly statements as PDF"),
    "GET /portal/money": page("FIN-1/FIN-2: the holder's medical settlements and debit account movements"),
    "GET /portal/home": page("the holder's start page: anonymous → 303 /portal/; QPW-2 → 303 /portal/password"),
    # counter console (web/counter: the API's staff roles, regions and bank checks; tests/web/test_counter_pages.py)
    "GET /counter/": page("the staff sign-in form (CH-2); a signed-in clerk is sent on to /counter/home"),
    "POST /counter/login": page("staff sign-in: username, password, otp where the role needs it (throttled)"),
    "POST /counter/logout": page("ends the counter page session and the staff session"),
    "GET /counter/home": page("lookup form: counter clerk/supervisor/bank clerk; anonymous → 303 /counter/"),
    "POST /counter/lookup": page("by card number (bank clerk: own bank only) or by citizen ID (service outlet)"),
    "GET /counter/person/{ref}": page("a person's masked record (ID-5): counter clerk/supervisor, own region"),
    "GET /counter/person/{ref}/{form}": page("a person operation's form; the reveal form for supervisors only"),
    "POST /counter/person/{ref}/reveal": page("ID-5: full ID/phone/email for a counter supervisor, evidence audited"),
    "POST /counter/person/{ref}/query-password": page("QPW-3: re-initialise after the recorded identity check"),
    "POST /counter/person/{ref}/contact": page("QPW-3/PER-1: correct name, phone, email with the evidence"),
    "POST /counter/person/{ref}/issue": page("CARD-1/CARD-3: issue a card (counter clerk/supervisor, own region)"),
    "POST /counter/person/{ref}/id-number": page("PER-1: ask for a citizen ID correction (another one approves)"),
    "GET /counter/corrections": page("pending citizen ID corrections of the staff member's region (masked)"),
    "GET /counter/correction/{ref}": page("one citizen ID correction request (masked)"),
    "POST /counter/correction/{ref}/{decision}": page("approve/reject: a counter supervisor, never the requester"),
    "GET /counter/register": page("PER-1: the registration form (counter clerk/supervisor)"),
    "POST /counter/register": page("PER-1/ID-4: register a person inside the staff member's region"),
    "GET /counter/card/{ref}": page("a card, masked, with its PIN state: in region; bank clerk own bank only"),
    "GET /counter/card/{ref}/{action}": page("a card operation's form, for the roles the API allows it"),
    "POST /counter/card/{ref}/{action}": page("CARD-1/2/5, PIN-5..8: activate, loss, replace, cancel, PIN ops"),
    "POST /counter/person/{ref}/status": page("PER-1/CARD-1: status change with the evidence; deceased cancels cards"),
    "GET /counter/person/{ref}/insurance": page("INS-5: the identity-check form that opens the insurance record"),
    "POST /counter/person/{ref}/insurance": page("INS-5/CH-2: the insurance record after the audited evidence check"),
    "POST /counter/registration/{ref}/premium": page("INS-1: premium decision on a late registration, in region, once"),
    "GET /counter/discrepancies": page("INS-6: open/answered discrepancy reports of the staff member's region"),
    "GET /counter/discrepancy/{ref}": page("INS-6: one discrepancy report (counter clerk/supervisor, own region)"),
    "POST /counter/discrepancy/{ref}/answer": page("INS-6/CH-5: answer an open report, final, the holder told"),
    "GET /counter/debit/{ref}": page("FIN-2: a card's debit account: bank clerk of the card's bank, own region"),
    "POST /counter/debit/{ref}/open": page("FIN-3: open the debit account at the card's bank (bank clerk)"),
    "POST /counter/debit/{ref}/move": page("FIN-2: deposit, withdrawal, transfer; no overdraft (bank clerk)"),
    "GET /employer/": page("the employer sign-in form (QPW-5 user type employer); signed in → /employer/home"),
    "POST /employer/login": page("employer sign-in by credit code and password (throttled like the API)"),
    "GET /employer/forgot-password": page("QPW-5 (user type employer): the form with a new captcha"),
    "POST /employer/forgot-password": page("QPW-5: a temporary password by SMS to the employer's contact; same answer"),
    "POST /employer/logout": page("ends the employer page session and the employer session"),
    "GET /employer/home": page("the employer's start page: anonymous → 303 /employer/"),
    "GET /employer/password": page("QPW-2 for employers: change the initial or temporary password"),
    "POST /employer/password": page("QPW-2/4: the employer changes its password"),
    "GET /employer/registrations": page("INS-1: the employer's own registrations (masked IDs)"),
    "POST /employer/registrations/check": page("INS-2: the 30-day deadline and days late shown before registering"),
    "POST /employer/registrations": page("INS-1/INS-2: register an employee of this employer"),
    "GET /employer/declarations": page("INS-3: the employer's own monthly declarations"),
    "POST /employer/declarations": page("INS-3: declare one line for an employee of this employer"),
    "POST /employer/declarations/upload": page("INS-3: a CSV of this employer's lines, run as its own import job"),
    "GET /employer/imports/{ref}": page("the progress and rejected lines of this employer's own import job"),
    "GET /console/": page("the console sign-in form: username, password, otp (second-factor roles)"),
    "POST /console/login": page("console sign-in for security officers, custodians, auditors, administrators"),
    "POST /console/logout": page("ends the console page session and the staff session"),
    "GET /console/home": page("the console start page: anonymous → 303 /console/"),
    "GET /console/keys": page("KEY-2: the key inventory of the staff member's region"),
    "GET /console/carriers": page("KEY-3/KEY-5: key carriers of the region"),
    "GET /console/carriers/{ref}": page("one carrier and its destruction signatures"),
    "POST /console/carriers/{ref}/destruction": page("KEY-8: record a destruction (custodian/officer, own region)"),
    "POST /console/carriers/{ref}/destruction/sign": page("KEY-8: a second person witnesses in their own session"),
    "GET /console/registers": page("KEY-4/KEY-6/KEY-7: devices, PSAM, handovers, emergency plans of the region"),
    "POST /console/devices": page("KEY-4: register a certified device in the officer's region"),
    "POST /console/devices/{ref}/retire": page("KEY-4: retire a device of the officer's region"),
    "GET /console/devices": page("KEY-4: the certified devices of the region, each linking to its page"),
    "GET /console/devices/{ref}": page("KEY-4: one device and its certificate"),
    "POST /console/devices/{ref}/certificate": page("KEY-4: record a device's new certificate (security officer)"),
    "POST /console/devices/{ref}/move": page("KEY-4: record a device's new location (security officer)"),
    "POST /console/devices/certificate-revocations": page("KEY-4: a revoked certificate blocks its devices"),
    "POST /console/devices/sweep": page("KEY-4: check every certificate now (security officer)"),
    "GET /console/alerts": page("KEY-4: the region's device certificate alerts"),
    "POST /console/alerts/{ref}/acknowledge": page("KEY-4: acknowledge an alert (security officer, own region)"),
    "GET /console/reports": page("KEY-2/CH-4: the report forms (officer, auditor)"),
    "GET /console/reports/inventory": page("KEY-2: download the key inventory report, PDF or CSV"),
    "GET /console/reports/audit": page("CH-4: download the key-management audit report of a period"),
    "POST /console/plans": page("KEY-9: adopt the region's emergency plan (security officer)"),
    "POST /console/carriers/{ref}/handover": page("KEY-7: open a carrier's handover (custodian/officer, own region)"),
    "POST /console/carriers/{ref}/psam/deploy": page("KEY-8: deploy a PSAM (custodian/officer, own region)"),
    "POST /console/carriers/{ref}/psam/recover": page("KEY-8: withdraw a PSAM from its terminal (custodian/officer)"),
    "GET /console/handovers/{ref}": page("KEY-7: one handover, its conditions, reviews and supervision"),
    "POST /console/handovers/{ref}/record": page("KEY-7 condition 1: the handover record (custodian/officer)"),
    "POST /console/handovers/{ref}/agreement": page("KEY-7 condition 2: the signed confidentiality agreement"),
    "POST /console/handovers/{ref}/security-plan": page("KEY-7 condition 3a: submit the security plan"),
    "POST /console/handovers/{ref}/review": page("KEY-7 condition 3b: another officer decides (SELF_APPROVAL)"),
    "POST /console/handovers/{ref}/supervisor": page("KEY-7 condition 4: an officer assigns the supervisor"),
    "POST /console/handovers/{ref}/complete": page("KEY-7: hand over once the four conditions hold"),
    "POST /console/handovers/{ref}/recover": page("KEY-7: take the carrier back (custodian/officer)"),
    "POST /console/handovers/{ref}/cancel": page("KEY-7: abandon a handover not yet completed"),
    "GET /console/incidents": page("KEY-9: incidents of the region"),
    "POST /console/incidents": page("KEY-9: report an incident (security officer, own region)"),
    "GET /console/incidents/{ref}": page("one incident with its measures"),
    "POST /console/incidents/{ref}/findings": page("KEY-9: record the findings of an incident"),
    "POST /console/incidents/{ref}/close": page("KEY-9: close an incident once its measures are done"),
    "GET /console/policy": page("policy versions of the region (administrators set, auditors read)"),
    "POST /console/policy": page("set a policy value with a reason (administrator, own region)"),
    "GET /console/carriers/receive": page("KEY-5: the form to receive one carrier (custodian/officer)"),
    "GET /console/carriers/receipt": page("KEY-5: the form to receive a delivery receipt (custodian/officer)"),
    "POST /console/carriers": page("KEY-5: register a carrier received from the ministry (custodian/officer)"),
    "POST /console/carriers/receipts": page("KEY-5: register every carrier of one receipt, all or none"),
    "POST /console/carriers/{ref}/keys": page("KEY-9: record a key held by a carrier (security officer)"),
    "POST /console/carriers/{ref}/store": page("KEY-5: put a carrier into custody (custodian/officer, own region)"),
    "POST /console/carriers/{ref}/uses": page("KEY-5: log a use of a carrier (custodian/officer, own region)"),
    "POST /console/carriers/{ref}/loss": page("KEY-9: report a carrier lost (custodian/officer, own region)"),
    "GET /console/handovers/overdue": page("KEY-7: handovers past their return date in the region"),
    "POST /console/handovers/{ref}/supervision": page("KEY-7: the assigned supervisor only (NOT_SUPERVISOR)"),
    "POST /console/incidents/{ref}/measures/{measure_ref}/confirm": page("KEY-9: confirm a measure (officer)"),
    "GET /console/audit": page("CH-4: audit log search and the chain's verification status (auditor, officer)"),
    "GET /api/openapi.json": pub("contract: the OpenAPI document"),
    "HEAD /api/openapi.json": pub("HEAD of the OpenAPI document"),
    "GET /api/docs": pub("Swagger UI over the public OpenAPI document"),
    "GET /api/redoc": pub("ReDoc over the public OpenAPI document"),
    "GET /docs/oauth2-redirect": pub("Swagger UI's OAuth2 redirect helper page (static)"),
    "GET /api/docs-static/{path}": pub("vendored Swagger/ReDoc assets (static files)"),
    "GET /api/v1/health": pub("contract: liveness"),
    "GET /livez": pub("liveness probe: the process answers, nothing else"),
    "GET /readyz": pub("readiness probe: database and security module usable, as ok/unavailable only"),
    "GET /metrics": pub("Prometheus scrape: request counts per route template, no personal data"),
    "POST /api/v1/staff/login": pub("staff sign-in"),
    "POST /api/v1/portal/login": pub("contract: holder sign-in"),
    "GET /api/v1/portal/captcha": pub("captcha for the forgot-password form"),
    "POST /api/v1/portal/forgot-password": pub("contract: QPW-5, same answer whether the account exists"),
    "GET /api/v1/portal/liability-notice": pub("QPW-4: the static liability notice text"),
    "GET /api/v1/regions": pub("administrative region codes and names: public reference data"),
    "GET /api/v1/regions/{code}": pub("one administrative region: public reference data"),
    "POST /api/v1/employer/login": pub("employer sign-in with the credit code (QPW-5's employer user type)"),
    "GET /api/v1/statements/verify/{code}": pub(
        "INS-4: anyone holding a statement checks it; only the year, masked name and printed totals"
    ),
    # --- terminals: MAC-authenticated (CH-3) ---------------------------------------------------------
    "POST /api/v1/terminal/pin/verify": Op(TERMINAL),
    "POST /api/v1/terminal/pin/change": Op(TERMINAL),
    "POST /api/v1/terminal/card/info": Op(TERMINAL),  # PIN-12: kiosks, the PIN when enabled
    "POST /api/v1/terminal/settlement": Op(TERMINAL),  # FIN-1
    "POST /api/v1/terminal/settlement/refund": Op(TERMINAL),  # FIN-1
    "POST /api/v1/terminal/settlement/reverse": Op(TERMINAL),  # FIN-1
    "POST /api/v1/terminal/debit/consumption": Op(TERMINAL),  # FIN-2: bank POS, card PIN
    "POST /api/v1/terminal/echo": Op(TERMINAL),
    "GET /api/v1/terminal/status": Op(TERMINAL),
    # --- the holder's portal session (QPW) -----------------------------------------------------------
    "POST /api/v1/portal/password": Op(HOLDER),
    "POST /api/v1/portal/liability-notice/acknowledgements": Op(HOLDER),
    "POST /api/v1/portal/logout": Op(HOLDER),
    "GET /api/v1/portal/me": Op(HOLDER),
    "GET /api/v1/portal/debit": Op(HOLDER),  # FIN-2: the holder's own debit accounts
    "POST /api/v1/portal/insurance/registrations": Op(HOLDER),  # INS-2: flexible workers register themselves
    # --- the employer's session: only its own employees' records (INS-1, INS-3, INS-5) ----------------
    "POST /api/v1/employer/password": Op(EMPLOYER),
    "GET /api/v1/employer/registrations": Op(EMPLOYER),
    "POST /api/v1/employer/registrations": Op(EMPLOYER),
    "GET /api/v1/employer/declarations": Op(EMPLOYER),
    "POST /api/v1/employer/declarations": Op(EMPLOYER),
    "GET /api/v1/portal/statements": Op(HOLDER),  # INS-4: the holder's own statements
    "GET /api/v1/portal/statements/{year}.pdf": Op(HOLDER),
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
    "POST /api/v1/counter/cards/{card_no}/activate-with-pin": Op(ACTIVATION, TARGET),  # PIN-4
    "POST /api/v1/counter/cards/{card_no}/personalisation/check": Op(COUNTER, TARGET),  # CARD-7
    "POST /api/v1/counter/cards/{card_no}/loss/confirm": Op(COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/loss/withdraw": Op(COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/replace": Op(COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/cancel": Op(COUNTER, TARGET),
    "POST /api/v1/counter/query-password/reinitialise": Op(COUNTER, TARGET),  # QPW-3
    # INS-1: the agency's premium decision on a late registration of region A
    "POST /api/v1/counter/insurance/registrations/{registration_id}/premium-decision": Op(COUNTER, TARGET),
    # QPW-3 / PER-1: name, phone, email at the counter; the citizen ID with a supervisor's approval
    "POST /api/v1/counter/persons/{person_id}/corrections/contact": Op(COUNTER, TARGET),
    "POST /api/v1/counter/persons/{person_id}/corrections/id-number": Op(COUNTER, TARGET),
    "GET /api/v1/counter/corrections": Op(COUNTER, OWN),
    "GET /api/v1/counter/corrections/{correction_id}": Op(COUNTER, TARGET),
    "POST /api/v1/counter/corrections/{correction_id}/approve": Op(SUPERVISOR, TARGET),
    "POST /api/v1/counter/corrections/{correction_id}/reject": Op(SUPERVISOR, TARGET),
    "GET /api/v1/counter/cards/{card_no}/pin": Op(PIN_COUNTER, TARGET),
    # FIN-2, FIN-3: the debit account at the card's own bank outlet only (CARD_OTHER_BANK otherwise).
    "POST /api/v1/counter/cards/{card_no}/debit": Op(BANK, TARGET),
    "POST /api/v1/counter/cards/{card_no}/debit/deposit": Op(BANK, TARGET),
    "POST /api/v1/counter/cards/{card_no}/debit/withdrawal": Op(BANK, TARGET),
    "POST /api/v1/counter/cards/{card_no}/debit/transfer": Op(BANK, TARGET),
    "POST /api/v1/counter/cards/{card_no}/pin/reset": Op(PIN_COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/pin/unlock": Op(PIN_COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/pin/cancel": Op(PIN_COUNTER, TARGET),
    "POST /api/v1/counter/cards/{card_no}/pin/restore": Op(PIN_COUNTER, TARGET),
    # --- the insurance record (INS-5, INS-6): the holder's own, the counter's view with evidence ----------
    "GET /api/v1/portal/insurance/participation": Op(HOLDER),
    "GET /api/v1/portal/insurance/declarations": Op(HOLDER),
    "GET /api/v1/portal/accounts": Op(HOLDER),
    "GET /api/v1/portal/accounts/{kind}/movements": Op(HOLDER),
    "POST /api/v1/portal/discrepancies": Op(HOLDER),
    "GET /api/v1/portal/discrepancies": Op(HOLDER),
    "POST /api/v1/counter/persons/{person_id}/insurance-record": Op(COUNTER, TARGET),  # CH-2: evidence recorded
    "GET /api/v1/counter/discrepancies": Op(COUNTER, OWN),  # the agency's queue of its own region
    "POST /api/v1/counter/discrepancies/{report_id}/answer": Op(COUNTER, TARGET),
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
    f"POST {S}/carriers/receipts": Op(KEYS, TARGET),  # KEY-5: one receipt, several carriers
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

"""Terminal request authentication, check by check, without the app (rules CH-3, CH-4; issue 26).

test_auth_api.py drives the same checks over HTTP. These call ``terminal_registry/auth.py`` itself, so
that each refusal is compared whole (its code, its words, the region and role it is audited under, whether
it is audited alone) and so that ``make mutation`` (group terminal-auth) pays a fraction of a second per
mutant instead of an app and an enrolment per test.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from sscard.audit import Actor
from sscard.audit.models import AuditEntry
from sscard.config import reset_settings_cache
from sscard.credentials.query_password import throttle
from sscard.security_module import get_security_module
from sscard.terminal.client import generate_enrollment_key
from sscard.terminal.envelope import open_envelope, public_key_bytes
from sscard.terminal.protocol import (
    H_TERMINAL_ID,
    MAC_INVALID,
    REPLAY,
    TERMINAL_UNKNOWN,
    ProtocolError,
    SignedHeaders,
    parse_headers,
    sign_request,
)
from sscard.terminal_registry import auth
from sscard.terminal_registry.auth import (
    REFUSAL_KIND,
    AuthenticatedTerminal,
    Refusal,
    check_request,
    check_signature,
    consume_nonce,
    record_refusal,
    refusal_of_headers,
)
from sscard.terminal_registry.errors import MacInvalid, Replay, TerminalThrottled, TerminalUnknown
from sscard.terminal_registry.models import InstitutionType, TerminalNonce, TerminalStatus
from sscard.terminal_registry.service import register_terminal
from tests.credentials.query_password.conftest import fresh_address
from tests.staff.factories import ensure_region
from tests.terminal_registry.conftest import REGION

TARGET = "/api/v1/terminal/echo?message=%E4%B8%AD"
BODY = b'{"message":"a"}'
DAY = 86_400


@dataclass(frozen=True)
class Facts:
    """What authentication reads of a terminal (``TerminalFacts``), without a database row."""

    terminal_id: str
    key_version: int
    status: TerminalStatus = TerminalStatus.ACTIVE
    institution_name: str = "测试大药房"
    institution_type: InstitutionType = InstitutionType.PHARMACY
    region_code: str = REGION
    suite: str = "sm"


def _mac_key(terminal_id: str, key_version: int) -> bytes:
    """The terminal's MAC key, as the terminal gets it: sealed to its enrolment key (MAC key ‖ PIN key)."""
    pair = generate_enrollment_key()
    envelope = get_security_module().export_terminal_key(
        terminal_id=terminal_id,
        region_code=REGION,
        key_version=key_version,
        recipient_public_key=public_key_bytes(pair),
    )
    return open_envelope(pair, envelope, terminal_id.encode())[:16]


def _facts(**changes: object) -> Facts:
    version = get_security_module().terminal_key_version(region_code=REGION)
    return Facts(**{"terminal_id": "T440304AB12CD34", "key_version": version, **changes})  # type: ignore[arg-type]


def _signed(terminal: Facts | object, *, timestamp: int, method: str = "POST", key_version: int | None = None,
            body: bytes = BODY) -> SignedHeaders:  # fmt: skip
    tid, version = terminal.terminal_id, terminal.key_version  # type: ignore[attr-defined]
    return sign_request(
        key=_mac_key(tid, version), suite=get_security_module().suite, method=method, target=TARGET,
        terminal_id=tid, key_version=version if key_version is None else key_version, body=body,
        timestamp=timestamp,
    )  # fmt: skip


def _authenticated(terminal: Facts | object) -> AuthenticatedTerminal:
    t = terminal
    return AuthenticatedTerminal(
        terminal_id=t.terminal_id, institution_name=t.institution_name,  # type: ignore[attr-defined]
        institution_type=t.institution_type, region_code=t.region_code,  # type: ignore[attr-defined]
        key_version=t.key_version, suite=t.suite,  # type: ignore[attr-defined]
    )  # fmt: skip


# ------------------------------------------------------------------------------------ check_signature
# rule CH-3: an authentic, fresh request of an active terminal is accepted as that terminal, every field of it
def test_an_authentic_request_is_accepted_as_its_terminal() -> None:
    terminal, now = _facts(), int(time.time())
    signed = _signed(terminal, timestamp=now)
    outcome = check_signature(terminal, signed, method="POST", target=TARGET, body=BODY, now=now + 120)
    assert outcome == _authenticated(terminal)
    # the method is case-insensitive on the wire (canonical form: upper case), as the terminal signed it
    assert check_signature(terminal, signed, method="post", target=TARGET, body=BODY, now=now) == outcome


# rule CH-3 / CH-4: each check's refusal, whole — its contract code, the words the audit keeps, the claimed
# terminal's region and institution type, and whether the refusal is of an active terminal (audited alone)
def test_each_check_refuses_with_its_code_and_words() -> None:
    terminal, now = _facts(), int(time.time())
    signed = _signed(terminal, timestamp=now)

    def check(t: Facts | None, s: SignedHeaders = signed, *, method: str = "POST", target: str = TARGET,
              body: bytes = BODY, at: float = now) -> object:  # fmt: skip
        return check_signature(t, s, method=method, target=target, body=body, now=at)

    known = {"region": REGION, "role": "pharmacy", "known": True}
    assert check(None) == Refusal(TERMINAL_UNKNOWN, "no such terminal")
    for status in (TerminalStatus.BLOCKED, TerminalStatus.RETIRED):
        refused = check(_facts(status=status))
        assert refused == Refusal(TERMINAL_UNKNOWN, f"terminal is {status.value}", region=REGION, role="pharmacy")
    newer = _facts(key_version=terminal.key_version + 1)
    assert check(newer) == Refusal(
        MAC_INVALID, f"key version {terminal.key_version} is not the terminal's current key", **known
    )
    assert check(terminal, method="NOT A TOKEN") == Refusal(
        MAC_INVALID, "the HTTP method is not a plain token", **known
    )
    assert check(terminal, target="api/v1/terminal/echo") == Refusal(
        MAC_INVALID, "the request target must be an ASCII path starting with /", **known
    )
    bad_mac = Refusal(MAC_INVALID, "the MAC does not match the canonical request", **known)
    assert check(terminal, body=b'{"message":"b"}') == bad_mac
    assert check(terminal, target=TARGET + "x") == bad_mac
    assert check(terminal, method="PUT") == bad_mac
    for field, value in (("timestamp", now + 1), ("nonce", "f" * 32), ("terminal_id", "T440304AB12CD35")):
        changed = SignedHeaders(**{**_fields(signed), field: value})
        assert check(terminal if field != "terminal_id" else _facts(terminal_id=value), changed) == bad_mac, field
    stale = Refusal(REPLAY, "the timestamp is more than 120 s from the server clock", **known)
    assert check(terminal, at=now + 121) == stale and check(terminal, at=now - 121) == stale


def _fields(signed: SignedHeaders) -> dict[str, object]:
    return {k: getattr(signed, k) for k in ("terminal_id", "timestamp", "nonce", "key_version", "mac")}


# rule CH-3: every byte of the MAC counts, the last one too (a comparison of a prefix would let it through)
@pytest.mark.parametrize("index", [0, 7, 15])
def test_a_mac_wrong_in_one_byte_is_refused(index: int) -> None:
    terminal, now = _facts(), int(time.time())
    mac = bytearray(_signed(terminal, timestamp=now).mac)
    mac[index] ^= 0x01
    signed = SignedHeaders(**{**_fields(_signed(terminal, timestamp=now)), "mac": bytes(mac)})
    refused = check_signature(terminal, signed, method="POST", target=TARGET, body=BODY, now=now)
    assert isinstance(refused, Refusal) and refused.code == MAC_INVALID


# ---------------------------------------------------------------------------------- refusal_of_headers
# rule CH-4: a request whose headers do not parse is refused with the header check's own code and words, and
# audited under the terminal id it claims (read under the protocol's header name, as parse_headers reads it)
# when that is a well-formed id, else under "unknown"
def test_malformed_headers_are_refused_under_the_id_they_claim() -> None:
    def refused(headers: dict[str, str]) -> tuple[str, Refusal]:
        with pytest.raises(ProtocolError) as error:
            parse_headers(headers)
        return refusal_of_headers(headers, error.value)

    missing_version = Refusal(MAC_INVALID, "X-Terminal-Key-Version is missing or malformed")
    assert refused({H_TERMINAL_ID: "T440304AB12CD34"}) == ("T440304AB12CD34", missing_version)
    bad_id = Refusal(TERMINAL_UNKNOWN, "X-Terminal-Id is missing or malformed")
    assert refused({}) == ("unknown", bad_id)
    assert refused({H_TERMINAL_ID: "T 4403"}) == ("unknown", bad_id)


# -------------------------------------------------------------------------------------- check_request
def _registered(uow) -> object:
    ensure_region(uow, REGION)
    return register_terminal(
        uow, institution_name="规则药房", institution_type=InstitutionType.CLINIC, region_code=REGION,
        public_key=public_key_bytes(generate_enrollment_key()), suite=get_security_module().suite,
        actor=Actor.system(),
    )  # fmt: skip


def _nonces(uow, terminal_id: str) -> dict[str, datetime]:
    rows = uow.session.execute(
        select(TerminalNonce.nonce, TerminalNonce.expires_at).where(TerminalNonce.terminal_id == terminal_id)
    ).all()
    return {nonce: expires.replace(tzinfo=UTC) if expires.tzinfo is None else expires for nonce, expires in rows}


# rule CH-3: a registered terminal's request is accepted once; its nonce is kept until the timestamp leaves the
# window; the same request again is a replay of that terminal (audited alone, under its region and type)
def test_a_request_is_accepted_once_and_its_nonce_kept(uow) -> None:
    terminal, now = _registered(uow), int(time.time())
    signed = _signed(terminal, timestamp=now - 60)
    outcome = check_request(uow, signed, method="POST", target=TARGET, body=BODY, now=now)
    assert outcome == _authenticated(terminal)
    assert _nonces(uow, terminal.terminal_id) == {signed.nonce: datetime.fromtimestamp(now + 60, UTC)}
    again = check_request(uow, signed, method="POST", target=TARGET, body=BODY, now=now)
    assert again == Refusal(REPLAY, "the nonce was already used", region=REGION, role="clinic", known=True)
    stranger = check_request(uow, _signed(_facts(terminal_id="T440304FFFFFFFF"), timestamp=now), method="POST",
                             target=TARGET, body=BODY, now=now)  # fmt: skip
    assert stranger == Refusal(TERMINAL_UNKNOWN, "no such terminal")


# rule CH-3: every PURGE_EVERY-th accepted request purges the nonces that expired by the request's clock
def test_every_nth_accepted_request_purges_by_the_requests_clock(uow, monkeypatch) -> None:
    terminal, wall = _registered(uow), int(time.time())
    monkeypatch.setattr(auth, "PURGE_EVERY", 2)
    monkeypatch.setattr(auth, "_requests", itertools.count(1))
    consume_nonce(uow, terminal_id="T-old", nonce="a" * 32, timestamp=wall - 11 * DAY - 120)  # expired 11 days ago
    consume_nonce(uow, terminal_id="T-old", nonce="b" * 32, timestamp=wall - 5 * DAY - 120)  # expired 5 days ago
    now = wall - 10 * DAY  # the request's clock: ten days back (the server's clock is the caller's business)
    for expected in ({"a" * 32, "b" * 32}, {"b" * 32}):  # the 1st request purges nothing, the 2nd does
        signed = _signed(terminal, timestamp=now)
        assert check_request(uow, signed, method="POST", target=TARGET, body=BODY, now=now) == _authenticated(terminal)
        assert set(_nonces(uow, "T-old")) == expected


# ------------------------------------------------------------------------------------- record_refusal
@pytest.fixture
def limited(monkeypatch):
    """Three refusals a source may make per 60 s window before it waits."""
    monkeypatch.setenv("SSCARD_TERMINAL_REFUSALS_PER_WINDOW", "3")
    monkeypatch.setenv("SSCARD_TERMINAL_REFUSAL_WINDOW_SECONDS", "60")
    reset_settings_cache()
    yield
    reset_settings_cache()


TID = "T440304AB12CD34"
PATH = "/api/v1/terminal/echo"


def _entries(uow, terminal_id: str) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.subject == f"terminal:{terminal_id}").order_by(AuditEntry.id)
    return list(uow.session.scalars(stmt))


def _who(entry: AuditEntry) -> tuple[str, ...]:
    return (entry.action, entry.actor_kind, entry.actor_id, entry.channel, entry.role, entry.region, entry.result)


# rule CH-3 / CH-4 / KEY-9: each refusal of a registered, active terminal is audited on its own, as done by that
# terminal on the terminal channel with its type and region, with the method, path, reason and the source's
# reference (never the address); the caller hears the check's words
def test_a_known_terminals_refusals_are_each_audited(uow, limited) -> None:
    source, t0 = fresh_address(), time.time()
    refusal = Refusal(MAC_INVALID, "the MAC does not match the canonical request", region=REGION, role="pharmacy",
                      known=True)  # fmt: skip
    for i in range(2):
        error = record_refusal(uow, terminal_id=TID, method="POST", path=PATH, refusal=refusal, source=source,
                               now=t0 + i)  # fmt: skip
        assert type(error) is MacInvalid and error.detail == refusal.detail
    entries = _entries(uow, TID)
    assert [_who(e) for e in entries] == [
        ("terminal.request.refused", "terminal", TID, "terminal", "pharmacy", REGION, "MAC_INVALID")
    ] * 2
    ref = throttle.source_key(source).hex()[:16]
    expected = {"method": "POST", "path": PATH, "reason": refusal.detail, "source": ref}
    assert [json.loads(e.details) for e in entries] == [expected, expected]
    replay = Refusal(REPLAY, "the nonce was already used", region=REGION, role="pharmacy", known=True)
    error = record_refusal(uow, terminal_id=TID, method="POST", path=PATH, refusal=replay, source=source, now=t0 + 2)
    assert type(error) is Replay and error.detail == "the nonce was already used"


# rule CH-4: what the entry keeps of the request is bounded: 16 characters of method, 200 of path
def test_the_refusal_keeps_a_bounded_method_and_path(uow, limited) -> None:
    refusal = Refusal(REPLAY, "the nonce was already used", region=REGION, role="pharmacy", known=True)
    long_path = "/api/v1/terminal/" + "z" * 300
    record_refusal(uow, terminal_id=TID, method="M" * 20, path=long_path, refusal=refusal, source=fresh_address(),
                   now=time.time())  # fmt: skip
    details = json.loads(_entries(uow, TID)[-1].details)
    assert (details["method"], details["path"]) == ("M" * 16, long_path[:200])


# rule CH-3 / CH-4 (issue 17 item 10): refusals nobody authenticated are counted per source; the first of a
# window is audited with a summary, the rest only counted; past the limit the source waits (60 s) and the
# start of the wait is audited with the count; during the wait nothing is counted or written; the first
# refusal of the next window carries the previous window's total. The caller never learns why an id is refused.
def test_unauthenticated_refusals_are_counted_summarised_and_limited(uow, limited) -> None:
    source, t0 = fresh_address(), float(int(time.time()))
    unknown = Refusal(TERMINAL_UNKNOWN, "no such terminal")

    def refuse(at: float) -> object:
        return record_refusal(uow, terminal_id=TID, method="POST", path=PATH, refusal=unknown, source=source, now=at)

    for i in range(3):
        error = refuse(t0 + i)
        assert type(error) is TerminalUnknown and error.detail == "not registered or not active"
    ref = throttle.source_key(source).hex()[:16]
    where = {"method": "POST", "path": PATH, "reason": "no such terminal", "source": ref}
    summary = "first refusal of this source in a 60 s window; the rest are counted"
    entries = _entries(uow, TID)
    assert [_who(e) for e in entries] == [
        ("terminal.request.refused", "terminal", TID, "terminal", "", "", TERMINAL_UNKNOWN)
    ]
    assert json.loads(entries[0].details) == {**where, "summary": summary}

    throttled = refuse(t0 + 3)  # the 4th in the window: the source waits
    assert type(throttled) is TerminalThrottled and throttled.extra["retry_after"] == 60
    assert throttled.detail == "try again in 60 seconds"
    entries = _entries(uow, TID)
    assert [_who(e) for e in entries][1:] == [
        ("terminal.request.refused", "terminal", TID, "terminal", "", "", "throttled")
    ]
    assert json.loads(entries[1].details) == {**where, "refusals_in_window": 4, "window_seconds": 60, "retry_after": 60}

    waiting = refuse(t0 + 13)  # during the wait: answered, not counted, not written
    assert type(waiting) is TerminalThrottled and waiting.extra["retry_after"] == 50
    assert len(_entries(uow, TID)) == 2
    assert throttle.counter_row(uow, kind=REFUSAL_KIND, key=throttle.source_key(source)).failures == 4

    error = refuse(t0 + 200)  # the wait and the window are over: a new window, with the last one's total
    assert type(error) is TerminalUnknown
    entries = _entries(uow, TID)
    assert [e.result for e in entries] == [TERMINAL_UNKNOWN, "throttled", TERMINAL_UNKNOWN]
    assert json.loads(entries[2].details) == {**where, "summary": summary, "previous_window_refusals": 4}

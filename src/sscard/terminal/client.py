"""The terminal client: enroll, sign and send requests, turn problem+json answers into ``TerminalError``.

    profile = enroll("http://127.0.0.1:8000", staff_token=token, institution="仁和大药房")
    save_profile(profile)
    with TerminalClient("http://127.0.0.1:8000", profile) as terminal:
        terminal.echo("hello")
        block = terminal.pin_block("A00000001", "123456")   # hex, for a PIN request body

Imports only ``httpx`` and ``cryptography`` (through the SDK's own modules).
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from sscard.terminal.envelope import EnvelopeError, open_envelope, public_key_bytes
from sscard.terminal.pinblock import encipher_pin_block, pin_block_pan
from sscard.terminal.profile import TerminalProfile, key_check_value
from sscard.terminal.protocol import sign_request

API_PREFIX = "/api/v1"
PROBLEM_JSON = "application/problem+json"


@cache
def _tls() -> ssl.SSLContext:
    """The TLS settings every client of this process verifies servers with: httpx's defaults (certifi's
    roots, or SSL_CERT_FILE / SSL_CERT_DIR as read at first use), built once. httpx builds them anew for
    each client, ~15 ms of loading the root certificates each time, for every terminal and every login."""
    return httpx.create_ssl_context()


def _client(timeout: float) -> httpx.Client:
    return httpx.Client(timeout=timeout, verify=_tls())


class TerminalError(Exception):
    """The server refused (``code`` from its problem+json), or could not be reached or understood."""

    def __init__(self, code: str, detail: str, status: int = 0, problem: dict[str, Any] | None = None) -> None:
        self.code = code
        self.detail = detail
        self.status = status
        self.problem = problem or {}
        super().__init__(f"{code}: {detail}")


def _json_bytes(payload: Any) -> bytes:
    # The MAC covers these exact bytes, so they are produced once and sent as they are.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json() if response.content else {}
    except ValueError:
        data = None
    if response.is_error:
        problem = data if isinstance(data, dict) else {}
        code = str(problem.get("code") or f"HTTP_{response.status_code}")
        detail = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
        raise TerminalError(code, detail, response.status_code, problem)
    if not isinstance(data, dict):
        raise TerminalError("BAD_RESPONSE", "the server's answer is not a JSON object", response.status_code)
    return data


def _send(http: httpx.Client, request: httpx.Request) -> dict[str, Any]:
    try:
        response = http.send(request)
    except httpx.HTTPError as exc:
        # Say where: a simulator pointed at the wrong port is the usual cause (SSCARD_API_URL / SSCARD_PORT).
        origin = f"{request.url.scheme}://{request.url.netloc.decode('ascii', 'replace')}"
        raise TerminalError("SERVER_UNREACHABLE", f"no answer from {origin} ({exc or type(exc).__name__})") from None
    return _answer(response)


class TerminalClient:
    """Signs every request with the terminal key (docs/terminal-protocol.md) and sends it."""

    def __init__(
        self,
        base_url: str,
        profile: TerminalProfile,
        *,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self._own_http = http is None
        self._http = http or _client(timeout)
        self._clock = clock

    def __enter__(self) -> TerminalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def build_request(
        self, method: str, path: str, *, json_body: Any = None, params: dict[str, str] | None = None
    ) -> httpx.Request:
        """A signed request, ready to send (``path`` is relative to /api/v1, e.g. "/terminal/echo")."""
        body = b"" if json_body is None else _json_bytes(json_body)
        headers = {"Accept": "application/json"}
        if json_body is not None:
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(
            method.upper(), self.base_url + API_PREFIX + path, params=params, content=body, headers=headers
        )
        signed = sign_request(
            key=self.profile.mac_key,
            suite=self.profile.suite,
            method=request.method,
            # What goes on the wire after the host: path and query, percent-encoded as httpx sends them.
            target=request.url.raw_path.decode("ascii"),
            terminal_id=self.profile.terminal_id,
            key_version=self.profile.key_version,
            body=body,
            timestamp=int(self._clock()),
        )
        request.headers.update(signed.as_dict())
        return request

    def request(
        self, method: str, path: str, *, json_body: Any = None, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Sign, send and return the JSON answer; ``TerminalError`` for any refusal."""
        return _send(self._http, self.build_request(method, path, json_body=json_body, params=params))

    def echo(self, message: str = "") -> dict[str, Any]:
        """A signed round trip: the server answers with what it saw of this terminal."""
        return self.request("POST", "/terminal/echo", json_body={"message": message})

    def status(self) -> dict[str, Any]:
        """The terminal as registered (a signed GET)."""
        return self.request("GET", "/terminal/status")

    def settle(
        self, card_no: str, amount_fen: int, txn_id: str, *, pin: str | None = None, partial: bool = False
    ) -> dict[str, Any]:
        """Pay from the medical personal account (FIN-1) in one signed round trip; the PIN block goes with it
        when ``pin`` is given. The same ``txn_id`` again returns the first answer and moves nothing."""
        body: dict[str, Any] = {"card_no": card_no, "amount_fen": amount_fen, "txn_id": txn_id}
        if pin is not None:
            body["pin_block"] = self.pin_block(card_no, pin)
        if partial:
            body["partial"] = True
        return self.request("POST", "/terminal/settlement", json_body=body)

    def refund(self, txn_id: str, refund_txn_id: str, *, amount_fen: int | None = None) -> dict[str, Any]:
        """Refund part (``amount_fen``) or the rest of settlement ``txn_id``; idempotent by ``refund_txn_id``."""
        body: dict[str, Any] = {"txn_id": txn_id, "refund_txn_id": refund_txn_id}
        if amount_fen is not None:
            body["amount_fen"] = amount_fen
        return self.request("POST", "/terminal/settlement/refund", json_body=body)

    def reverse(self, txn_id: str, reversal_txn_id: str) -> dict[str, Any]:
        """Reverse settlement ``txn_id`` of today in full; idempotent by ``reversal_txn_id``."""
        body = {"txn_id": txn_id, "reversal_txn_id": reversal_txn_id}
        return self.request("POST", "/terminal/settlement/reverse", json_body=body)

    def pin_block(self, card_no: str, pin: str, *, bank_pan: str | None = None) -> str:
        """The ISO 9564 format-4 block of ``pin`` for ``card_no`` under the terminal's PIN key, as hex."""
        pan = pin_block_pan(card_no, bank_pan=bank_pan)
        return encipher_pin_block(self.profile.pin_key, pin, pan, cipher=self.profile.pin_cipher).hex()


def generate_enrollment_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key pair; only its public half is sent, the private half opens the key envelope."""
    return ec.generate_private_key(ec.SECP256R1())


def staff_login(
    base_url: str, username: str, password: str, *, otp: str | None = None, http: httpx.Client | None = None
) -> str:
    """A staff bearer token (enrollment is done by an administrator or security officer on site)."""
    client = http or _client(10.0)
    try:
        request = client.build_request(
            "POST",
            base_url.rstrip("/") + API_PREFIX + "/staff/login",
            json={"username": username, "password": password, **({"otp": otp} if otp else {})},
        )
        return str(_send(client, request)["access_token"])
    finally:
        if http is None:
            client.close()


def staff_logout(base_url: str, token: str, *, http: httpx.Client | None = None) -> None:
    """End a staff session opened for enrollment (best effort: the token expires anyway)."""
    client = http or _client(10.0)
    try:
        url = base_url.rstrip("/") + API_PREFIX + "/staff/logout"
        client.post(url, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError:
        pass
    finally:
        if http is None:
            client.close()


def enroll(
    base_url: str,
    *,
    staff_token: str,
    institution: str,
    institution_type: str = "pharmacy",
    region_code: str | None = None,
    http: httpx.Client | None = None,
    private_key: ec.EllipticCurvePrivateKey | None = None,
) -> TerminalProfile:
    """Register this terminal and load its key: the server seals the key to our fresh public key."""
    key_pair = private_key or generate_enrollment_key()
    body: dict[str, Any] = {
        "institution": institution,
        "institution_type": institution_type,
        "public_key": base64.b64encode(public_key_bytes(key_pair)).decode("ascii"),
    }
    if region_code:
        body["region_code"] = region_code
    client = http or _client(10.0)
    try:
        request = client.build_request(
            "POST",
            base_url.rstrip("/") + API_PREFIX + "/terminal/enroll",
            json=body,
            headers={"Authorization": f"Bearer {staff_token}"},
        )
        answer = _send(client, request)
    finally:
        if http is None:
            client.close()
    return _profile_from_enrollment(base_url, answer, key_pair)


def _profile_from_enrollment(
    base_url: str, answer: dict[str, Any], key_pair: ec.EllipticCurvePrivateKey
) -> TerminalProfile:
    try:
        terminal_id, suite = str(answer["terminal_id"]), str(answer["suite"])
        mac_kcv, pin_kcv = str(answer["mac_kcv"]), str(answer["pin_kcv"])
        envelope = base64.b64decode(answer["key_envelope"], validate=True)
        keys = open_envelope(key_pair, envelope, terminal_id.encode("ascii"))
    except (KeyError, ValueError, EnvelopeError) as exc:
        raise TerminalError("KEY_ENVELOPE_INVALID", f"the enrollment answer cannot be used: {exc}") from None
    mac_key, pin_key = split_terminal_keys(keys)
    # The KCVs prove the keys we opened are the keys the server holds, before we rely on them.
    if key_check_value(mac_key, suite) != mac_kcv or key_check_value(pin_key, suite) != pin_kcv:
        raise TerminalError("KEY_CHECK_FAILED", "the loaded keys do not match the server's key check values")
    return TerminalProfile(
        terminal_id=terminal_id,
        suite=suite,
        key_version=int(answer["key_version"]),
        mac_kcv=mac_kcv,
        pin_kcv=pin_kcv,
        region_code=str(answer.get("region_code", "")),
        institution=str(answer.get("institution", "")),
        institution_type=str(answer.get("institution_type", "")),
        api_url=base_url,
        mac_key=mac_key,
        pin_key=pin_key,
    )


def split_terminal_keys(keys: bytes) -> tuple[bytes, bytes]:
    """(MAC key, PIN key) from an opened key envelope: MAC key ‖ PIN key, 16 bytes each."""
    if len(keys) != 32:
        raise TerminalError("KEY_ENVELOPE_INVALID", "the key envelope holds a MAC key and a PIN key (32 bytes)")
    return keys[:16], keys[16:]

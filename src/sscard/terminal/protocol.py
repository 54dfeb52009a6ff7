"""The signed terminal request (rule CH-3): canonical bytes, CMAC, headers — one implementation that
the SDK (signing) and the server (verifying) share, so the two can never disagree.

Canonical request: seven lines joined by a single LF (0x0A), no trailing LF, ASCII only:

    METHOD                 upper case, e.g. POST
    request target         the path as sent on the wire (percent-encoding kept), then "?" and the
                           query string exactly as sent, if there is one: /api/v1/terminal/echo?x=1
    terminal id            as in X-Terminal-Id
    timestamp              unix seconds, decimal, as in X-Terminal-Timestamp
    nonce                  32 lower-case hex digits (16 random bytes), as in X-Terminal-Nonce
    key version            decimal, as in X-Terminal-Key-Version
    body digest            SHA-256 of the exact body bytes, 64 lower-case hex digits (empty body too)

MAC = CMAC (NIST SP 800-38B, full 16 bytes) over those bytes under the terminal key: SM4-CMAC for
suite ``sm``, AES-CMAC for suite ``intl`` (the suite is announced at enrollment). Sent as 32 hex
digits in X-Terminal-Mac.

Imports only the standard library and ``cryptography``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms

PROTOCOL_VERSION = "1"
WINDOW_SECONDS = 120
NONCE_BYTES = 16
MAC_BYTES = 16
SUITES = {"sm": "SM4-CMAC", "intl": "AES-CMAC"}

H_TERMINAL_ID = "X-Terminal-Id"
H_TIMESTAMP = "X-Terminal-Timestamp"
H_NONCE = "X-Terminal-Nonce"
H_KEY_VERSION = "X-Terminal-Key-Version"
H_MAC = "X-Terminal-Mac"
HEADERS = (H_TERMINAL_ID, H_TIMESTAMP, H_NONCE, H_KEY_VERSION, H_MAC)

# The refusal codes of contract.md, one per failed check.
TERMINAL_UNKNOWN = "TERMINAL_UNKNOWN"
MAC_INVALID = "MAC_INVALID"
REPLAY = "REPLAY"

TERMINAL_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_NONCE = re.compile(r"^[0-9a-f]{32}$")
_KEY_VERSION = re.compile(r"^[1-9][0-9]{0,5}$")
_MAC = re.compile(r"^[0-9a-fA-F]{32}$")
_METHOD = re.compile(r"^[A-Z]{1,16}$")


class ProtocolError(ValueError):
    """A request that cannot be verified; ``code`` is the contract code the server answers with."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    """The five authentication headers of one request, parsed and checked for shape."""

    terminal_id: str
    timestamp: int
    nonce: str
    key_version: int
    mac: bytes

    def as_dict(self) -> dict[str, str]:
        return {
            H_TERMINAL_ID: self.terminal_id,
            H_TIMESTAMP: str(self.timestamp),
            H_NONCE: self.nonce,
            H_KEY_VERSION: str(self.key_version),
            H_MAC: self.mac.hex(),
        }


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def request_target(path: str, query: str = "") -> str:
    """Path plus "?query" when there is a query: the second canonical line."""
    return f"{path}?{query}" if query else path


def canonical_request(
    *, method: str, target: str, terminal_id: str, timestamp: int, nonce: str, key_version: int, body: bytes
) -> bytes:
    """The exact bytes that are MACed (module docstring)."""
    method = method.upper()
    if not _METHOD.match(method):
        raise ProtocolError(MAC_INVALID, "the HTTP method is not a plain token")
    if not target.startswith("/") or not target.isascii() or any(c in target for c in "\r\n \t"):
        raise ProtocolError(MAC_INVALID, "the request target must be an ASCII path starting with /")
    lines = [method, target, terminal_id, str(timestamp), nonce, str(key_version), body_digest(body)]
    return "\n".join(lines).encode("ascii")


def compute_mac(key: bytes, suite: str, data: bytes) -> bytes:
    """CMAC-16 of ``data`` under a terminal key held in clear (the SDK side; the server uses its HSM)."""
    if suite not in SUITES:
        raise ProtocolError(MAC_INVALID, f"unknown suite {suite!r}; expected one of {', '.join(SUITES)}")
    algorithm = algorithms.SM4(key) if suite == "sm" else algorithms.AES(key)
    mac = cmac.CMAC(algorithm)
    mac.update(data)
    return mac.finalize()


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def sign_request(
    *,
    key: bytes,
    suite: str,
    method: str,
    target: str,
    terminal_id: str,
    key_version: int,
    body: bytes,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> SignedHeaders:
    """The authentication headers for one request (fresh nonce and current time unless given)."""
    ts = int(time.time()) if timestamp is None else timestamp
    nonce = new_nonce() if nonce is None else nonce
    data = canonical_request(
        method=method, target=target, terminal_id=terminal_id, timestamp=ts, nonce=nonce,
        key_version=key_version, body=body,
    )  # fmt: skip
    return SignedHeaders(terminal_id, ts, nonce, key_version, compute_mac(key, suite, data))


def parse_headers(headers: Mapping[str, str]) -> SignedHeaders:
    """Check the five headers' shape; a missing or malformed one raises with the code of its check."""
    terminal_id = headers.get(H_TERMINAL_ID) or ""
    if not TERMINAL_ID.match(terminal_id):
        raise ProtocolError(TERMINAL_UNKNOWN, f"{H_TERMINAL_ID} is missing or malformed")
    key_version = headers.get(H_KEY_VERSION) or ""
    if not _KEY_VERSION.match(key_version):
        raise ProtocolError(MAC_INVALID, f"{H_KEY_VERSION} is missing or malformed")
    mac = headers.get(H_MAC) or ""
    if not _MAC.match(mac):
        raise ProtocolError(MAC_INVALID, f"{H_MAC} is missing or is not 32 hex digits")
    timestamp = headers.get(H_TIMESTAMP) or ""
    if not _TIMESTAMP.match(timestamp):
        raise ProtocolError(REPLAY, f"{H_TIMESTAMP} is missing or is not unix seconds")
    nonce = headers.get(H_NONCE) or ""
    if not _NONCE.match(nonce):
        raise ProtocolError(REPLAY, f"{H_NONCE} is missing or is not 32 lower-case hex digits")
    return SignedHeaders(terminal_id, int(timestamp), nonce, int(key_version), bytes.fromhex(mac))


def is_fresh(timestamp: int, now: float, window: int = WINDOW_SECONDS) -> bool:
    """True when ``timestamp`` is within ``window`` seconds of ``now`` (either side: clocks drift)."""
    return abs(now - timestamp) <= window

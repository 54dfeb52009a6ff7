"""The one place the source address of a request is decided (issue 17 item 11).

Every per-source limit (portal login QPW-7, staff login, the 12345 hotline, refused terminal traffic)
keys on this address. ``X-Forwarded-For`` is honoured only when the connection comes from a proxy in
``SSCARD_TRUSTED_PROXIES`` (comma-separated addresses or CIDR blocks; empty = trust none): the list is
walked from the right (the hop the trusted proxy saw) past every trusted proxy, and the first address
that is not one is the client. From anywhere else the header is ignored, so a client cannot pick its
own address by sending one (before, Uvicorn trusted it from loopback, and rotating it dodged every
per-source limit). Uvicorn's own proxy-header handling is switched off (``cli/serve.py``).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.types import Scope

from sscard.config import get_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


@lru_cache(maxsize=8)
def parse_trusted(spec: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 192.0.2.7"`` → networks; a malformed entry is a configuration error (ValueError)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in trusted)


def peer_address(scope: Scope) -> str:
    """The address of the connection itself (the proxy's, behind one)."""
    client = scope.get("client")
    return str(client[0]) if client else UNKNOWN


def client_address(scope: Scope, trusted_spec: str | None = None) -> str:
    """The request's source address: the peer, or behind trusted proxies the client they forwarded for."""
    peer = peer_address(scope)
    spec = get_settings().trusted_proxies if trusted_spec is None else trusted_spec
    if not spec:
        return peer
    trusted = parse_trusted(spec)
    if not _is_trusted(peer, trusted):
        return peer
    hops: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops.extend(h.strip() for h in value.decode("latin-1").split(","))
    for hop in reversed(hops):
        if not hop:
            continue
        if not _is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from a trusted proxy: fall back to the proxy itself
    return peer

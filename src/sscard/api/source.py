"""The caller's address (trusted proxies only): kept in ``sscard.web.source``, shared with the pages."""

from sscard.web.source import client_address, parse_trusted, peer_address

__all__ = ["client_address", "parse_trusted", "peer_address"]

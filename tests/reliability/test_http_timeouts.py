"""Idle and trickling clients cannot hold the server's connections (issue 16): a connection that sends
no request head within the header timeout is closed, and so is an idle one after its keep-alive."""

from __future__ import annotations

import os
import socket
import time

import pytest

from tests.reliability.servers import running_server


@pytest.fixture
def server(db_env):
    env = {
        **os.environ,
        "SSCARD_DATABASE_URL": db_env.url,
        "SSCARD_DATABASE_SCHEMA": db_env.schema,
        "SSCARD_HTTP_HEADER_TIMEOUT_S": "1",
        "SSCARD_HTTP_KEEP_ALIVE_S": "1",
        "SSCARD_HTTP_BODY_TIMEOUT_S": "2",
    }
    with running_server(env) as s:
        yield s


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``sock`` (EOF or reset), None if it stayed open."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass  # an answer, then the close
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def _closed_while_trickling(sock: socket.socket, piece: bytes, *, every_s: float, for_s: float) -> bool:
    """Send ``piece`` every ``every_s`` for up to ``for_s``: whether the server closed the connection."""
    started = time.monotonic()
    while time.monotonic() - started < for_s:
        try:
            sock.sendall(piece)
        except OSError:
            return True
        time.sleep(every_s)
    return _closed_within(sock, 1) is not None


def _connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


# rule CH-3 (a channel that stays available): silent, slow and idle connections are closed
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_connections_that_send_nothing_trickle_or_idle_are_closed(server) -> None:
    with _connect(server) as silent:
        assert _closed_within(silent, 6) is not None, "a connection that sent nothing stayed open"

    with _connect(server) as slow:
        slow.sendall(b"GET /api/v1/health HTTP/1.1\r\n")  # one header line every 0.3 s, never finishing the head
        assert _closed_while_trickling(slow, b"X-Slow: 1\r\n", every_s=0.3, for_s=6), (
            "a trickling head kept its connection"
        )

    with _connect(server) as slow_body:  # prompt headers, then one body byte every 0.5 s
        slow_body.sendall(
            b"POST /api/v1/staff/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        assert _closed_while_trickling(slow_body, b" ", every_s=0.5, for_s=8), "a trickling body kept its connection"

    with _connect(server) as idle:
        idle.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(4096).startswith(b"HTTP/1.1 200")
        assert _closed_within(idle, 6) is not None, "an idle keep-alive connection stayed open"

    with _connect(server) as healthy:  # a prompt client is served as before
        healthy.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert healthy.recv(4096).startswith(b"HTTP/1.1 200")

"""``sscard serve``: the API and pages on Uvicorn (uvloop + httptools)."""

from __future__ import annotations

import errno
import socket
from typing import Annotated, Any

import typer

from sscard.config import get_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default SSCARD_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default SSCARD_PORT or 8000).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default SSCARD_WORKERS or 1).")] = None,
    dispatch: Annotated[
        bool, typer.Option(help="Also deliver queued SMS and e-mail (the notify outbox) while serving.")
    ] = True,
) -> None:
    """Run the API and pages (and, by default, the notification dispatcher).

    With SSCARD_ENV=prod it first refuses to start (exit 1, every problem named) on development material:
    a development national root key or master key file, the soft keystore without
    SSCARD_ALLOW_SOFT_KEYSTORE=true, demo staff accounts or the published demo password, file-sink SMS or
    e-mail delivery.
    """
    import contextlib

    from sscard.jobs.anchoring import background_anchoring
    from sscard.notify.dispatcher import background_dispatcher
    from sscard.startup import device_warning, production_problems

    settings = get_settings()
    problems = production_problems(settings)
    if problems:
        typer.echo(f"sscard: SSCARD_ENV=prod refuses to start ({len(problems)} problem(s)):", err=True)
        for problem in problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(1)
    h, p = host or settings.host, port or settings.port
    # Bind before saying anything: a busy port is one line and exit 1, not a banner that then fails.
    sock = bind_listener(h, p)
    base = f"http://[{h}]:{p}" if ":" in h else f"http://{h}:{p}"
    typer.echo(f"sscard serving on {base}/")
    typer.echo(f"  API docs   {base}/api/docs")
    typer.echo(f"  OpenAPI    {base}/api/openapi.json")
    typer.echo(f"  health     {base}/api/v1/health  (probes: {base}/livez, {base}/readyz)")
    typer.echo(f"  metrics    {base}/metrics")
    if settings.env == "dev":
        from sscard.demo.data import DEMO_STAFF_PASSWORD, STAFF

        names = ", ".join(s.username for s in STAFF[:3])
        typer.echo(
            f"  demo staff logins: {names}, ... (password {DEMO_STAFF_PASSWORD} unless changed; "
            f"`sscard demo load` lists them all, so does {base}/)"
        )
    typer.echo("  notifications " + ("delivered by this process" if dispatch else "not delivered (--no-dispatch)"))
    every = settings.audit_anchor_interval_s
    typer.echo("  audit anchors " + (f"every {every} s to {settings.anchor_path}" if every else "not written here"))
    typer.echo("  requests     " + ("one JSON line each on stderr" if settings.log_requests else "not logged"))
    warning = device_warning(settings)
    # KEY-4: once here, not on every command, nor again by create_app in this process (the guard records
    # it); a real deployment would be refused in prod
    if warning:
        typer.secho(f"WARNING (refused with SSCARD_ENV=prod): {warning}", err=True, fg="red", bold=True)
    typer.echo("Press Ctrl+C to stop.")
    # One dispatcher per server, whatever the worker count: it claims outbox rows, so a second server is safe.
    # Anchoring (audit/anchors.py), when enabled, also runs once per server, in this process.
    with background_dispatcher() if dispatch else contextlib.nullcontext(), background_anchoring(every):
        _run_uvicorn(sock, workers or settings.workers)


def bind_listener(host: str, port: int) -> socket.socket:
    """The listening socket, bound as Uvicorn binds it; a failure is one line naming the address, exit 1."""
    from sscard.cli.common import fail

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "the port is in use (another server? SSCARD_PORT or --port picks another)"
        if exc.errno != errno.EADDRINUSE:
            reason = exc.strerror or type(exc).__name__
        raise fail(f"cannot listen on {host}:{port}: {reason}", "ADDRESS_UNAVAILABLE") from None
    sock.set_inheritable(True)  # the worker processes serve it too
    return sock


def uvicorn_options() -> dict[str, Any]:
    """How Uvicorn runs the app (uvloop, httptools with our bounds, no access log: api/metrics.py logs
    each request as one JSON line instead)."""
    from sscard.api.http_protocol import BoundedHttpToolsProtocol

    return {
        "factory": True,
        "loop": "uvloop",
        "http": BoundedHttpToolsProtocol,
        "timeout_keep_alive": get_settings().http_keep_alive_s,
        "limit_concurrency": get_settings().http_max_connections,
        "access_log": False,
        "log_level": "warning",
        # X-Forwarded-For is ours to judge (SSCARD_TRUSTED_PROXIES, api/source.py): Uvicorn's default
        # believed it from loopback, so a client there could pick any source address it liked.
        "proxy_headers": False,
    }


def _run_uvicorn(sock: socket.socket, workers: int) -> None:
    """Serve the app on the bound socket, in this process or ``workers`` worker processes."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("sscard.api.app:create_app", workers=workers, **uvicorn_options())
    try:
        if config.workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            server = uvicorn.Server(config)
            server.run(sockets=[sock])
            if not server.started:  # the app failed to start (its error was logged): not a clean stop
                raise typer.Exit(1)
    except KeyboardInterrupt:
        pass

"""``sscard notify``: run the outbox dispatcher, list messages, re-queue failed ones."""

from __future__ import annotations

from typing import Annotated

import typer

from sscard.cli.common import console, handle_errors, print_json, row_id

app = typer.Typer(help="Notification outbox (SMS, e-mail, department notices).", no_args_is_help=True)


@app.command("dispatch")
@handle_errors
def dispatch(
    loop: Annotated[bool, typer.Option("--loop", help="Keep running; poll every --interval seconds.")] = False,
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between rounds with --loop.")] = 5.0,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="Messages per round.")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Send the due messages (once, or until interrupted with --loop); failures are retried later."""
    import threading

    from sscard.notify.dispatcher import dispatch_pending, run_loop

    if loop:
        stop = threading.Event()
        console.print(f"dispatching every {interval:g} s; Ctrl-C to stop")
        try:
            run_loop(stop=stop, interval=interval, limit=limit)
        except KeyboardInterrupt:
            stop.set()
        return
    report = dispatch_pending(limit=limit)
    result = {"claimed": report.claimed, "sent": report.sent, "retried": report.retried, "failed": report.failed}
    if as_json:
        print_json(result)
    else:
        console.print(
            f"{report.sent} sent, {report.retried} to retry, {report.failed} failed (of {report.claimed} due)"
        )


@app.command("list")
@handle_errors
def list_(
    state: Annotated[str | None, typer.Option(help="pending, sent or failed.")] = None,
    topic: Annotated[str | None, typer.Option(help="Topic prefix, e.g. keys.incident")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List messages, newest first, with masked recipients (never bodies)."""
    from sscard.db.session import unit_of_work
    from sscard.notify.errors import NotifyInvalid
    from sscard.notify.models import MessageState
    from sscard.notify.outbox import list_messages

    if state is not None and state not in {s.value for s in MessageState}:
        raise NotifyInvalid("state is one of pending, sent, failed")
    with unit_of_work() as uow:
        rows = [
            {
                "id": m.id,
                "channel": m.channel.value,
                "topic": m.topic,
                "to": m.recipient_masked,
                "state": m.state.value,
                "attempts": m.attempts,
                "next_attempt_at": m.next_attempt_at.isoformat(),
                "last_error": m.last_error,
            }
            for m in list_messages(uow, state=state, topic_prefix=topic, limit=limit)
        ]
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    cols = ("id", "channel", "topic", "to", "state", "attempts", "last_error")
    table = Table(*cols)
    for r in rows:
        table.add_row(*(str(r[k] if r[k] is not None else "") for k in cols))
    console.print(table)


@app.command("retry")
@handle_errors
def retry(
    message_id: Annotated[int, typer.Argument(callback=row_id, help="Outbox message id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Queue a failed message again with a fresh set of attempts."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.notify.outbox import requeue_failed

    with unit_of_work() as uow:
        requeue_failed(uow, message_id=message_id, actor=Actor.cli_operator())
    if as_json:
        print_json({"message_id": message_id, "status": "queued"})
        return
    console.print(f"message {message_id} queued again")

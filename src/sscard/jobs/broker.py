"""The message broker of batch work: RabbitMQ through Dramatiq, when ``SSCARD_BROKER_URL`` is set.

Several ``sscard worker`` processes, on one machine or many, take one region's batches from a queue.
What makes that safe, and why these two well-kept parts were chosen for it:

- RabbitMQ keeps the queue durable and each message persistent, and confirms a publish only once it
  holds the message (``confirm_delivery``): a batch the coordinator was told is queued is not lost.
- Dramatiq acknowledges a message only after its actor returned. A worker killed mid-batch (kill -9
  included) never acknowledged it, so RabbitMQ hands the batch to another worker; the actors are
  written so that doing a batch twice issues nothing twice (jobs/queued_statements.py).
- A batch that keeps failing is retried with backoff, then moved to the queue's dead-letter queue
  (``<queue>.XQ``), where the coordinator sees it and says so instead of waiting for ever.

Without a broker URL nothing here is imported and every job runs in process, as it always has.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from sscard.config import get_settings
from sscard.errors import DomainError

if TYPE_CHECKING:
    from collections.abc import Callable

    import dramatiq
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

# A batch that still fails after this many retries (backoff 1 s … 30 s) goes to the dead-letter queue.
MAX_RETRIES = 3
# The kinds of batch work, one queue each (``queue_name``): named here, so that ``sscard worker`` names its
# queues without importing the jobs themselves (the whole domain, ~0.8 s of every worker's start-up).
STATEMENTS = "statements"  # jobs/queued_statements.py
IMPORTS = "imports"  # jobs/queued_imports.py


class BrokerNotConfigured(DomainError):
    code = "BROKER_NOT_CONFIGURED"
    status = 503
    title = "No message broker is configured (SSCARD_BROKER_URL=amqp://user:password@host:5672/)."
    title_zh = "未配置消息队列（SSCARD_BROKER_URL=amqp://用户:密码@主机:5672/）。"


class BrokerUnreachable(DomainError):
    code = "BROKER_UNREACHABLE"
    status = 503
    title = "The message broker cannot be reached."
    title_zh = "无法连接消息队列。"


def configured() -> bool:
    url = get_settings().broker_url
    return url is not None and bool(url.get_secret_value())


def display_url(url: str) -> str:
    """The broker URL without its password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def queue_name(kind: str) -> str:
    """``<namespace>.<kind>``: installations and test runs sharing a broker never share a queue."""
    return f"{get_settings().broker_namespace}.{kind}"


@lru_cache(maxsize=1)
def broker() -> RabbitmqBroker:
    """The process's broker (also Dramatiq's global one, which actors declared later bind to)."""
    # Imported here: a process without a broker never loads Dramatiq or pika.
    import logging

    import dramatiq
    from dramatiq.brokers.rabbitmq import RabbitmqBroker
    from dramatiq.middleware import AgeLimit, Retries, ShutdownNotifications, TimeLimit

    # pika narrates every connection step, and its failures name the URL, password included: dramatiq
    # and check_reachable report what went wrong, with the password left out.
    logging.getLogger("pika").setLevel(logging.CRITICAL)

    settings = get_settings()
    if not configured():
        raise BrokerNotConfigured()
    url = settings.broker_url.get_secret_value()  # type: ignore[union-attr]
    middleware = [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Retries(max_retries=MAX_RETRIES, min_backoff=1_000, max_backoff=30_000),
    ]
    instance = RabbitmqBroker(url=url, confirm_delivery=True, middleware=middleware)
    dramatiq.set_broker(instance)
    return instance


def declare_actor(fn: Callable[..., None], *, name: str, kind: str, time_limit_s: int) -> dramatiq.Actor[Any, Any]:
    """``fn`` as an actor on the queue of ``kind`` (declared on first use: a decorator at import would
    need a broker then); a message still failing after ``MAX_RETRIES`` goes to the dead-letter queue."""
    import dramatiq

    declare = dramatiq.actor(actor_name=name, queue_name=queue_name(kind), broker=broker(), max_retries=MAX_RETRIES,
                             time_limit=time_limit_s * 1000)  # fmt: skip
    return declare(fn)


def check_reachable() -> None:
    """Open the connection now, so an unreachable broker is one clear error before any work starts."""
    url = get_settings().broker_url.get_secret_value()  # type: ignore[union-attr]
    try:
        broker().connection  # noqa: B018 - opening it is the check
    except Exception as exc:  # pika raises several unrelated classes for "cannot connect"
        reason = f"the message broker at {display_url(url)} cannot be reached ({type(exc).__name__})"
        raise BrokerUnreachable(reason) from None


def dead_letters(queue: str) -> int:
    """Messages of ``queue`` that failed every retry."""
    return broker().get_queue_message_counts(queue)[2]

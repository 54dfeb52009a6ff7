"""Settings, read once from ``SSCARD_*`` environment variables (and an optional ``.env``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Seconds the server's ``statement_timeout`` has to cancel cleanly before the client gives up.
GRACE_S = 2.0


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long a PostgreSQL session may wait: to connect, and for any one answer of the server
    (enforced by ``db/deadline.py``; here so that settings need not import the database layer)."""

    connect_s: int
    statement_s: float

    @property
    def answer_deadline_s(self) -> float:
        return self.statement_s + GRACE_S

    def options(self) -> str:
        """libpq ``options`` for the server's side of the bound."""
        return f"-cstatement_timeout={int(self.statement_s * 1000)}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SSCARD_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = Path("./var")
    # Empty means: the embedded SQLite file under data_dir.
    database_url: str = ""
    # PostgreSQL only: run in this schema (tests use a fresh one per run).
    database_schema: str = ""
    # PostgreSQL: a request fails with 503 within about this long when the database does not answer
    # (db/deadline.py): seconds to connect, and for any one statement (the server cancels it; a frozen
    # server is given up on GRACE_S later). Batch commands may raise the statement bound.
    database_connect_timeout_s: int = Field(default=3, ge=1, le=600)
    database_statement_timeout_s: float = Field(default=5.0, gt=0, le=86_400)
    # PostgreSQL only, optional: a streaming replica of the same database (same schema setting) for the
    # read-only routes (db/replica.py); empty: every read goes to the primary, as before. If it does not
    # answer, reads fall back to the primary and it is tried again after replica_retry_s.
    database_replica_url: str = ""
    database_replica_retry_s: float = Field(default=10.0, ge=0, le=3600)
    # A level logging knows (any case); another word is a configuration error (exit 2), not INFO in silence.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_json: bool = True

    # Security module backend and algorithm suite (see security_module/).
    hsm: Literal["soft", "pkcs11"] = "soft"
    # SSCARD_ENV=prod refuses the soft keystore (keys in a file, no certified device: KEY-4) unless this
    # says it was chosen on purpose (startup.py).
    allow_soft_keystore: bool = False
    crypto_suite: Literal["sm", "intl"] = "sm"
    # KEY-4: the cryptographic device the module runs on, as registered (``sscard keys device ...``):
    # its serial (a PKCS#11 token's own serial must agree), its model when serials could repeat, and
    # how often the register's verdict is asked again (security_module/device.py).
    hsm_device_serial: str | None = None
    hsm_device_model: str | None = None
    hsm_device_check_seconds: float = Field(default=60.0, gt=0, le=3600)
    master_key: SecretStr | None = None
    pkcs11_module: str = "/usr/lib/softhsm/libsofthsm2.so"
    pkcs11_token_label: str = "sscard"  # noqa: S105 - a label, not a secret
    pkcs11_user_pin: SecretStr | None = None

    # Audit chain: number of independent hash-chained streams. A transaction holds its stream's head
    # row until it commits, so two concurrent writers on one stream queue. A terminal PIN batch locks
    # the heads of all its cards (10–30), so two batches meet on some head with a probability of about
    # cards² / streams: at 128 streams PostgreSQL spent 12 % of its samples of the PIN benchmark
    # waiting on another batch's heads, at 1024 4 % (bench/README.md). Verification walks every
    # stream, a few queries each. Set it alike in every process and restart them together: a card's
    # new entries go to the stream of the current setting.
    audit_streams: int = Field(default=1024, ge=1, le=4096)
    # Audit anchors (audit/anchors.py): the append-only file outside the database that the chain is
    # checked against; empty means <data_dir>/audit/anchors.jsonl. One file per database: run
    # `sscard audit verify` / `sscard audit anchor` where it lives, and ship it to write-once storage.
    audit_anchor_file: str = ""
    # `sscard serve` also anchors every this many seconds (0 = only `audit verify` and `audit anchor`,
    # e.g. from cron). Enable it in one server per installation: the one whose data directory holds
    # the anchor file.
    audit_anchor_interval_s: int = Field(default=0, ge=0, le=7 * 86_400)
    # Every anchor is also a notice to this department's inbox (the notify outbox, department channel):
    # the auditors' copy of the anchored digest. Empty: no notice.
    audit_anchor_department: str = Field(default="000000", pattern=r"^([0-9]{6})?$")
    # The audit report flags a stretch longer than this without an anchor as a gap.
    audit_anchor_max_gap_s: int = Field(default=26 * 3600, ge=60)
    # Terminal PIN verifications share transactions (group commit, credentials/pin/batch_verify.py):
    # at most this many per batch, and this many batches in the database at once per process.
    pin_verify_batch: int = Field(default=64, ge=1, le=1000)
    pin_verify_connections: int = Field(default=1, ge=1, le=16)
    # Under load (the last batch had several requests) the next batch waits up to this long for as
    # many as the last one had; at low load it never waits. 0 = never wait.
    pin_verify_linger_ms: float = Field(default=1.0, ge=0, le=50)

    # Batch work over a queue (jobs/broker.py): with a RabbitMQ URL (amqp://user:password@host:5672/vhost),
    # `sscard statements generate` hands its batches to `sscard worker` processes on any machine that
    # share the database and the data directory; empty: the in-process path, as without a broker.
    # The namespace prefixes the queue names, so several installations (or test runs) can share a broker.
    broker_url: SecretStr | None = None
    broker_namespace: str = Field(default="sscard", pattern=r"^[a-z][a-z0-9_-]{0,39}$")

    # The 12345 hotline endpoints need no password (CARD-5, INS-5), so each source address may make this
    # many calls per window before it is made to wait (escalating from one minute): one script must not
    # block thousands of cards. The call centre's gateway is one source; size it to its peak hour.
    hotline_calls_per_window: int = Field(default=300, ge=1, le=1_000_000)
    hotline_window_seconds: int = Field(default=600, ge=10, le=86_400)

    # Issue 17 item 11. Proxies whose X-Forwarded-For is believed (comma-separated addresses or CIDR
    # blocks; empty: none, the connection's address is the source). See api/source.py.
    trusted_proxies: str = ""
    # /metrics in prod: with a token, only ``Authorization: Bearer <token>``; without one, loopback only.
    metrics_token: SecretStr | None = None
    # Refused unauthenticated terminal traffic (api/terminal refusal summaries): per source address, at
    # most this many refusals per window are answered; one audit entry per source and window counts them.
    terminal_refusals_per_window: int = Field(default=100, ge=1, le=1_000_000)
    terminal_refusal_window_seconds: int = Field(default=60, ge=1, le=86_400)

    # Staff login (issue 17 item 8). Per account (known or unknown username alike): waits from the 5th
    # consecutive failure, a hard lock after this many (an administrator unlocks: API or
    # `sscard staff unlock`). Per source address: this many failures per window, then waits.
    staff_login_hard_lock_failures: int = Field(default=10, ge=2, le=1000)
    staff_login_source_failures: int = Field(default=30, ge=1, le=1_000_000)
    staff_login_source_window_seconds: int = Field(default=900, ge=10, le=86_400)

    # `sscard partitions detach` archives only months at least this old (whole months before the current
    # one): 24 keeps the last full year and the current one attached, which yearly statements (INS-4),
    # contribution discrepancy reports (INS-6), settlement refunds and reconciliation, and the yearly
    # audit read. There is no override on the command line.
    partition_detach_min_age_months: int = Field(default=24, ge=1, le=1200)

    # Idempotency-Key answers (idempotency/service.py) are kept this long, then purged; a key seen again
    # later is a new request. A day covers any client's retries (terminals retry within minutes, a
    # batch resubmitted the next morning is still answered); contract.md states no window.
    idempotency_retention_hours: int = Field(default=24, ge=1, le=24 * 90)

    # Where the terminal simulator and the demo terminal's profile reach the server. Unless set, the
    # server these same settings run (SSCARD_HOST / SSCARD_PORT), so `SSCARD_PORT=8080 make run` and
    # `sscard terminal ...` in that shell talk to each other.
    api_url: str = ""
    # An idle connection is closed this long after its last answer; a request head (line and headers)
    # must arrive within http_header_timeout_s (api/http_protocol.py), so idle and trickling clients
    # cannot hold connections.
    http_keep_alive_s: int = Field(default=5, ge=1, le=600)
    http_header_timeout_s: float = Field(default=10.0, gt=0, le=600)
    # A request's whole body must arrive within this long of its head (an 11 MiB document upload at
    # 2 Mbit/s takes ~45 s); a worker holds at most http_max_connections connections (503 beyond).
    http_body_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    http_max_connections: int = Field(default=1000, ge=10, le=100_000)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # One JSON line per answered request (api/metrics.py: request id, method, route template, status,
    # duration; never the raw path or query), at info level. False: only the metrics count them.
    log_requests: bool = True
    _api_url_explicit: bool = PrivateAttr(default=False)

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("database_url", "database_replica_url")
    @classmethod
    def _url_options_closed(cls, value: str) -> str:
        # libpq reads a backslash in ``options`` as escaping the next character: at the very end it would
        # swallow the separator before the schema's search path and the timeouts added after it (db/session.py).
        for given in parse_qs(urlsplit(value).query).get("options", []):
            if (len(given) - len(given.rstrip("\\"))) % 2:
                raise ValueError("its options end with a lone backslash, which would swallow the options after it")
        return value

    @field_validator("data_dir")
    @classmethod
    def _data_dir_resolved_once(cls, value: Path) -> Path:
        # Resolved here, once, against the directory the process started in: every later use (database,
        # keystore, outbox, profiles, error messages) names the same absolute directory.
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _api_url_follows_the_server(self) -> Settings:
        self._api_url_explicit = bool(self.api_url)
        if not self.api_url:
            # A server listening on every address is reached on loopback from this machine.
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104 - compared, not bound
            host = f"[{host}]" if ":" in host else host
            self.api_url = f"http://{host}:{self.port}"
        return self

    @property
    def api_url_explicit(self) -> bool:
        """Whether SSCARD_API_URL was set (it then overrides the URL in a terminal's profile)."""
        return self._api_url_explicit

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sscard.db').resolve()}"

    @property
    def anchor_path(self) -> Path:
        return Path(self.audit_anchor_file) if self.audit_anchor_file else self.data_dir / "audit" / "anchors.jsonl"

    @property
    def timeouts(self) -> DatabaseTimeouts:
        return DatabaseTimeouts(self.database_connect_timeout_s, self.database_statement_timeout_s)

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def replica_url(self) -> str:
        """The read replica's URL, or empty: none configured, or the primary is the embedded SQLite."""
        return "" if self.is_sqlite else self.database_replica_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Forget the cached settings (tests and CLI options that change the environment)."""
    get_settings.cache_clear()

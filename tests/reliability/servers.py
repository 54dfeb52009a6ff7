"""Real processes for the reliability tests: ``sscard serve`` as operators run it, and a private
PostgreSQL cluster that a test may stop, freeze and restart (never the shared server on 5432).
Everything listens on 127.0.0.1 and is killed when its block ends."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SSCARD = Path(sys.executable).parent / "sscard"
# httpx.get builds a TLS context (loads certifi's roots, ~15 ms) on every call, even for http://: polled
# every 0.1 s while a server starts, that was ~10 s of the suite's CPU. One, made once.
_TLS = httpx.create_ssl_context()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc (field 4 of stat is the parent's pid)."""
    children = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[1]) == pid:
            children.append(int(stat.split("/")[2]))
    return children


class ServerExited(AssertionError):
    """``sscard serve`` ended before it answered (the message holds its output)."""


@dataclass
class Server:
    """One ``sscard serve`` process (its own session, so a kill takes its workers too)."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Server:
        # In the test process's data dir (tests/conftest.py), removed with it when the process ends.
        logs = os.environ.get("SSCARD_DATA_DIR")
        self.log = Path(tempfile.mkstemp(prefix="sscard-serve-", suffix=".log", dir=logs)[1])
        env = {**self.env, "SSCARD_PORT": str(self.port), "SSCARD_HOST": "127.0.0.1"}
        self.process = subprocess.Popen(
            [str(SSCARD), "serve", "--no-dispatch"],
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(self._healthy, timeout, f"sscard serve on {self.url}")
        except ServerExited:
            raise  # its message holds the output already
        except AssertionError as exc:
            self.kill()  # a server that never answered is not left running after the test
            # The log goes with the data dir when the test process ends: its end is kept in the failure.
            raise AssertionError(f"{exc}; its output ends: {self.output()[-2000:]}") from None
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise ServerExited(f"sscard serve exited with {self.process.returncode}: {self.output()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/api/v1/health", timeout=2, verify=_TLS).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log else ""


def running_server(env: dict[str, str]) -> Server:
    """``with running_server(env) as server:`` — started, and killed when the block ends."""
    return Server(env).start()


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or name]
    return found[-1]


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL cluster under a temp dir, on a port of its own, run as ``postgres``."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sscard-pg-")))

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _as_postgres(self, *argv: str, timeout: float = 120) -> None:
        command = list(argv) if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def init(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=on"
        self._as_postgres(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"
        )

    def serve_replication(self) -> None:
        """Before start: WAL for a streaming standby, and replication connections from loopback trusted."""
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\nwal_level = replica\nmax_wal_senders = 5\nhot_standby = on\n")
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write("\nhost replication postgres 127.0.0.1/32 trust\n")

    def copy_to_standby(self, replica: PrivatePostgres) -> None:
        """Make ``replica`` a streaming standby of this running cluster (pg_basebackup -R); not started."""
        if os.geteuid() == 0:
            shutil.chown(replica.root, "postgres", "postgres")
        self._as_postgres(
            _pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-D", str(replica.data), "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def pids(self) -> list[int]:
        """The postmaster and every backend and helper process of this cluster."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        return [postmaster, *children_of(postmaster)]

    def signal_all(self, sig: int) -> None:
        for pid in self.pids():
            os.kill(pid, sig)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.signal_all(signal.SIGCONT)
                self.stop("immediate")
            except (subprocess.SubprocessError, OSError, ValueError):
                pass
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres().init()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


def replication_binaries_missing() -> str | None:
    """Which of the programs a primary and its streaming replica need cannot be found, or None."""
    missing = [name for name in ("initdb", "pg_ctl", "pg_basebackup") if not os.path.exists(_pg_bin(name))]
    return ", ".join(missing) or None


def postgres_server_installed() -> bool:
    return bool(glob.glob("/usr/lib/postgresql/*/bin/postgres") or shutil.which("postgres"))


@contextmanager
def primary_and_replica() -> Iterator[tuple[PrivatePostgres, PrivatePostgres]]:
    """A private primary and a streaming replica of it, both running; both destroyed at the end."""
    primary, replica = PrivatePostgres(), PrivatePostgres()
    try:
        primary.init().serve_replication()
        primary.start()
        primary.copy_to_standby(replica)
        replica.start()
        yield primary, replica
    finally:
        replica.destroy()
        primary.destroy()

"""A throwaway PostgreSQL server on loopback for the tests: `initdb` + `pg_ctl` in a temp dir.

Why a real server and not a fake: what the PostgreSQL backend promises (transactions, unique
keys, `FOR UPDATE SKIP LOCKED`, advisory locks held by a connection) is PostgreSQL's own
behaviour, which no fake reproduces. The server listens on 127.0.0.1 at a free port and on a
unix socket inside its temp dir, trusts local connections (no password), keeps nothing
durable that a test needs after it (fsync off), and is stopped (`pg_ctl stop -m immediate`)
at the end.

PostgreSQL refuses to run as root, so as root the data directory belongs to the `postgres`
user and the programs run as that user (`runuser -u postgres --`). Without `initdb` on PATH
(or in /usr/lib/postgresql/*/bin) `find_binaries` returns None and the tests that need a
server skip, saying why (`SKIP_REASON`).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SKIP_REASON = (
    "PostgreSQL's initdb/pg_ctl are not installed (Debian: apt-get install postgresql); "
    "the PostgreSQL backend's tests need a real server"
)


def find_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """One running server; `url(db)` is a libpq URL for a database on it."""

    bindir: Path
    root: Path
    port: int
    user: str = "postgres"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{db}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.datadir), "-U", self.user, "-A", "trust", "-E", "UTF8")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-o", options, "-l",
            str(self.root / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop", check=False)

    def pids(self) -> list[int]:
        """The server's processes: the postmaster and its children (backends, writers), for
        benchmarks that count the database's CPU."""
        master = int((self.datadir / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return [master, *map(int, children)]

    def create_database(self, name: str) -> str:
        """A fresh empty database; returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def start_server() -> PostgresServer | None:
    """Start a throwaway server, or None when PostgreSQL is not installed."""
    bindir = find_binaries()
    if bindir is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="rankbot-pg-"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bindir, root, free_port())
    try:
        server.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def stop_server(server: PostgresServer) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)

"""A private PostgreSQL cluster on loopback for tests: initdb in a temp dir, pg_ctl on a free 127.0.0.1 port.

Nothing is shared with a system cluster: the data directory, the unix socket and the log live in one temp
dir that stop() removes. As root, initdb and the server run as the `postgres` user (initdb refuses root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
SUPERUSER = "postgres"


def pg_bindir() -> Path | None:
    """Directory holding initdb and pg_ctl: $OFFICEFLOW_PG_BINDIR, PATH, pg_config, or Debian's versioned dirs."""
    candidates = []
    if os.environ.get("OFFICEFLOW_PG_BINDIR"):
        candidates.append(Path(os.environ["OFFICEFLOW_PG_BINDIR"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
            if out:
                candidates.append(Path(out))
        except (OSError, subprocess.SubprocessError):
            pass
    # Debian/Ubuntu keep the server binaries out of PATH, one directory per major version; newest first
    versioned = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                       if Path(p).parent.name.isdigit() else 0, reverse=True)
    candidates.extend(Path(p) for p in versioned)
    for d in candidates:
        if (d / "initdb").is_file() and (d / "pg_ctl").is_file():
            return d
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class PgServer:
    """start() → url(name) / create_database(name) → restart() → stop(); stop() always cleans up."""

    def __init__(self, bindir: Path | None = None):
        self.bindir = bindir or pg_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.root: Path | None = None
        self.port = 0
        self._as_postgres = os.geteuid() == 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", SUPERUSER, "--", *cmd]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}\n"
                               f"{self.log_tail()}")
        return res

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> "PgServer":
        shm = Path("/dev/shm")
        base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        self.root = Path(tempfile.mkdtemp(prefix="ofpg-", dir=base))
        try:
            os.chmod(self.root, 0o755)
            if self._as_postgres:
                pw_ent = pwd.getpwnam(SUPERUSER)
                os.chown(self.root, pw_ent.pw_uid, pw_ent.pw_gid)
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8",
                      "--locale=C.UTF-8", "--no-sync")
            for attempt in range(3):
                self.port = free_port()
                try:
                    self._pg_ctl_start()
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
        except BaseException:
            self.stop()
            raise
        return self

    def _pg_ctl_start(self) -> None:
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses={HOST} -c fsync=off "
                f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "30",
                  "-o", opts, "start")

    def restart(self) -> None:
        """Stop fast (every client connection is cut) and start again on the same port."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")
        self._pg_ctl_start()

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            if (self.data / "postmaster.pid").exists():
                try:
                    self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")
                except (RuntimeError, subprocess.SubprocessError, OSError):
                    self._kill_postmaster()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.1)

    # -- use ---------------------------------------------------------------------------------------

    def url(self, dbname: str) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg2
        conn = psycopg2.connect(host=HOST, port=self.port, user=SUPERUSER, dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)

    def log_tail(self, lines: int = 30) -> str:
        if self.root is None:
            return ""
        try:
            return "\n".join((self.root / "server.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

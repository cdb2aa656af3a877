"""The daemon as systemd runs it: stays up, reacts to new mail, survives the server going away, stops on
SIGTERM, talks sd_notify, and loses nothing when killed in the middle of a backlog."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flow import REPO, Office, until


pytestmark = pytest.mark.mailserver


def _start(office: Office, env: dict | None = None) -> subprocess.Popen:
    log = open(office.tmp / "daemon.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "daemon", "run", "-c", str(office.config_path)], cwd=REPO,
                            stdout=log, stderr=log, env={**os.environ, **(env or {})}, start_new_session=True)


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 20) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise




def _log(office: Office) -> str:
    return (office.tmp / "daemon.log").read_text(errors="replace")


def test_daemon_reacts_to_new_mail_reconnects_and_stops_on_sigterm(office):
    proc = _start(office)
    try:
        until(lambda: "connected" in _log(office), what="the daemon to connect")
        office.send_request()
        until(lambda: office.raw_inbox("unit1"), what="the receipt")
        # the server goes away and comes back: the daemon reconnects and carries on
        office.servers.stop_imap()
        time.sleep(1.5)
        office.servers.start_imap()
        office.send_request(who="unit2", subject="关于增加培训经费的请示")
        until(lambda: office.raw_inbox("unit2"), timeout=60, what="the receipt after the reconnect")
        assert proc.poll() is None
    finally:
        rc = _stop(proc)
    assert rc == 0, _log(office)
    log = _log(office)
    assert "reconnecting" in log and "stopped" in log
    assert "办请〔2026〕1号" in log and "办请〔2026〕2号" in log


def test_daemon_tells_systemd_ready_watchdog_and_stopping(office, tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(30)
    proc = _start(office, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": ""})
    seen: list[str] = []
    try:
        while not any("WATCHDOG=1" in s for s in seen) or not any("READY=1" in s for s in seen):
            seen.append(sock.recv(4096).decode())
        proc.send_signal(signal.SIGTERM)
        while not any("STOPPING=1" in s for s in seen):
            seen.append(sock.recv(4096).decode())
    finally:
        rc = _stop(proc)
        sock.close()
    assert rc == 0
    ready = next(i for i, s in enumerate(seen) if "READY=1" in s)
    stopping = next(i for i, s in enumerate(seen) if "STOPPING=1" in s)
    assert ready < stopping


def test_sigkill_in_the_middle_of_a_backlog_loses_nothing(office):
    n = 60
    for i in range(n):
        office.send_request(who="unit1" if i % 2 else "unit2", subject=f"关于第{i + 1}项工作的请示")
    proc = _start(office)
    db_path = Path(office.cfg.database.url[len("sqlite:///"):])

    def registered() -> int:
        if not db_path.exists():
            return 0
        import sqlite3
        try:
            with sqlite3.connect(db_path, timeout=5) as c:
                return c.execute("select count(*) from request").fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    until(lambda: registered() >= 3, what="a few requests registered", every=0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert registered() < n, "the kill came after the whole backlog: nothing was interrupted"
    office.run_once()
    db = office.db()
    numbers = [r.number for r in db.Request.select()]
    assert len(numbers) == n and len(set(numbers)) == n
    assert db.Outbox.select().where(db.Outbox.state != "sent").count() == 0
    receipts = [m for m in office.inbox("unit1") + office.inbox("unit2") if re.search(r"【办请", m.subject)]
    got = {re.search(r"【(.+?)】", m.subject).group(1) for m in receipts}
    assert got == set(numbers)
    assert len(receipts) <= n + 1        # at most the one mail in flight at the kill is sent again
    assert office.servers.messages(office.addr["office"]) == []
    reviews = [m for m in office.inbox("clerk")]
    assert {re.search(r"【(.+?)】", m.subject).group(1) for m in reviews} == set(numbers)


_KILLED_WHILE_SENDING = r"""
import os, signal, sys
from daemon import service, smtp
from daemon.config import load_config

real = smtp.send_batch
taken = 0

def send_batch(cfg, batch, on_result=None):
    def result(res):
        global taken
        on_result(res)                  # written down, as the daemon does, then the process dies
        taken += res.ok
        if taken == 3:
            os.kill(os.getpid(), signal.SIGKILL)
    return real(cfg, batch, on_result=result)

smtp.send_batch = send_batch
service.run(load_config(sys.argv[1]), once=True)
"""


def test_a_daemon_killed_while_sending_sends_nothing_twice(office, caplog):
    """Killed right after the server took its third message, before the batch's results were committed: the
    next start marks the three sent from the journal and sends the rest; nobody gets a mail twice."""
    n = 12
    for i in range(n):
        office.send_request(who="unit1" if i % 2 else "unit2", subject=f"关于第{i + 1}项工作的请示")
    office.servers.wait_for(office.addr["office"], n)
    proc = subprocess.run([sys.executable, "-c", _KILLED_WHILE_SENDING, str(office.config_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    db_path = Path(office.cfg.database.url[len("sqlite:///"):])
    journal = db_path.parent / (db_path.name + "-sent")
    [left] = list(journal.iterdir())
    assert len(left.read_text().split()) == 3

    with caplog.at_level("WARNING", logger="officeflow.outbox"):
        office.run_once()
    assert sum("not sent again" in r.getMessage() for r in caplog.records) == 3
    assert list(journal.iterdir()) == []
    db = office.db()
    numbers = {r.number for r in db.Request.select()}
    assert len(numbers) == n
    assert db.Outbox.select().where(db.Outbox.state != "sent").count() == 0
    receipts = [re.search(r"【(.+?)】", m.subject).group(1)
                for m in office.inbox("unit1") + office.inbox("unit2") if "【办请" in m.subject]
    reviews = [re.search(r"【(.+?)】", m.subject).group(1) for m in office.inbox("clerk")]
    assert sorted(receipts) == sorted(numbers) and sorted(reviews) == sorted(numbers)    # each once, none twice

"""The daemon as an admin handles it: SIGHUP reads the config again (or refuses it and goes on), and a second
officeflow on the same SQLite database is refused at start, also after the first was killed with -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from flow import DEFAULT_EXTRA, REPO, Office, until

pytestmark = pytest.mark.mailserver


def _start(office: Office, log_name: str = "daemon.log") -> subprocess.Popen:
    log = open(office.tmp / log_name, "ab")
    return subprocess.Popen([sys.executable, "-m", "daemon", "run", "-c", str(office.config_path)], cwd=REPO,
                            stdout=log, stderr=log, start_new_session=True)


def _log(office: Office, log_name: str = "daemon.log") -> str:
    return (office.tmp / log_name).read_text(errors="replace")


def _stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


def _receipts(office: Office, who: str) -> list:
    return [m for m in office.inbox(who) if "办请〔2026〕" in m.subject and "回执" in m.subject]


THIRD_UNIT = DEFAULT_EXTRA + """
[[units]]
id = "unit3"
name = "第三分公司"
emails = ["{address}"]
"""


def test_sighup_reads_the_config_again(office):
    proc = _start(office)
    try:
        until(lambda: "connected" in _log(office), what="the daemon to connect")
        # a new unit in the file: after the reload its request is registered
        office.write_config(THIRD_UNIT.format(address=office.addr["stranger"]))
        proc.send_signal(signal.SIGHUP)
        until(lambda: "config reloaded" in _log(office), what="the reload")
        office.send_request(who="stranger")
        receipt = until(lambda: _receipts(office, "stranger"), what="the new unit's receipt")[-1]
        assert "办请〔2026〕1号" in receipt.subject
        assert proc.poll() is None
    finally:
        rc = _stop(proc)
    assert rc == 0, _log(office)


def test_a_config_with_an_error_is_refused_on_sighup_and_the_daemon_goes_on(office):
    proc = _start(office)
    try:
        until(lambda: "connected" in _log(office), what="the daemon to connect")
        good = office.config_path.read_text()
        office.config_path.write_text(good.replace('security = "none"', 'security = "tls"', 1))
        proc.send_signal(signal.SIGHUP)
        until(lambda: "reload refused" in _log(office), what="the refusal")
        assert "imap.security" in _log(office) and str(office.config_path) in _log(office)
        office.send_request()
        assert "办请〔2026〕1号" in until(lambda: _receipts(office, "unit1"), what="the receipt")[-1].subject
        # a changed database needs a restart
        office.config_path.write_text(good.replace("officeflow.db", "other.db"))
        proc.send_signal(signal.SIGHUP)
        until(lambda: "reload refused: database.url changed" in _log(office), what="the second refusal")
        assert proc.poll() is None
    finally:
        rc = _stop(proc)
    assert rc == 0, _log(office)
    assert not (office.tmp / "other.db").exists()


def test_a_second_officeflow_on_the_same_sqlite_file_is_refused_even_after_kill_9(office):
    first = _start(office)
    try:
        until(lambda: "connected" in _log(office), what="the first daemon to connect")
        for args in ([], ["--once"]):
            second = office.run_cli("run", "-c", str(office.config_path), *args)
            assert second.returncode == 1
            assert f"another officeflow (pid {first.pid}) is using {office.tmp / 'officeflow.db'}" in second.stderr
            assert "PostgreSQL" in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    # the kernel dropped the lock with the process: a new daemon starts and carries the work on
    office.send_request()
    second = _start(office, "second.log")
    try:
        assert "办请〔2026〕1号" in until(lambda: _receipts(office, "unit1"), what="the receipt")[-1].subject
    finally:
        rc = _stop(second)
    assert rc == 0, _log(office, "second.log")

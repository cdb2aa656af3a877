"""`officeflow status` and what `check-config` tells about the server, against the real Dovecot on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest
from flow import REPO, Office, until

from daemon import health, migrations, models

pytestmark = pytest.mark.mailserver


def _status(office: Office, *args: str, now: str | None = None) -> tuple[int, dict]:
    env = {"OFFICEFLOW_NOW": now} if now else {}
    out = office.run_cli("status", "-c", str(office.config_path), "--json", *args, env=env)
    assert out.returncode in (0, 1, 2), out.stderr
    return out.returncode, json.loads(out.stdout)


def _beats(office: Office, now: str, monkeypatch) -> None:
    """The heartbeats a running daemon would have left at `now`."""
    monkeypatch.setenv("OFFICEFLOW_NOW", now)
    office.db()
    health.beat(health.IMAP_CONTACT)
    health.beat(health.DAEMON_ALIVE)
    models.close()


def _later(minutes: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()


def test_before_the_daemon_ever_ran_it_is_down(office):
    out = office.run_cli("status", "-c", str(office.config_path))
    assert out.returncode == 2
    assert out.stdout.startswith("officeflow: down\n") and "does not exist" in out.stdout


def test_after_a_run_once_without_a_daemon_it_is_down_and_shows_everything(office):
    office.send_request()
    office.run_once()
    rc, got = _status(office)
    assert rc == 2 and got["status"] == "down"
    assert got["daemon_running"] is False and got["daemon_seen_by"] == "heartbeat"
    assert any("not running" in p for p in got["problems"])
    assert got["last_imap_contact"] == "2026-11-26T01:00:00+00:00"      # OFFICEFLOW_NOW of the office
    assert got["inbox_waiting"] == 0 and got["failed_folder"] == 0
    assert got["outbox_queued"] == 0 and got["outbox_oldest_unsent"] is None
    assert got["schema_version"] == got["schema_expected"] == migrations.VERSION
    text = office.run_cli("status", "-c", str(office.config_path))
    assert "last IMAP contact: 2026-11-26 09:00:00 +0800" in text.stdout
    assert "schema version: %d (this release: %d)" % (migrations.VERSION, migrations.VERSION) in text.stdout


def test_with_the_daemon_running_it_is_healthy(office):
    log = open(office.tmp / "daemon.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "daemon", "run", "-c", str(office.config_path)], cwd=REPO,
                            stdout=log, stderr=log, start_new_session=True)
    try:
        until(lambda: "connected" in (office.tmp / "daemon.log").read_text(), what="the daemon to connect")
        office.send_request()
        until(lambda: office.raw_inbox("unit1"), what="the receipt")
        rc, got = _status(office)
        assert (rc, got["status"], got["problems"]) == (0, "healthy", [])
        assert got["daemon_running"] is True and got["inbox_waiting"] == 0
        assert got["daemon_heartbeat"] and got["last_imap_contact"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_mail_stuck_in_the_outbox_is_degraded(office, monkeypatch):
    from mailservers import free_port
    good = office.config_path.read_text()
    office.config_path.write_text(good.replace(f"port = {office.servers.smtp_port}", f"port = {free_port()}"))
    office.send_request()
    office.run_once()                       # registered at 09:00; receipt and review wait in the outbox
    _beats(office, "2026-11-26T09:20:00+08:00", monkeypatch)
    rc, got = _status(office, now="2026-11-26T09:20:00+08:00")
    assert rc == 1 and got["status"] == "degraded", got
    assert got["outbox_queued"] == 2 and got["outbox_oldest_unsent"] == "2026-11-26T01:00:00+00:00"
    assert got["problems"] == ["outbox: 2 mails unsent, the oldest for 20 min"]
    # ten minutes in, nothing is late yet
    _beats(office, "2026-11-26T09:10:00+08:00", monkeypatch)
    assert _status(office, now="2026-11-26T09:10:00+08:00")[0] == 0


def test_mail_left_in_the_inbox_is_degraded(office, monkeypatch):
    now = _later(30)
    _beats(office, now, monkeypatch)
    office.servers.append(office.addr["office"], b"Subject: x\r\nFrom: unit1@example.test\r\n\r\nx\r\n")
    rc, got = _status(office, now=now)
    assert rc == 1 and got["inbox_waiting"] == 1
    # INTERNALDATE has whole seconds: 29 or 30 minutes
    assert got["problems"] in (["INBOX: 1 mails waiting, the oldest for 30 min"],
                               ["INBOX: 1 mails waiting, the oldest for 29 min"])


def test_an_unreachable_mailbox_or_a_silent_daemon(office, monkeypatch):
    from mailservers import free_port
    office.run_once()
    _beats(office, "2026-11-26T09:00:00+08:00", monkeypatch)
    good = office.config_path.read_text()
    office.config_path.write_text(good.replace(f"port = {office.servers.imap_port}", f"port = {free_port()}"))
    rc, got = _status(office)
    assert rc == 1 and got["inbox_waiting"] is None
    assert [p for p in got["problems"] if p.startswith("IMAP: cannot connect to 127.0.0.1:")]
    # an hour later without a heartbeat: the daemon is gone
    rc, got = _status(office, now="2026-11-26T10:00:00+08:00")
    assert rc == 2 and "the daemon is not running (last heartbeat 60 min ago)" in got["problems"]
    assert "no successful IMAP contact for 60 min" in got["problems"]


def test_overdue_requests_and_the_next_reminder(office, monkeypatch):
    office.send_request()
    office.run_once()
    office.reply("clerk", office.last("clerk"), "受理\n流程：李副总")
    office.run_once()
    db = office.db()
    db.Request.update(deadline=date(2026, 11, 25)).execute()
    due = db.Step.get(db.Step.state == "active").next_reminder_at
    models.close()
    _beats(office, "2026-11-26T09:00:00+08:00", monkeypatch)
    rc, got = _status(office)
    assert rc == 0 and got["requests_overdue"] == 1
    assert got["next_reminder"] == due.isoformat()


def test_the_next_reminder_of_an_approved_request_is_the_one_asking_for_its_report(office, monkeypatch):
    office.send_request()
    office.run_once()
    office.reply("clerk", office.last("clerk"), "受理\n流程：李副总")
    office.run_once()
    office.reply("li", office.last("li", "请审批"), "同意")
    office.run_once()
    db = office.db()
    assert db.Request.get().state == "approved"
    due = db.Step.get((db.Step.state == "active") & (db.Step.kind == "report")).next_reminder_at
    models.close()
    _beats(office, "2026-11-26T09:00:00+08:00", monkeypatch)
    rc, got = _status(office)
    assert rc == 0 and got["next_reminder"] == due.isoformat()


def test_systemd_decides_whether_the_daemon_runs_when_it_knows_the_unit(office, monkeypatch, tmp_path):
    office.run_once()
    _beats(office, "2026-11-26T09:00:00+08:00", monkeypatch)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemctl"
    for state, rc_expected in (("failed", 2), ("active", 0)):
        fake.write_text("#!/bin/sh\n[ \"$3\" = officeflow-test.service ] || exit 1\n"
                        f"echo LoadState=loaded\necho ActiveState={state}\n")
        fake.chmod(0o755)
        out = office.run_cli("status", "-c", str(office.config_path), "--json", "--unit", "officeflow-test.service",
                             env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
        got = json.loads(out.stdout)
        assert out.returncode == rc_expected and got["daemon_seen_by"] == f"systemd ({state})", got


def test_check_config_says_what_the_server_offers_and_how_officeflow_will_work(office):
    out = office.run_cli("check-config", "-c", str(office.config_path))
    assert out.returncode == 0, out.stderr
    assert ("IMAP server offers IDLE yes, MOVE yes, UIDPLUS yes, folder separator '/'; "
            "officeflow waits with IDLE, moves with MOVE") in out.stdout
    office.config_path.write_text(office.config_path.read_text().replace(
        'password_env = "OFFICEFLOW_TEST_PASSWORD"', 'password_env = "OFFICEFLOW_TEST_PASSWORD"\nidle = false', 1))
    out = office.run_cli("check-config", "-c", str(office.config_path))
    assert "officeflow polls every 60s, moves with MOVE" in out.stdout


def test_the_survey_names_the_fallbacks_for_a_poorer_server():
    from daemon.config import ImapConfig
    from daemon.mailbox import Survey
    cfg = ImapConfig(host="h", port=993, security="ssl", username="u", password="p")
    poor = Survey(messages=0, oldest=None, failed=0, capabilities=("IMAP4REV1", "UIDPLUS"), separator=".")
    assert poor.offers() == "IDLE no, MOVE no, UIDPLUS yes, folder separator '.'"
    assert poor.mode(cfg) == "polls every 60s (no IDLE), moves with COPY + UID EXPUNGE (no MOVE)"
    poorest = Survey(messages=0, oldest=None, failed=0, capabilities=("IMAP4REV1",), separator="")
    assert poorest.mode(cfg).endswith("copies and flags \\Deleted, never expunges (no MOVE, no UIDPLUS)")


def test_status_runs_where_the_services_password_file_is_absent(office):
    """As root outside the service: /run/credentials/… is not there; status relies on the heartbeats."""
    office.run_once()
    office.config_path.write_text(office.config_path.read_text().replace(
        'password_env = "OFFICEFLOW_TEST_PASSWORD"', f'password_file = "{office.tmp / "absent" / "imap"}"', 1))
    rc, got = _status(office)
    assert rc == 2 and got["inbox_waiting"] is None and got["last_imap_contact"]
    assert office.run_cli("check-config", "-c", str(office.config_path)).returncode == 2   # the daemon needs it


def test_an_older_schema_is_reported_and_left_as_it_is(office, monkeypatch):
    office.run_once()
    _beats(office, "2026-11-26T09:00:00+08:00", monkeypatch)
    db = office.db()
    db.db.execute_sql('UPDATE "%s" SET "version" = %d' % (migrations._TABLE, migrations.VERSION - 1))
    models.close()
    rc, got = _status(office)
    assert rc == 1 and got["schema_version"] == migrations.VERSION - 1
    assert [p for p in got["problems"] if p.startswith("database schema version %d" % (migrations.VERSION - 1))]
    database = models.connect(office.cfg.database.url, upgrade=False)
    assert migrations.stored_version(database) == migrations.VERSION - 1      # status upgraded nothing
    models.close()

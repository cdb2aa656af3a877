"""`officeflow sandbox` as a newcomer uses it: the mail server and the daemon together, a sample 请示 sent from
another terminal, the review mail in the office staff's mailbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import smtplib
from datetime import datetime, timedelta
from datetime import time as dtime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from flow import REPO, until
from imap_tools import MailBox, MailBoxUnencrypted  # noqa: F401
from mailservers import free_port

pytestmark = pytest.mark.mailserver   # the sandbox's own IMAP and SMTP servers


def _subjects(port: int, user: str) -> list[str]:
    try:
        with MailBoxUnencrypted("127.0.0.1", port).login(user, "officeflow", "INBOX") as mb:
            return [m.subject for m in mb.fetch(mark_seen=False, bulk=True)]
    except Exception:  # noqa: BLE001 - the server may still be starting
        return []


def _fetch(port: int, user: str, part: str):
    with MailBoxUnencrypted("127.0.0.1", port).login(user, "officeflow", "INBOX") as mb:
        return [m for m in mb.fetch(mark_seen=False, bulk=True) if part in m.subject]


def _minutes_to_a_working_morning_days_ahead() -> int:
    """Minutes from now to 10:00 Beijing time on the third working day from now (a reminder is due by then)."""
    from daemon.workcal import WorkCalendar
    calendar = WorkCalendar()          # as the daemon counts: Mon–Fri for a year the holiday data lacks
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    day, found = now.date(), 0
    while found < 3:
        day += timedelta(days=1)
        found += calendar.is_workday(day)
    target = datetime.combine(day, dtime(10, 0), tzinfo=ZoneInfo("Asia/Shanghai"))
    return int((target - now).total_seconds() // 60)


def test_sandbox_runs_the_daemon_a_sample_request_reaches_staff_and_moving_time_brings_a_reminder(tmp_path):
    imap, smtp = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "OFFICEFLOW_NOW"}
    log = open(tmp_path / "sandbox.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "daemon", "sandbox", "--dir", str(tmp_path / "sb"),
                             "--imap-port", str(imap), "--smtp-port", str(smtp)], cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        until(lambda: "connected" in (tmp_path / "sandbox.log").read_text(errors="replace"),
               what="the daemon to connect to the sandbox")
        sent = subprocess.run([sys.executable, "-m", "daemon", "sandbox", "--send-sample", "--smtp-port", str(smtp)],
                              cwd=REPO, capture_output=True, text=True, env=env, timeout=60)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        subjects = until(lambda: [s for s in _subjects(imap, "clerk@example.test") if "〔" in s],
                          what="the review mail in clerk@example.test")
        assert any("1号】" in s and "关于购置办公设备的请示" in s for s in subjects), subjects
        assert until(lambda: _subjects(imap, "unit1@example.test"), what="the receipt")

        # office staff accept it to 李副总; then the sandbox clock is moved to a working morning days later
        review = _fetch(imap, "clerk@example.test", "〔")[-1]
        reply = EmailMessage()
        reply["From"], reply["To"] = "clerk@example.test", "office@example.test"
        reply["Subject"] = "回复：" + review.subject
        reply["In-Reply-To"] = review.headers["message-id"][0]
        reply.set_content("受理\n拟办意见：请李副总审批。\n流程：李副总")
        with smtplib.SMTP("127.0.0.1", smtp) as s:
            s.send_message(reply)
        until(lambda: _subjects(imap, "li@example.test"), what="the approval mail to 李副总")
        minutes = _minutes_to_a_working_morning_days_ahead()
        moved = subprocess.run([sys.executable, "-m", "daemon", "sandbox", "--dir", str(tmp_path / "sb"), "--advance",
                                f"{minutes}m"], cwd=REPO, capture_output=True, text=True, env=env, timeout=60)
        assert moved.returncode == 0, moved.stderr
        reminders = until(lambda: [s for s in _subjects(imap, "li@example.test") if "催办" in s], timeout=90,
                           what="a reminder (催办) after the clock moved")
        assert reminders
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        log.close()
    assert rc == 0, (tmp_path / "sandbox.log").read_text(errors="replace")


def test_the_sample_jiaoban_is_registered_li_gets_the_receipt_and_the_office_the_form_to_confirm(tmp_path):
    """`sandbox --send-sample 交办`: 李副总 (the example config's leader) mails a 交办; it is registered under the
    督办 series, 李副总 gets the 回执 and office staff the 核定单; 派发 on it reaches the two departments named."""
    imap, smtp = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "OFFICEFLOW_NOW"}
    log = open(tmp_path / "sandbox.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "daemon", "sandbox", "--dir", str(tmp_path / "sb"),
                             "--imap-port", str(imap), "--smtp-port", str(smtp)], cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        until(lambda: "connected" in (tmp_path / "sandbox.log").read_text(errors="replace"),
              what="the daemon to connect to the sandbox")
        banner = (tmp_path / "sandbox.log").read_text(errors="replace")
        assert "--send-sample 交办" in banner and "李副总" in banner
        sent = subprocess.run([sys.executable, "-m", "daemon", "sandbox", "--send-sample", "交办", "--smtp-port",
                               str(smtp)], cwd=REPO, capture_output=True, text=True, env=env, timeout=60)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "交办：办公经费使用情况自查" in sent.stdout and "li@example.test" in sent.stdout
        year = datetime.now(ZoneInfo("Asia/Shanghai")).year
        number = f"督办〔{year}〕1号"
        receipt = until(lambda: _fetch(imap, "li@example.test", "已登记"), what="the 回执 to 李副总")[-1]
        assert receipt.subject == f"【{number}】已登记：办公经费使用情况自查"
        form = until(lambda: _fetch(imap, "clerk@example.test", "请核定"), what="the 核定单 to office staff")[-1]
        assert form.subject.startswith(f"【{number}】请核定：办公经费使用情况自查 〔流转码：")
        for part in ("李副总", "财务科", "审计科", "派发"):
            assert part in form.text, part
        # nothing reaches a department before office staff confirm; a 请示's register is not involved
        assert not _subjects(imap, "caiwu@example.test")
        assert not [s for s in _subjects(imap, "clerk@example.test") if "办请" in s]

        reply = EmailMessage()
        reply["From"], reply["To"] = "clerk@example.test", "office@example.test"
        reply["Subject"] = "回复：" + form.subject
        reply["In-Reply-To"] = form.headers["message-id"][0]
        reply.set_content("派发")
        with smtplib.SMTP("127.0.0.1", smtp) as s:
            s.send_message(reply)
        notice = until(lambda: _fetch(imap, "caiwu@example.test", "交办通知"), what="the 交办通知 to 财务科")[-1]
        assert notice.subject.startswith(f"【{number}】交办通知：办公经费使用情况自查")
        assert until(lambda: _fetch(imap, "shenji@example.test", "交办通知（协办）"), what="the 协办 notice")
        assert until(lambda: _fetch(imap, "li@example.test", "已派发"), what="已派发 to 李副总")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        log.close()
    assert rc == 0, (tmp_path / "sandbox.log").read_text(errors="replace")

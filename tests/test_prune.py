"""`officeflow prune` (SPEC §4): stored copies of sent mail of closed requests go; the record stays."""

from __future__ import annotations

import re

import pytest
from flow import GOOD_BODY

from daemon import models

pytestmark = pytest.mark.mailserver


def _number(subject: str) -> str:
    return re.search(r"【(.+?)】", subject).group(1)


def _stored(db, number: str) -> int:
    req = db.Request.get(db.Request.number == number)
    return db.Outbox.select().join(db.Mail).where(db.Mail.request == req).count()


def test_prune_removes_sent_mail_of_closed_requests_only_and_keeps_the_record(office):
    office.send_request(subject="关于购置饮水机的请示", body=GOOD_BODY.replace("办公设备", "饮水机"), attachments=[])
    office.send_request(subject="关于购置办公设备的请示")
    office.run_once()
    closed = _number(office.last("unit1", "饮水机").subject)
    still_open = _number(office.last("unit1", "办公设备").subject)
    office.reply("unit1", office.last("unit1", closed), "撤回")
    office.run_once()

    db = office.db()
    assert db.Request.get(db.Request.number == closed).state == "withdrawn"
    lines_before = db.Mail.select().count()
    kept_open = _stored(db, still_open)
    assert _stored(db, closed) >= 3 and kept_open >= 2
    models.close()

    cfg = str(office.config_path)
    dry = office.run_cli("prune", "-c", cfg, "--before", "2026-11-27")
    assert dry.returncode == 0, dry.stderr
    assert "would remove" in dry.stdout and "of 1 requests" in dry.stdout and "--yes" in dry.stdout
    assert _stored(office.db(), closed) >= 3, "a dry run removes nothing"
    models.close()

    earlier = office.run_cli("prune", "-c", cfg, "--before", "2026-11-26", "--yes")
    assert earlier.returncode == 0 and "0 stored copies" in earlier.stdout
    done = office.run_cli("prune", "-c", cfg, "--before", "2026-11-27", "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("removed ")

    db = office.db()
    assert _stored(db, closed) == 0
    assert _stored(db, still_open) == kept_open
    assert db.Mail.select().count() == lines_before, "every 收发记录 line stays"
    models.close()
    shown = office.run_cli("show", "-c", cfg, closed)
    assert shown.returncode == 0 and "撤回" in shown.stdout and "收发记录" in shown.stdout

"""officeflow on PostgreSQL (SPEC §4): a whole request, two daemons on one database, a server restart, NUL in mail.

A private PostgreSQL cluster (tests/pgserver.py) runs for the session; each test gets its own empty
database. The mail side is the usual Dovecot + SMTP relay of conftest.py.
"""

from __future__ import annotations

import collections
import csv
import hashlib
import os
import re
import subprocess
import sys
import threading
import uuid

import pytest
from flow import GOOD_BODY, REPO, Office, docx_bytes

from daemon import models, service

pytestmark = pytest.mark.mailserver

NOW = "2026-11-26T09:00:00+08:00"   # a Thursday in office hours


def _use_postgres(office: Office, url: str) -> None:
    text = office.config_path.read_text(encoding="utf-8")
    new, n = re.subn(r'(?m)^url = "sqlite:///[^"]*"$', f'url = "{url}"', text)
    assert n == 1, "the [database] url line of the test config"
    office.config_path.write_text(new, encoding="utf-8")
    assert office.cfg.database.url == url


@pytest.fixture
def office(mailservers, maildomain, tmp_path, monkeypatch, pgserver):
    monkeypatch.setenv("OFFICEFLOW_NOW", NOW)
    o = Office(mailservers, maildomain, tmp_path)
    _use_postgres(o, pgserver.create_database(f"of_{uuid.uuid4().hex[:12]}"))
    yield o
    models.close()


def _number(subject: str) -> str:
    m = re.search(r"【(.+?)】", subject)
    assert m, subject
    return m.group(1)


def test_a_request_from_receipt_to_result_on_postgresql(office, tmp_path):
    attachment = docx_bytes(["办公设备购置清单", "台式计算机 10台 6万元"])
    office.send_request(attachments=[("办公设备购置清单.docx", attachment)])
    office.run_once()

    db = office.db()
    assert isinstance(models.db.obj, models.PostgresDatabase)
    receipt = office.last("unit1")
    number = _number(receipt.subject)
    assert number == "办请〔2026〕1号"
    review = office.last("clerk", number)
    assert [a.filename for a in review.attachments] == ["办公设备购置清单.docx"]
    assert office.servers.messages(office.addr["office"]) == []
    req = db.Request.get(db.Request.number == number)
    assert req.state == "reviewing" and req.unit_name == "第一分公司"
    assert req.received_at.utcoffset().total_seconds() == 0
    assert isinstance(db.Outbox.select().first().data, bytes)      # bytea comes back as bytes, not memoryview
    models.close()

    office.reply("clerk", review, "受理\n拟办意见：拟同意，请李副总审批。\n流程：李副总\n执行：综合科\n抄送：行政科")
    office.run_once()
    li_mail = office.last("li", number)
    office.reply("li", li_mail, "同意，请综合科抓紧办理。")
    office.run_once()

    result = office.last("zonghe", number)
    originals = [a for a in result.attachments if a.filename == "办公设备购置清单.docx"]
    assert originals and hashlib.sha256(originals[0].data).digest() == hashlib.sha256(attachment).digest()
    assert "请综合科抓紧办理" in result.text
    assert number in office.last("xingzheng", number).subject
    assert "请综合科抓紧办理" in office.last("unit1", number).text
    db = office.db()
    req = db.Request.get(db.Request.number == number)
    assert (req.state, req.result, req.route) == ("approved", "同意", "李副总")
    last = db.Opinion.select().order_by(db.Opinion.id.desc()).first()
    assert (last.name, last.decision, last.text) == ("李副总", "同意", "同意，请综合科抓紧办理。")
    assert db.Outbox.select().where(db.Outbox.state != "sent").count() == 0
    models.close()

    cfg = str(office.config_path)
    listed = office.run_cli("list", "-c", cfg)
    assert listed.returncode == 0, listed.stderr
    assert number in listed.stdout and "第一分公司" in listed.stdout and "已批准" in listed.stdout
    pending = office.run_cli("list", "-c", cfg, "--pending")
    assert pending.returncode == 0, pending.stderr
    assert [line.split("\t")[:2] for line in pending.stdout.splitlines()] == [[number, "已批准，待办结"]]
    assert pending.stdout.split("\t")[4] == "综合科"              # approved, waiting for the 办结 report
    shown = office.run_cli("show", "-c", cfg, number)
    assert shown.returncode == 0, shown.stderr
    for text in ("李副总", "请综合科抓紧办理", "收发记录", "综合科"):
        assert text in shown.stdout
    register = tmp_path / "register.csv"
    exported = office.run_cli("export", "-c", cfg, "--csv", str(register))
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.reader(register.open(encoding="utf-8-sig")))
    assert len(rows) == 2 and number in rows[1]
    form = tmp_path / "form.docx"
    printed = office.run_cli("form", "-c", cfg, number, str(form))
    assert printed.returncode == 0, printed.stderr
    assert form.read_bytes()[:2] == b"PK"


def test_two_daemons_share_one_database(office):
    """Two daemons start at once on an empty database and work one inbox of 20 请示.

    The design admits no duplicate here: intake registers a mail once per Message-ID (the unique
    (direction, message_id) index; the loser of the race rolls back on IntegrityError and only moves the
    mail), and the outbox claims each row with a conditional UPDATE before sending, so a mail goes out
    twice only when a daemon dies between the SMTP answer and recording it (not the case here).
    """
    n = 20
    sent_ids = {office.send_request(subject=f"关于购置办公设备的请示（{i}）") for i in range(1, n + 1)}
    assert len(office.servers.wait_for(office.addr["office"], n)) == n

    cmd = [sys.executable, "-m", "daemon", "run", "-c", str(office.config_path), "--once"]
    procs = [subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ)) for _ in range(2)]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=180))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    db = office.db()
    reqs = list(db.Request.select().order_by(db.Request.seq))
    assert [r.seq for r in reqs] == list(range(1, n + 1))
    assert len({r.number for r in reqs}) == n
    assert {r.message_id for r in reqs} == sent_ids
    assert db.Counter.get().value == n
    incoming = [m.message_id for m in db.Mail.select().where(db.Mail.direction == "in")]
    assert sorted(incoming) == sorted(sent_ids)
    assert not db.Mail.select().where((db.Mail.direction == "in") & db.Mail.ignored).exists()
    rows = list(db.Outbox.select())
    assert len(rows) == 2 * n                          # a receipt to the unit and a review mail to the staff
    assert {(r.state, r.attempts) for r in rows} == {("sent", 1)}
    numbers = {r.number for r in reqs}
    models.close()

    receipts = collections.Counter(_number(m.subject) for m in office.inbox("unit1"))
    assert receipts == {number: 1 for number in numbers}
    reviews = collections.Counter(_number(m.subject) for m in office.inbox("clerk"))
    assert reviews == {number: 1 for number in numbers}
    assert office.servers.messages(office.addr["office"]) == []
    assert len(office.servers.messages(office.addr["office"], "Processed")) == n

    # last, so that the database and the mail above are checked even when this fails: both daemons ran
    # to the end (moving mail that the other daemon moved first must not be an error)
    for p, (out, err) in zip(procs, outs):
        assert "Traceback" not in err, err
        assert p.returncode == 0, err[-3000:]


def test_a_running_daemon_outlives_a_database_restart(office, pgserver):
    """The server restarts under a long-running daemon: the next mail is handled on a new connection."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def run():
        try:
            service.run(office.cfg, stop=stop)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    daemon = threading.Thread(target=run, daemon=True)
    daemon.start()
    try:
        office.send_request(subject="关于购置办公设备的请示（一）")
        office.servers.wait_for(office.addr["unit1"], 1, timeout=30)
        pgserver.restart()
        office.send_request(subject="关于购置办公设备的请示（二）")
        office.servers.wait_for(office.addr["unit1"], 2, timeout=60)
    finally:
        stop.set()
        daemon.join(30)
    assert not daemon.is_alive() and not errors
    numbers = sorted(_number(m.subject) for m in office.inbox("unit1"))
    assert numbers == ["办请〔2026〕1号", "办请〔2026〕2号"]
    assert office.servers.messages(office.addr["office"], "Failed") == []
    db = office.db()
    assert db.Request.select().count() == 2


def test_a_mail_with_nul_characters_is_registered(office):
    """PostgreSQL text cannot hold NUL, SQLite can: such a mail is registered, not failed again on every start.

    Dovecot turns NUL into 0x80 on delivery, so the raw mail goes straight to intake (other IMAP servers
    may hand it over untouched).
    """
    from daemon import intake
    from daemon.app import App

    a = office.addr
    mid = f"nul.{uuid.uuid4().hex}@{office.domain}"
    raw = (f"From: {a['unit1']}\r\nTo: {a['office']}\r\nSubject: 关于购置办公设备的请示\x00\r\n"
           f"Message-ID: <{mid}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n" + GOOD_BODY.replace("妥否", "\x00妥否").replace("\n", "\r\n")
           ).encode("utf-8")
    cfg = office.cfg
    models.connect(cfg.database.url)
    assert intake.handle(App(cfg), raw) == intake.PROCESSED
    req = models.Request.get()
    assert req.number == "办请〔2026〕1号" and req.message_id == mid
    assert "妥否，请批示" in req.body and "\x00" not in req.body      # control characters are dropped at parse
    assert models.Mail.get((models.Mail.direction == "in") & (models.Mail.message_id == mid)).request_id == req.id
    assert models.Outbox.select().count() == 2                      # receipt and review, queued


def test_the_outbox_s_lookups_by_state_use_the_index_of_mail_not_sent(pgserver):
    """PostgreSQL proves a query's condition on state implies the partial index's as SQLite does (and more): with
    sequential scans priced out, each lookup of the rows not sent finds them in that index."""
    from datetime import datetime, timezone

    import peewee as pw

    from daemon.models import Mail, Outbox
    database = models.connect(pgserver.create_database(f"of_{uuid.uuid4().hex[:12]}"))
    try:
        database.execute_sql("SET enable_seqscan = off")
        now = datetime(2026, 11, 26, 1, 0, tzinfo=timezone.utc)
        queries = [Outbox.select(Outbox.id).where((Outbox.state == "queued") & (Outbox.next_attempt_at <= now)),
                   Outbox.select(Outbox.id).where(Outbox.state == "sending"),
                   Outbox.select(pw.fn.COUNT(Outbox.id), pw.fn.MIN(Mail.at)).join(Mail).where(
                       (Outbox.state == "queued") | (Outbox.state == "sending")),
                   Outbox.select(Outbox.id).join(Mail).where((Outbox.state == "failed") & (Mail.at > now))]
        for query in queries:
            sql, params = query.sql()
            plan = "\n".join(row[0] for row in database.execute_sql("EXPLAIN " + sql, params).fetchall())
            assert "outbox_unsent" in plan, plan
    finally:
        models.close()


def test_one_daemon_at_a_time_holds_the_others_off_until_its_transaction_ends(pgserver):
    models.connect(pgserver.create_database(f"of_{uuid.uuid4().hex[:12]}"))
    inside, order = threading.Event(), []

    def other():
        inside.wait()
        with models.one_daemon_at_a_time(42):
            order.append("other")
        models.close()

    thread = threading.Thread(target=other)      # a connection of its own, as another daemon's
    thread.start()
    try:
        with models.one_daemon_at_a_time(42):
            inside.set()
            thread.join(0.5)
            assert thread.is_alive(), "the other got in while the lock was held"
            order.append("first")
        thread.join(10)
        assert order == ["first", "other"]
    finally:
        thread.join()
        models.close()


def test_on_sqlite_one_daemon_at_a_time_opens_no_transaction(tmp_path):
    models.connect(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with models.one_daemon_at_a_time(42):
            assert not models.db.in_transaction()
    finally:
        models.close()

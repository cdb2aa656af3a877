"""End to end on real Dovecot + SMTP relay: a backlog of hostile and oversized mail goes through `run --once`
without stalling, every mail ends in Processed or Failed, and the ordinary request behind them is handled."""

from __future__ import annotations

import peewee as pw
import pytest
from flow import GOOD_BODY, docx_bytes

from daemon import intake, limits, mime
from tests.test_doctext_limits import bomb_docx
from tests.test_hostile import encoded, nested, raw_by_hand

pytestmark = pytest.mark.mailserver


def deliver(office, raw: bytes, who: str = "unit1") -> None:
    office.servers.send(raw, [office.addr["office"]], office.addr[who])


def test_a_hostile_backlog_is_worked_through_and_the_normal_request_behind_it_is_registered(office):
    unit = office.addr["unit1"]
    deliver(office, raw_by_hand("关于" + "购置" * 300_000, sender=unit))                    # a huge subject
    junk = "\r\n ".join(f"<j{i}@spam.test>" for i in range(67_000))
    deliver(office, (f"From: {unit}\r\nTo: {office.addr['office']}\r\nSubject: {encoded('关于增加培训经费的请示')}\r\n"
                     f"References: {junk}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                     f"{GOOD_BODY.replace('购置办公设备', '增加培训经费')}\r\n").encode())  # huge References
    deliver(office, nested(300).replace(b"unit1@t.test", unit.encode()))                   # nested too deep
    office.send_request(subject="报送请示", body="请审阅附件。",
                        attachments=[("关于购置办公设备的请示.docx", bomb_docx())])          # a zip bomb
    deliver(office, (f"From: {unit}\r\nTo: {office.addr['office']}\r\nSubject: \r\n"
                     "Content-Type: text/plain; charset=gb2312\r\n\r\n").encode() + (bytes(range(128, 192)) + b"\r\n") * 40)
    office.send_request(subject="关于修缮会议室的请示", body=GOOD_BODY.replace("购置办公设备", "修缮会议室"))
    office.run_once()

    assert office.servers.messages(office.addr["office"]) == []          # nothing left behind in the inbox
    m = office.db()
    requests = {r.number: r for r in m.Request.select()}
    titles = [r.title for r in requests.values()]
    assert "关于修缮会议室的请示" in titles and "关于增加培训经费的请示" in titles
    long_title = next(t for t in titles if t.startswith("关于购置购置"))
    assert len(long_title) == limits.MAX_TITLE
    bomb = next(r for r in requests.values() if r.attachments and r.attachments[0]["name"].endswith(".docx"))
    assert any("附件过大或结构异常，未做格式检查" in f["message"] for f in bomb.findings)
    deep = [r for r in requests.values() if any(f["rule"] == "structure" for f in r.findings)]
    assert len(deep) == 1
    assert m.Mail.select().where((m.Mail.direction == "in") & (m.Mail.kind == "not_request")).count() == 1
    receipts = [x for x in office.inbox("unit1") if "回执" in x.subject]
    assert len(receipts) == len(requests) == 5
    for raw in office.raw_inbox("unit1") + office.raw_inbox("clerk"):
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert len(head) < 20_000 and all(len(line) <= 998 for line in head.split(b"\r\n"))


def test_a_mail_the_database_refuses_ends_in_failed_and_the_mail_after_it_is_handled(office, monkeypatch):
    real_run = intake.Pipeline.run

    def refuse(self):
        if "培训" in self.mail.subject:
            raise pw.OperationalError("too many SQL variables")
        return real_run(self)

    monkeypatch.setattr(intake.Pipeline, "run", refuse)
    office.send_request(subject="关于增加培训经费的请示")
    office.send_request()
    for _ in range(intake.MAX_ATTEMPTS + 1):
        office.run_once()
    failed = office.servers.messages(office.addr["office"], "Failed")
    assert len(failed) == 1 and "培训" in mime.parse(failed[0]).subject
    assert office.servers.messages(office.addr["office"]) == []
    m = office.db()
    assert [r.title for r in m.Request.select()] == ["关于购置办公设备的请示"]
    record = m.Mail.get((m.Mail.direction == "in") & (m.Mail.kind == "failed"))
    assert "too many SQL variables" in record.action


def test_a_control_character_in_an_attachment_name_does_not_stop_the_final_approval(office):
    office.send_request(attachments=[("购置\x01清单.docx", docx_bytes(["办公设备购置清单"]))])
    office.run_once()
    review = office.last("clerk", "请审核")
    office.reply("clerk", review, "受理\n流程：王总")
    office.run_once()
    office.reply("wang", office.last("wang", "请审批"), "同意")
    office.run_once()
    m = office.db()
    assert m.Request.get().state == "approved"
    result = office.last("unit1", "结果")
    assert any("审批单" in a.filename for a in result.attachments)
    form = office.run_cli("form", "-c", str(office.config_path), m.Request.get().number,
                          str(office.tmp / "form.docx"))
    assert form.returncode == 0, form.stderr


def test_a_flood_from_one_unit_registers_up_to_the_limit_and_tells_staff_once(office):
    office.write_config("[limits]\nnew_requests_per_hour = 5\n[reminders]\ndigest_at = \"23:00\"\n")
    for n in range(8):
        office.send_request(subject=f"关于第{n}项工作的请示", attachments=[])
    office.run_once()
    assert office.servers.messages(office.addr["office"]) == []
    m = office.db()
    assert m.Request.select().count() == 5
    assert len([x for x in office.inbox("unit1") if "回执" in x.subject]) == 5
    assert len([x for x in office.inbox("clerk") if "来信过多" in x.subject]) == 1
    assert len([x for x in office.inbox("unit1") if "暂未登记" in x.subject]) == 1
    assert m.Mail.select().where((m.Mail.direction == "in") & (m.Mail.kind == "flood")).count() == 3


def test_a_naive_auto_responder_is_answered_twice_then_left_alone(office):
    office.send_request()
    office.run_once()
    office.reply("clerk", office.last("clerk", "请审核"), "受理\n流程：王总")
    office.run_once()
    seen = 0
    for _ in range(6):                     # wang's mailbox answers whatever arrives, quoting it, adding nothing
        mails = office.inbox("wang")
        if len(mails) == seen:
            break
        seen = len(mails)
        office.reply("wang", mails[-1], "", quote="qq")
        office.run_once()
    answers = [x for x in office.inbox("wang") if "请审批" not in x.subject]
    assert len(answers) == intake.LOOP_COUNT - 1
    assert len([x for x in office.inbox("clerk") if "自动回复往复" in x.subject]) == 1
    office.reply("wang", office.last("wang", "请审批"), "同意")       # a person's answer is read at once
    office.run_once()
    assert office.db().Request.get().state == "approved"

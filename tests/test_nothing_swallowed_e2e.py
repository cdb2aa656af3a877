"""End to end on real Dovecot + SMTP relay: mail that looks like something else is still handled — a title
about holidays, a reused Message-ID, an answer to a busy approver, a classified mark in an attached file."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from flow import GOOD_BODY, crlf, docx_bytes
from test_e2e import _number

pytestmark = pytest.mark.mailserver


def _request(office, who: str, subject: str, body: str, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = office.addr[who]
    msg["To"] = office.addr["office"]
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(body)
    return crlf(msg)


def test_a_different_request_reusing_a_message_id_is_registered_and_a_true_duplicate_is_not(office):
    shared = f"<same-id@{office.domain}>"
    first = _request(office, "unit1", "关于购置办公设备的请示", GOOD_BODY, shared)
    second = _request(office, "unit2", "关于增加培训经费的请示",
                      GOOD_BODY.replace("购置办公设备", "增加培训经费").replace("第一分公司", "第二分公司"), shared)
    office.servers.send(first, [office.addr["office"]], office.addr["unit1"])
    office.run_once()
    delivered = office.servers.messages(office.addr["office"], "Processed")
    assert len(delivered) == 1
    office.servers.send(second, [office.addr["office"]], office.addr["unit2"])
    office.servers.append(office.addr["office"], delivered[0])    # the very same mail comes back
    office.run_once()

    db = office.db()
    assert sorted((r.sender, r.title) for r in db.Request.select()) == [
        (office.addr["unit1"], "关于购置办公设备的请示"), (office.addr["unit2"], "关于增加培训经费的请示")]
    assert len(office.inbox("unit1")) == 1 and len(office.inbox("unit2")) == 1
    assert "培训经费" in office.last("unit2").subject + office.last("unit2").text
    incoming = list(db.Mail.select().where(db.Mail.direction == "in"))
    assert sorted(m.message_id.startswith("officeflow-") for m in incoming) == [False, True]
    assert office.servers.messages(office.addr["office"]) == []


HOLIDAY = "关于2027年春节休假安排的请示"


def test_a_request_about_holidays_goes_through_acceptance_and_approval(office):
    body = (GOOD_BODY.replace("关于购置办公设备的请示", HOLIDAY)
            .replace("因业务量增加，我公司现有计算机老化严重，已影响正常办公。为保障工作顺利开展，拟购置台式计算机10台，"
                     "预算约6万元，资金从年度办公经费中列支。建议采购国产品牌设备。",
                     "根据国家春节放假安排，结合生产实际，拟安排职工2月5日至2月13日休假，值班人员另行轮休。"))
    office.send_request(subject=HOLIDAY, body=body, attachments=[])
    office.run_once()
    number = _number(office.last("unit1").subject)
    review = office.last("clerk", number)
    assert HOLIDAY in review.subject

    office.reply("clerk", review, "受理\n拟办意见：拟同意，报王总审批。\n流程：王总")  # subject quotes the title
    office.run_once()
    note = office.last("wang", number)
    assert HOLIDAY in note.subject
    office.reply("wang", note, "同意。")
    office.run_once()

    db = office.db()
    req = db.Request.get()
    assert (req.title, req.state) == (HOLIDAY, "approved")
    assert office.last("zonghe", number)
    assert not db.Mail.select().where((db.Mail.direction == "in") & (db.Mail.kind == "auto")).exists()


def test_an_out_of_office_reply_to_the_holiday_request_is_recorded_not_answered(office):
    office.send_request(subject=HOLIDAY, body=GOOD_BODY.replace("关于购置办公设备的请示", HOLIDAY), attachments=[])
    office.run_once()
    number = _number(office.last("unit1").subject)
    office.reply("clerk", office.last("clerk", number), "受理\n流程：王总")
    office.run_once()
    note = office.last("wang", number)
    office.reply("wang", note, "本人休假至2月13日，急事请联系赵秘书。", subject=f"自动回复: {note.subject}")
    office.run_once()
    db = office.db()
    auto = db.Mail.get((db.Mail.direction == "in") & (db.Mail.sender == office.addr["wang"]))
    assert auto.kind == "auto" and auto.ignored
    assert db.Request.get().state == "approving"
    assert [m for m in office.inbox("wang") if number in m.subject] == [note]


def test_an_approver_past_twenty_answers_a_day_still_gets_a_question_on_their_own_step(office):
    from daemon import intake
    office.send_request(subject="关于召开年度工作会议的请示",
                        body=GOOD_BODY.replace("关于购置办公设备的请示", "关于召开年度工作会议的请示"), attachments=[])
    office.run_once()
    number = _number(office.last("unit1").subject)
    office.reply("clerk", office.last("clerk", number), "受理\n流程：王总")
    office.run_once()
    note = office.last("wang", number)
    for i in range(intake.MAX_ANSWERS_A_DAY + 1):       # a busy leader's fresh mails about nothing we know
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = office.addr["wang"], office.addr["office"], f"第{i}件事"
        msg["Message-ID"] = f"<stray{i}@{office.domain}>"
        msg.set_content("这件事请办公室看一下。")
        office.servers.send(crlf(msg), [office.addr["office"]], office.addr["wang"])
    office.run_once()
    assert len(office.inbox("wang")) == 1 + intake.MAX_ANSWERS_A_DAY

    office.reply("wang", note, "阅")
    office.run_once()
    question = office.last("wang")
    assert number in question.subject and question.in_reply_to
    office.reply("wang", question, "同意")
    office.run_once()
    assert office.db().Request.get().state == "approved"


def test_a_request_whose_attached_document_is_marked_classified_is_kept_and_not_registered(office):
    marked = docx_bytes(["000123", "機 密★1年", "特急", "关于调整保卫方案的请示", "集团公司办公室：", "妥否，请批示。"])
    office.send_request(subject="报送请示", body="请审阅附件。", attachments=[("请示.docx", marked)])
    office.run_once()

    db = office.db()
    assert db.Request.select().count() == 0
    record = db.Mail.get(db.Mail.direction == "in")
    assert record.kind == "classified" and "机密" in record.action
    assert (office.tmp / "archive" / record.archive).read_bytes() == office.servers.messages(
        office.addr["office"], "Processed")[0]
    told = office.last("unit1")
    assert "机密" in told.subject + told.text and not told.attachments
    alert = office.last("director")
    assert "机密" in alert.subject and office.addr["unit1"] in alert.subject + alert.text
    assert not [m for m in office.inbox("clerk") if "请审核" in m.subject]


def test_a_bounce_with_an_empty_return_path_is_recorded_and_never_answered(office):
    bounce = _request(office, "unit1", "关于购置办公设备的请示", "This message could not be delivered.\n" + GOOD_BODY,
                      f"<bounce1@{office.domain}>")
    office.servers.send(bounce, [office.addr["office"]], "")          # MAIL FROM:<> becomes Return-Path: <>
    office.run_once()
    db = office.db()
    record = db.Mail.get(db.Mail.direction == "in")
    assert (record.kind, record.ignored) == ("auto", True) and "bounce" in record.action
    assert db.Request.select().count() == 0
    assert office.inbox("unit1") == []

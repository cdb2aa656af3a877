"""End to end on real Dovecot + SMTP relay: a 请示 from receipt to distribution, and every way it can end."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from flow import GOOD_BODY, Office, docx_bytes

from daemon import models

pytestmark = pytest.mark.mailserver


def _number(subject: str) -> str:
    m = re.search(r"【(.+?)】", subject)
    assert m, subject
    return m.group(1)


def _filed(office: Office, acceptance: str | None = None) -> str:
    """A unit files the standard request; office staff answer the review with `acceptance` if given."""
    office.send_request()
    office.run_once()
    number = _number(office.last("unit1").subject)
    if acceptance is not None:
        _accept(office, acceptance)
    return number


def _accept(office: Office, text: str):
    review = office.last("clerk", "")
    office.reply("clerk", review, text)
    office.run_once()
    return review


def test_a_request_travels_from_receipt_to_distribution(office):
    attachment = docx_bytes(["办公设备购置清单", "台式计算机 10台 6万元"])
    office.send_request(attachments=[("办公设备购置清单.docx", attachment)])
    office.run_once()

    receipt = office.last("unit1")
    number = _number(receipt.subject)
    assert number == "办请〔2026〕1号"
    assert "回执" in receipt.subject or "收到" in receipt.text or "已收" in receipt.text
    review = office.last("clerk")
    assert number in review.subject
    assert [a.filename for a in review.attachments] == ["办公设备购置清单.docx"]
    assert office.servers.messages(office.addr["office"], "Processed"), "processed mail moved"
    assert office.servers.messages(office.addr["office"]) == []

    # office staff accept with a route mixing 会签 and 或签
    office.reply("clerk", review, "受理\n拟办意见：拟同意，请财务科、审计科审核后报李副总审批。\n"
                 "流程：财务科+审计科，李副总/王总\n执行：综合科\n抄送：行政科")
    office.run_once()
    for who in ("caiwu", "shenji"):
        mail = office.last(who, number)
        assert [a.filename for a in mail.attachments if a.filename.endswith("清单.docx")] == ["办公设备购置清单.docx"]
    assert not [m for m in office.inbox("li") if number in m.subject]

    # 会签: both must sign before the next step
    office.reply("caiwu", office.last("caiwu", number), "同意。经费可从年度办公经费列支。")
    office.run_once()
    assert not [m for m in office.inbox("li") if number in m.subject]
    office.reply("shenji", office.last("shenji", number), "同意", quote="qq")
    office.run_once()

    # 或签: one of 李副总 / 王总 decides
    li_mail = office.last("li", number)
    assert office.last("wang", number)
    office.reply("li", li_mail, "同意，请综合科抓紧办理。")
    office.run_once()

    result = office.last("zonghe", number)
    originals = [a for a in result.attachments if a.filename == "办公设备购置清单.docx"]
    assert originals and hashlib.sha256(originals[0].data).digest() == hashlib.sha256(attachment).digest()
    assert any(a.filename.endswith(".docx") and a.filename != "办公设备购置清单.docx" for a in result.attachments)
    for text in ("经费可从年度办公经费列支", "请综合科抓紧办理"):
        assert text in result.text
    assert number in office.last("xingzheng", number).subject
    assert len([m for m in office.inbox("unit1") if number in m.subject]) >= 3   # receipt, accepted, result

    # a late 或签 answer from 王总 changes nothing and is told who decided
    office.reply("wang", office.last("wang", number), "不同意")
    office.run_once()
    late = office.last("wang", number)
    assert "李副总" in late.text
    db = office.db()
    req = db.Request.get(db.Request.number == number)
    assert req.state == "approved" and req.result == "同意"

    # the executing unit reports the work done
    office.reply("zonghe", result, "办结：设备已于12月1日采购到位并发放。")
    office.run_once()
    req = db.Request.get(db.Request.number == number)
    assert req.state == "done" and "采购到位" in req.done_report

    shown = office.run_cli("show", "-c", str(office.config_path), number)
    assert shown.returncode == 0, shown.stderr
    for text in ("财务科", "审计科", "李副总", "经费可从年度办公经费列支", "收发记录", "办结"):
        assert text in shown.stdout


def test_rejection_ends_the_request_and_tells_unit_and_staff(office):
    number = _filed(office, "受理\n拟办意见：请审批。\n流程：李副总")
    office.reply("li", office.last("li", number), "不同意。今年预算已用完，明年再报。")
    office.run_once()
    db = office.db()
    req = db.Request.get(db.Request.number == number)
    assert req.state == "rejected"
    assert "预算已用完" in office.last("unit1", number).text
    assert [m for m in office.inbox("clerk") if number in m.subject and "预算已用完" in m.text]


def test_default_route_applies_without_route_lines(office):
    number = _filed(office, "受理")
    assert office.last("caiwu", number)      # the 采购/购置 rule: 财务科 then 李副总
    db = office.db()
    req = db.Request.get(db.Request.number == number)
    assert req.route == "财务科，李副总"


def test_return_and_resubmission_keep_the_number(office):
    number = _filed(office, "退回：请补充资金来源和采购方式后重新报送。")
    returned = office.last("unit1", number)
    assert "资金来源" in returned.text
    office.reply("unit1", returned, "已按要求修改，请审核。",
                 attachments=[("关于购置办公设备的请示（修改稿）.docx", docx_bytes(GOOD_BODY.splitlines()))])
    office.run_once()
    db = office.db()
    assert db.Request.select().count() == 1
    req = db.Request.get(db.Request.number == number)
    assert req.state == "reviewing"
    assert len([m for m in office.inbox("clerk") if number in m.subject]) == 2


def test_withdrawal(office):
    number = _filed(office, "受理\n流程：李副总")
    # a new mail with only the number in its subject does not withdraw anything (SPEC §3)
    office.send_request(subject=f"撤回{number}", body="撤回", attachments=[])
    office.run_once()
    db = office.db()
    assert db.Request.get(db.Request.number == number).state == "approving"
    assert "撤回" in office.last("unit1", number).text
    office.reply("unit1", office.last("unit1", number), "撤回")
    office.run_once()
    db = office.db()
    assert db.Request.get(db.Request.number == number).state == "withdrawn"
    office.reply("li", office.last("li", number), "同意")
    office.run_once()
    assert db.Request.get(db.Request.number == number).state == "withdrawn"


def test_transfer_and_add_signer(office):
    number = _filed(office, "受理\n流程：李副总\n执行：综合科")
    li_mail = office.last("li", number)
    office.reply("li", li_mail, "转：王总")
    office.run_once()
    # the old notification no longer decides anything
    office.reply("li", li_mail, "同意")
    office.run_once()
    db = office.db()
    assert db.Request.get(db.Request.number == number).state == "approving"
    office.reply("wang", office.last("wang", number), "加签：审计科\n同意，请审计科把关。")
    office.run_once()
    office.reply("shenji", office.last("shenji", number), "同意")
    office.run_once()
    assert db.Request.get(db.Request.number == number).state == "approved"
    assert office.last("zonghe", number)


def test_only_the_entitled_person_decides(office):
    number = _filed(office, "受理\n流程：李副总")
    li_mail = office.last("li", number)
    # 财务科 forwards the approval mail and answers it: not on this step, nothing changes
    office.reply("stranger", li_mail, "同意")
    office.reply("caiwu", li_mail, "同意")
    office.run_once()
    db = office.db()
    assert db.Request.get(db.Request.number == number).state == "approving"
    assert office.inbox("caiwu") and office.inbox("stranger")      # both told why
    assert [m for m in office.inbox("clerk") if number in m.subject and m is not None]
    ignored = db.Mail.select().where((db.Mail.ignored == True) & (db.Mail.direction == "in")).count()  # noqa: E712
    assert ignored == 2
    # the delegate may act for 李副总
    office.reply("zhao", li_mail, "同意（代李副总）")
    office.run_once()
    assert db.Request.get(db.Request.number == number).state == "approved"


def test_not_understood_reply_changes_nothing(office):
    number = _filed(office, "受理\n流程：李副总")
    office.reply("li", office.last("li", number), "已阅")
    office.run_once()
    db = office.db()
    assert db.Request.get(db.Request.number == number).state == "approving"
    answer = office.last("li", number)
    assert "已阅" in answer.text
    # answering that explanation with a decision counts as answering the approval mail
    office.reply("li", answer, "同意")
    office.run_once()
    assert db.Request.get(db.Request.number == number).state == "approved"


def test_strangers_are_refused_politely(office):
    office.send_request(who="stranger")
    office.run_once()
    db = office.db()
    assert db.Request.select().count() == 0
    assert len(office.inbox("stranger")) == 1


def test_the_same_mail_twice_is_registered_once(office):
    office.send_request()
    raw = office.servers.messages(office.addr["office"])[0]
    office.servers.append(office.addr["office"], raw)
    office.run_once()
    db = office.db()
    assert db.Request.select().count() == 1
    assert len(office.inbox("unit1")) == 1


def test_unreadable_mail_goes_to_failed_folder(office):
    office.servers.append(office.addr["office"], b"\x00\x01 not a mail at all \xff" * 3)
    office.send_request()
    office.run_once()
    db = office.db()
    assert db.Request.select().count() == 1
    failed = office.servers.messages(office.addr["office"], "Failed")
    processed = office.servers.messages(office.addr["office"], "Processed")
    assert len(failed) + len(processed) == 2


def test_classified_mail_is_not_processed(office):
    office.send_request(subject="关于调整保卫方案的请示（机密）")
    office.run_once()
    db = office.db()
    assert db.Request.select().count() == 0
    assert len(office.inbox("unit1")) == 1
    assert len(office.inbox("director")) == 1


def test_cli_list_and_bad_config(office, tmp_path):
    office.send_request()
    office.run_once()
    out = office.run_cli("list", "-c", str(office.config_path), "--pending")
    assert out.returncode == 0 and "办请〔2026〕1号" in out.stdout and "第一分公司" in out.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(office.config_path.read_text().replace('security = "none"', 'security = "tls"', 1))
    out = office.run_cli("check-config", "-c", str(bad))
    assert out.returncode != 0
    assert str(bad) in out.stderr and "imap.security" in out.stderr
    ok = office.run_cli("check-config", "-c", str(office.config_path))
    assert ok.returncode == 0, ok.stderr


def test_docx_request_text_is_read(office):
    office.send_request(subject="请示", body="请审阅附件。",
                        attachments=[("关于购置办公设备的请示.docx", docx_bytes(GOOD_BODY.splitlines())),
                                     ("办公设备购置清单.docx", docx_bytes(["清单"]))])
    office.run_once()
    db = office.db()
    req = db.Request.get()
    assert req.title == "关于购置办公设备的请示"
    io.BytesIO()


def test_badly_drafted_request_is_returned_with_guidance_then_passes(mailservers, maildomain, tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    office = Office(mailservers, maildomain, tmp_path, extra='[reminders]\ndigest_at = "23:00"\n'
                                                             '[review]\nauto_return = true\n')
    try:
        office.send_request(subject="购买电脑的请示报告", body="李总：\n    我们想买几台电脑，请领导批准。\n",
                            attachments=[])
        office.run_once()
        db = office.db()
        req = db.Request.get()
        assert req.state == "returned"
        assert any(f["severity"] == "退回" for f in req.findings)
        returned = office.last("unit1", "退")
        assert "关于" in returned.text and "请示" in returned.text        # the model layout (技术指引)
        assert [m for m in office.inbox("clerk") if req.number in m.subject]   # staff get a copy
        office.reply("unit1", returned, "已按要求修改，请审核。",
                     attachments=[("关于购置办公设备的请示.docx", docx_bytes(GOOD_BODY.splitlines())),
                                  ("办公设备购置清单.docx", docx_bytes(["清单"]))])
        office.run_once()
        req = db.Request.get()
        assert req.state == "reviewing", req.findings
        assert not [f for f in req.findings if f["severity"] == "退回"]
        assert db.Request.select().count() == 1
        review = office.last("clerk", req.number)
        office.reply("clerk", review, "受理\n流程：李副总")
        office.run_once()
        assert db.Request.get().state == "approving"
    finally:
        models.close()


def test_mail_waits_in_the_outbox_while_smtp_is_down_and_goes_out_later(office, monkeypatch):
    from mailservers import free_port
    good = office.config_path.read_text()
    office.config_path.write_text(good.replace(f"port = {office.servers.smtp_port}", f"port = {free_port()}"))
    office.send_request()
    office.run_once()
    db = office.db()
    assert db.Request.select().count() == 1                      # the request is registered all the same
    waiting = list(db.Outbox.select())
    assert waiting and all(r.state == "queued" and r.attempts == 0 and r.last_error for r in waiting)  # never reached
    assert office.servers.messages(office.addr["office"], "Processed")
    office.config_path.write_text(good)
    office.run_once()                                            # not due yet: backoff
    assert db.Outbox.select().where(db.Outbox.state == "sent").count() == 0
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T09:05:00+08:00")
    office.run_once()
    assert db.Outbox.select().where(db.Outbox.state != "sent").count() == 0
    assert len(office.inbox("unit1")) == 1 and len(office.inbox("clerk")) == 1

"""A 交办 end to end on real Dovecot + SMTP relay (SPEC §6.13 literally), with OFFICEFLOW_NOW moving through the
week: a leader's mail, the office's 核定 and 派发, the units' work, the report, 核报, 阅示 and the 台账."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from flow import Office, at, crlf, docx_bytes, sent

from daemon import models

pytestmark = pytest.mark.mailserver


@pytest.fixture
def office(mailservers, maildomain, tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-01T10:12:00+08:00")
    o = Office(mailservers, maildomain, tmp_path)
    o.monkeypatch = monkeypatch
    yield o
    models.close()




def mail(office: Office, who: str, subject: str, body: str, attachments=(), name: str = "") -> None:
    """A new mail (no reply) from `who` to the office, as a person writes it."""
    msg = EmailMessage()
    msg["From"] = f"{name} <{office.addr[who]}>" if name else office.addr[who]
    msg["To"] = office.addr["office"]
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=office.domain)
    msg.set_content(body)
    for filename, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=filename)
    office.servers.send(crlf(msg), [office.addr["office"]], office.addr[who])




def matter(office: Office, number: str):
    db = office.db()
    return db.Request.get(db.Request.number == number)


def test_the_example_of_the_specification_from_the_leaders_mail_to_the_ledger(office):
    # 1. 李副总 mails the office at 10:12 on Tuesday, 2026-12-01
    text = "请综合科牵头，安全科配合，本周五前拿出通报初稿，突出问题整改，不超过两页。"
    mail(office, "li", "交办：年度安全生产检查通报", text, name="李副总")
    office.run_once()

    # 2. the receipt to the leader, 请核定 to office staff with the elements proposed
    receipt = sent(office, "li", "jb_receipt")[-1]
    number = re.search(r"【(督办〔2026〕\d+号)】", receipt.subject).group(1)
    assert "撤销" in receipt.text and "更正" in receipt.text
    verify = sent(office, "clerk", "jb_verify", number)[-1]
    for fact in ("年度安全生产检查通报", "12月4日（周五）17:30前", "剩3个工作日", text, "综合科", "安全科"):
        assert fact in verify.text.replace(" ", ""), fact
    assert not office.inbox("zonghe") and not office.inbox("anquan")       # nothing reaches a unit before 派发

    # two other open 交办 of 综合科, from two leaders, to be listed with it
    for who, subject, body in (("wang", "交办：年终总结材料", "请综合科负责，12月10日前报送年终总结材料。"),
                               ("li", "交办：冬季消防检查方案", "请综合科负责，12月3日前拿出冬季消防检查方案。")):
        mail(office, who, subject, body)
        office.run_once()
        other = re.search(r"【(督办〔2026〕\d+号)】", sent(office, who, "jb_receipt")[-1].subject).group(1)
        office.reply("clerk", sent(office, "clerk", "jb_verify", other)[-1], "派发")
        office.run_once()
        assert matter(office, other).state == "jb_doing"

    # 3. office staff reply 派发: the units get the 交办通知单, the leader 已派发
    office.reply("clerk", verify, "派发")
    office.run_once()
    assert matter(office, number).state == "jb_doing"
    notice = sent(office, "zonghe", "jb_notice", number)[-1]
    assert "12月4日（周五）" in notice.text and "办结" in notice.text
    co_notice = sent(office, "anquan", "jb_notice", number)[-1]
    assert "协办" in co_notice.text and "综合科" in co_notice.text
    assert sent(office, "li", "jb_dispatched", number)

    # 4. Wednesday 08:30: 综合科's 临期提醒 lists this matter with its two other open 交办, by deadline
    at(office, "2026-12-02 08:30")
    lists = sent(office, "zonghe", "jb_list")
    assert lists, [m.subject for m in office.inbox("zonghe")]
    listing = lists[-1].text
    assert number in listing and listing.count("督办〔2026〕") >= 3
    assert listing.index("冬季消防检查方案") < listing.index("年度安全生产检查通报") < listing.index("年终总结材料")

    # 5. 安全科 replies 协办完毕; it is passed to 综合科
    at(office, "2026-12-03 10:00")
    office.reply("anquan", co_notice, "协办完毕：问题清单见附件",
                 attachments=[("问题清单.docx", docx_bytes(["问题清单", "一、消防通道堵塞"]))])
    office.run_once()
    assert any("协办完毕" in m.text for m in sent(office, "zonghe", "jb_passed", number))

    # 6. Friday 16:40: 综合科 reports; office staff get 请核报 showing 按期, the 要求 and 安全科's 协办完毕
    at(office, "2026-12-04 16:40")
    office.reply("zonghe", notice, "办结：通报初稿见附件",
                 attachments=[("年度安全生产检查通报（初稿）.docx", docx_bytes(["年度安全生产检查通报"]))])
    office.run_once()
    check = sent(office, "clerk", "jb_check", number)[-1]
    assert "按期" in check.text and "突出问题整改" in check.text and "安全科" in check.text
    assert matter(office, number).state == "jb_checking"

    # 7. 核报; 李副总 gets 请阅示 and replies 阅，请印发: closed, 按期
    office.reply("clerk", check, "核报")
    office.run_once()
    read = sent(office, "li", "jb_read", number)[-1]
    office.reply("li", read, "阅，请印发")
    office.run_once()
    req = matter(office, number)
    assert req.state == "jb_closed"
    db = office.db()
    rnd = db.Round.get(db.Round.request == req)
    assert rnd.result == "按期" and rnd.instruction == "请印发"

    # the 台账 of the week counts it
    ledger = office.run_cli("ledger", "-c", str(office.config_path), "--week", "2026-W49")
    assert ledger.returncode == 0, ledger.stderr
    assert number in ledger.stdout and "按期" in ledger.stdout


def test_an_office_without_leaders_reads_no_mail_as_a_jiaoban(office):
    office.leaders = ()
    office.write_config()
    mail(office, "li", "交办：年度安全生产检查通报", "请综合科牵头，本周五前拿出通报初稿。")
    office.run_once()
    db = office.db()
    assert not db.Task.select().exists()
    assert all(r.kind == "请示" for r in db.Request.select())


def test_a_unit_cannot_jiaoban_and_is_told_how(office):
    mail(office, "unit1", "交办：请办公室协调会议室", "请办公室协调下周会议室。", name="第一分公司")
    office.run_once()
    db = office.db()
    assert not db.Request.select().where(db.Request.kind == "交办").exists()
    answer = office.last("unit1")
    assert "交办须由单位领导发出" in answer.text


def test_a_forged_dispatch_from_a_unit_does_nothing(office):
    mail(office, "li", "交办：年度安全生产检查通报", "请综合科牵头，本周五前拿出通报初稿。")
    office.run_once()
    verify = sent(office, "clerk", "jb_verify")[-1]
    number = re.search(r"【(督办〔2026〕\d+号)】", verify.subject).group(1)
    # a unit answers the 核定单 (forwarded to it, say) with 派发
    office.reply("zonghe", verify, "派发")
    office.run_once()
    assert matter(office, number).state == "jb_verifying"
    assert not sent(office, "zonghe", "jb_notice")

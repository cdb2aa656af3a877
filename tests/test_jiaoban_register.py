"""A new 交办 (SPEC §6.2 steps 1–2, §6.9 first rows): which mail is one, who may send it, the receipt to the
leader, the 核定单 to office staff with the proposed 三要素 and the findings; 代登记."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from jiaoban_world import World, world  # noqa: F401 - the office in process

from daemon import intake
from daemon.jiaoban import VERIFY, VERIFYING
from daemon.models import ACTIVE, Mail, Opinion, Request, Step

EXAMPLE = "请综合科牵头，安全科配合，本周五前拿出通报初稿，突出问题整改，不超过两页。"


def count() -> int:
    return Request.select().where(Request.kind == "交办").count()


def last_in() -> Mail:
    return Mail.select().where(Mail.direction == "in").order_by(Mail.id.desc()).get()


def test_the_example_of_6_13_is_registered_with_its_three_elements(world):
    world.send("li@t.test", "交办：年度安全生产检查通报", EXAMPLE)
    req, task = world.request(), world.task()
    assert req.kind == "交办" and req.state == VERIFYING and req.number == "督办〔2026〕1号"
    assert req.unit_name == "李副总" and req.sender == "li@t.test" and req.title == "年度安全生产检查通报"
    assert task.leader == "li@t.test" and task.by == "" and task.source == "邮件"
    assert task.content == "年度安全生产检查通报" and task.requirements == EXAMPLE
    assert task.deadline_text == "本周五前" and task.deadline_at.isoformat().startswith("2026-12-04T")
    assert task.lead == "zonghe@t.test" and task.co_units == ["anquan@t.test"]
    receipt = world.last_to("li@t.test", "已登记")
    assert receipt.subject.startswith("【督办〔2026〕1号】已登记")
    assert "如非本人交办或有出入，请回复“撤销”或“更正：……”" in receipt.text
    assert "12月4日（周五）17:30前，剩 3 个工作日" in receipt.text
    verify = world.last_to("clerk@t.test", "请核定")
    step = Step.get((Step.request == req) & (Step.kind == VERIFY))
    assert step.state == ACTIVE and step.approvers == ["clerk@t.test"] and step.code in verify.subject
    for part in ("年度安全生产检查通报", "12月4日（周五）17:30前，剩 3 个工作日", EXAMPLE, "承办单位：综合科",
                 "协办单位：安全科", "时限原文：本周五前", "未发现问题"):
        assert part in verify.text, part
    rec = last_in()
    assert rec.request_id == req.id and rec.kind == "request" and "登记为督办〔2026〕1号" in rec.action
    assert Opinion.get(Opinion.request == req).text == "李副总交办"


def raw_mail(sender: str, subject: str, body: str, charset: str = "utf-8") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "office@t.test", subject
    msg["Message-ID"] = make_msgid(domain="t.test")
    msg.set_content(body, charset=charset)
    return msg.as_bytes()


@pytest.mark.parametrize("subject, body, claimed", [
    ("交办：年度安全生产检查通报", EXAMPLE, True),
    ("交办", EXAMPLE, True),
    ("Re: 交办：年度安全生产检查通报", EXAMPLE, True),
    ("Fwd: 交办 安全检查", EXAMPLE, True),
    ("回复：交办：安全检查", EXAMPLE, True),
    ("【特急】交办：防汛准备", EXAMPLE, True),
    ("转发：交办：安全检查", EXAMPLE, True),
    ("关于安全检查", "交办\n" + EXAMPLE, True),
    ("关于安全检查", "交办：起草通报\n" + EXAMPLE, True),
    ("关于安全检查", "\n\n交办: 起草通报", True),
    ("关于落实交办事项的请示", "集团公司：\n    关于落实交办事项……妥否，请批示。", False),
    ("安全检查", "请起草通报。\n交办：起草通报", False),
    ("安全检查", "交办事项如下", False),
])
def test_which_mail_is_a_jiaoban(world, subject, body, claimed):
    from daemon import mime
    from daemon.jiaoban import register
    mail = mime.parse(raw_mail("li@t.test", subject, body))
    assert register.claims(world.app, mail) is claimed


def test_a_delegate_assigns_for_the_leader_and_the_receipt_goes_to_the_leader(world):
    world.send("zhao@t.test", "交办：年度安全生产检查通报", EXAMPLE)
    req, task = world.request(), world.task()
    assert task.leader == "li@t.test" and task.by == "zhao@t.test" and req.sender == "li@t.test"
    receipt = world.last_to("li@t.test", "已登记")
    assert "zhao@t.test" in receipt.to + receipt.cc
    assert "由赵秘书代为交办" in receipt.text
    assert Opinion.get(Opinion.request == req).text == "由赵秘书代为交办"


def test_a_forged_from_still_sends_the_receipt_to_the_leaders_configured_address(world):
    world.send("LI@T.TEST", "交办：盘点固定资产", "请财务科负责，月底前完成。")
    receipt = world.last_to("li@t.test", "已登记")
    assert receipt.to == ("li@t.test",)


@pytest.mark.parametrize("sender", ["unit1@t.test", "zonghe@t.test"])
def test_a_unit_or_a_person_who_is_no_leader_is_told_and_nothing_registered(world, sender):
    world.send(sender, "交办：请办公室协调会议室", "请办公室12月5日前协调好会议室。")
    assert count() == 0
    told = world.last_to(sender)
    assert "交办须由单位领导发出；如需办理，请以请示报送，或请领导交办" in told.text
    rec = last_in()
    assert rec.ignored and rec.kind == "not_leader" and rec.request_id is None


def test_an_unknown_sender_is_recorded_and_not_answered(world):
    world.send("someone@elsewhere.test", "交办：转账", "请财务科今天下班前转账。")
    assert count() == 0 and not world.mails_to("someone@elsewhere.test")
    rec = last_in()
    assert rec.ignored and rec.kind == "stranger"


def test_staff_register_a_telephone_assignment_for_a_leader(world):
    world.send("clerk@t.test", "交办：准备迎检材料", "交办领导：王总\n来源：电话\n请综合科牵头准备迎检材料，12月4日下午3点前报王总。")
    req, task = world.request(), world.task()
    assert task.leader == "wang@t.test" and task.by == "clerk@t.test" and task.source == "电话"
    assert task.deadline_at.astimezone(world.app.tz).isoformat() == "2026-12-04T15:00:00+08:00"
    assert task.lead == "zonghe@t.test" and req.unit_name == "王总"
    receipt = world.last_to("wang@t.test", "已登记")
    assert "由办公室代为登记（来源：电话）" in receipt.text
    assert world.last_to("clerk@t.test", "请核定")


@pytest.mark.parametrize("body, why", [
    ("请综合科牵头准备迎检材料，12月4日前。", "未写明交办领导"),
    ("交办领导：综合科\n请综合科牵头准备迎检材料，12月4日前。", "“交办领导：综合科”所写的不是可交办的领导"),
    ("交办领导：张三\n请准备迎检材料。", "“交办领导：张三”所写的不是可交办的领导"),
])
def test_staff_without_a_leader_are_told_what_to_add(world, body, why):
    world.send("clerk@t.test", "交办：准备迎检材料", body)
    assert count() == 0
    told = world.last_to("clerk@t.test", "交办领导")
    assert why in told.text and "交办领导：姓名" in told.text and "李副总、王总" in told.text
    assert last_in().ignored


QQ_FORWARD = """请登记。

------------------ 原始邮件 ------------------
发件人: "李副总"<li@t.test>;
发送时间: 2026年12月1日(星期二) 上午9:50
收件人: "办公室"<clerk@t.test>;
主题: 交办：节前安全检查

请安全科牵头，财务科配合，12月10日前完成仓库安全检查。
"""

FOXMAIL_FORWARD = """

发件人：王总
发送时间：2026-12-01 09:30
收件人：办公室
主题：交办：整理调研材料

请综合科负责整理调研材料，下周三前报我。
"""


@pytest.mark.parametrize("body, leader, lead, deadline", [
    (QQ_FORWARD, "li@t.test", "anquan@t.test", "2026-12-10T17:30:00+08:00"),
    (FOXMAIL_FORWARD, "wang@t.test", "zonghe@t.test", "2026-12-09T17:30:00+08:00"),
])
def test_staff_forwarding_a_leaders_own_mail_propose_that_leader(world, body, leader, lead, deadline):
    world.send("clerk@t.test", "转发：交办：事项", body)
    task = world.task()
    assert task.leader == leader and task.by == "clerk@t.test" and task.lead == lead
    assert task.deadline_at.astimezone(world.app.tz).isoformat() == deadline
    assert world.last_to(leader, "已登记")


OUTLOOK_FORWARD = """交办：请安全科牵头研究，下周三前提出处理意见。

-----Original Message-----
From: 第一分公司 <unit1@t.test>
Sent: Monday, November 30, 2026 4:10 PM
To: 李副总 <li@t.test>
Subject: 关于仓库消防设施老化的报告

我公司仓库消防设施老化，拟于12月20日前完成更换，请予支持。
"""


def test_a_leader_forwarding_a_mail_is_read_from_the_leaders_own_text_and_the_rest_is_material(world):
    world.send("li@t.test", "转发：关于仓库消防设施老化的报告", OUTLOOK_FORWARD,
               attachments=[("消防设施清单.xlsx", b"xlsx-bytes")])
    req, task = world.request(), world.task()
    assert task.leader == "li@t.test" and task.lead == "anquan@t.test"
    assert task.deadline_at.astimezone(world.app.tz).isoformat() == "2026-12-09T17:30:00+08:00"   # not 12月20日
    assert "12月20日" not in task.requirements and task.content == "请安全科牵头研究，下周三前提出处理意见"
    assert "仓库消防设施老化" in task.proposed["material"]
    assert [a["name"] for a in req.attachments] == ["消防设施清单.xlsx"]
    verify = world.last_to("clerk@t.test", "请核定")
    assert "转来材料" in verify.text and "消防设施清单.xlsx" in [a.filename for a in verify.attachments]
    world.reply("clerk@t.test", verify, "派发")
    notice = world.last_to("anquan@t.test", "交办通知")
    assert [a.data for a in notice.attachments] == [b"xlsx-bytes"]


def test_a_gbk_mail_is_read(world):
    intake.handle(world.app, raw_mail("li@t.test", "交办：年度安全生产检查通报", EXAMPLE, charset="gbk"))
    task = world.task()
    assert task.requirements == EXAMPLE and task.lead == "zonghe@t.test"


@pytest.mark.parametrize("body, finding", [
    ("请综合科牵头，12月5日前完成。", "时限12月5日（周六）17:30前（非工作日）"),
    ("请综合科牵头，今天下班前完成。", "距时限12月1日（周二）17:30前不足一个工作日"),
    ("请综合科牵头，11月20日前完成。", "已跨年"),
    ("请综合科牵头，明天前完成，最迟周五前。", "含两个不同的时限"),
    ("请综合科牵头，春节前完成。", "时限“春节前”无法确定日期"),
    ("请综合科牵头，12月10日前完成节前安全检查。", "时限“节前”无法确定日期"),
    ("请综合科抓紧完成。", "未写明时限"),
    ("请抓紧完成，周五前报。", "建议紧急程度为加急"),
    ("请宣传部牵头，周五前报。", "文中未写明承办单位，按分工规则建议"),
    ("请综合科牵头，周五前报，注意保守秘密。", "文中出现“秘密”字样"),
])
def test_the_verify_form_lists_the_findings(world, body, finding):
    world.send("li@t.test", "交办：起草通报", body)
    assert finding in world.last_to("clerk@t.test", "请核定").text


def test_urgency_from_the_subject(world):
    world.send("li@t.test", "【特急】交办：防汛准备", "请安全科牵头，明天下午3点前报防汛准备情况。")
    req = world.request()
    assert req.urgency == "特急" and world.task().content == "防汛准备"
    assert "（特急）请核定" in world.last_to("clerk@t.test", "请核定").subject


def test_jiaoban_mails_keep_the_conventions_the_reply_reader_relies_on(world):
    registered_ = world.send("li@t.test", "交办：年度安全生产检查通报", EXAMPLE)
    assert registered_
    verify = world.last_to("clerk@t.test", "请核定")
    world.reply("clerk@t.test", verify, "派发")
    rows = list(Mail.select().where(Mail.direction == "out"))
    assert {r.kind for r in rows} >= {"jb_receipt", "jb_verify", "jb_notice", "jb_dispatched"}
    for m in world.mails_to("li@t.test") + world.mails_to("clerk@t.test") + world.mails_to("zonghe@t.test"):
        assert m.subject.startswith("【督办〔2026〕1号】"), m.subject
        assert "〔流转码：" in m.text.splitlines()[0]
        assert m.html.lstrip().startswith('<div id="officeflow-mail"') and m.html.rstrip().endswith("</div>")


OUTLOOK_HTML = """<html><body><div class="WordSection1">
<p class="MsoNormal">交办：请财务科牵头核实，12月10日前报我。<o:p></o:p></p>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">
<p class="MsoNormal"><b>发件人:</b> 第一分公司 &lt;unit1@t.test&gt; <br><b>发送时间:</b> 2026年11月30日 16:10<br>
<b>收件人:</b> 李副总 &lt;li@t.test&gt;<br><b>主题:</b> 关于追加预算的报告</p></div>
<p class="MsoNormal">我公司拟追加预算50万元，请于12月20日前批复。</p>
</div></body></html>"""


def test_an_html_only_outlook_forward_from_a_leader(world):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "li@t.test", "office@t.test", "转发: 关于追加预算的报告"
    msg["Message-ID"] = make_msgid(domain="t.test")
    msg.set_content(OUTLOOK_HTML, subtype="html")
    intake.handle(world.app, msg.as_bytes())
    task = world.task()
    assert task.lead == "caiwu@t.test"
    assert task.deadline_at.astimezone(world.app.tz).isoformat() == "2026-12-10T17:30:00+08:00"
    assert "追加预算50万元" in task.proposed["material"] and "12月20日" not in task.requirements


def test_a_bare_jiaoban_without_text_is_registered_for_the_office_to_ask_about(world):
    world.send("li@t.test", "交办", "")
    req = world.request()
    assert req.title == "（未写明内容）" and req.state == VERIFYING
    verify = world.last_to("clerk@t.test", "请核定")
    assert "未能确定交办内容" in verify.text and "未写明时限" in verify.text

"""The whole life of a 交办 on real Dovecot + SMTP relay, with OFFICEFLOW_NOW moving through the week: 询问,
申请延期 (granted, refused, too late), 退回 and the second report, 继续办理, 撤销, 更正, 视为办结, a co-unit's 办结,
forged 派发, a delegate's 交办, 代登记, one ordered list for a unit, the ways clients quote, a GBK report.

Every test ends by checking every mail officeflow sent in that life: a text and an HTML part, the 流转码 where
an answer is expected, and no template placeholder or "None" in it."""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from flow import SH, at, crlf, docx_bytes, sent
from test_jiaoban_e2e import mail, matter, office  # noqa: F401  (office is the fixture)

from daemon import mime

pytestmark = pytest.mark.mailserver
NUMBER = re.compile(r"【(督办〔2026〕\d+号)】")
CODE = re.compile(r"〔流转码：([A-Z0-9]{4,8})〕")
EVERYONE = ("li", "wang", "zhao", "clerk", "director", "zonghe", "anquan", "caiwu", "unit1", "unit2", "stranger")
# the mails that ask their reader to answer, and who is asked: they must carry the step's 流转码
ANSWERED = {"jb_verify": "clerk", "jb_ask": "li wang", "jb_answered": "clerk", "jb_check": "clerk director",
            "jb_read": "li wang", "jb_notice": "zonghe anquan caiwu unit1 unit2",
            "jb_sent_back": "zonghe anquan caiwu", "jb_next_round": "clerk", "jb_list": "zonghe anquan caiwu",
            "jb_extend": "li wang", "jb_reassign": "clerk", "jb_coordinate": "clerk", "jb_dispatch_refused": "clerk",
            "jb_passed": "zonghe caiwu", "jb_extend_result": "zonghe anquan caiwu", "jb_changed": "anquan caiwu"}


def local(at_utc) -> datetime:
    return at_utc.astimezone(SH).replace(tzinfo=None)


def register(office, who: str, subject: str, body: str, name: str = "") -> str:
    """A new 交办 mailed by `who`, read by the daemon; its number (from the 核定单 to office staff)."""
    mail(office, who, subject, body, name=name)
    office.run_once()
    return NUMBER.search(sent(office, "clerk", "jb_verify")[-1].subject).group(1)


def reply_newest(office, who: str, kind: str, number: str, text: str, **kw) -> None:
    """`who` answers the newest mail of `kind` they have about `number` with `text` (office.reply's `kw`), and
    officeflow runs once."""
    office.reply(who, sent(office, who, kind, number)[-1], text, **kw)
    office.run_once()


def dispatched(office, who: str, subject: str, body: str, extra: str = "") -> str:
    """A 交办 registered and dispatched by office staff (派发 + `extra` element lines): its number."""
    number = register(office, who, subject, body)
    reply_newest(office, "clerk", "jb_verify", number, "派发" + (f"\n{extra}" if extra else ""))
    assert matter(office, number).state == "jb_doing", [m.subject for m in office.inbox("clerk")]
    return number


def opinions(office, number: str, word: str = "") -> list:
    db = office.db()
    rows = db.Opinion.select().where(db.Opinion.request == matter(office, number)).order_by(db.Opinion.id)
    return [o for o in rows if not word or o.decision == word]


def rounds(office, number: str) -> list:
    db = office.db()
    return list(db.Round.select().where(db.Round.request == matter(office, number)).order_by(db.Round.number))


def changes(office, number: str) -> list:
    db = office.db()
    rows = db.DeadlineChange.select().where(db.DeadlineChange.request == matter(office, number))
    return list(rows.order_by(db.DeadlineChange.id))


def task(office, number: str):
    db = office.db()
    return db.Task.get(db.Task.request == matter(office, number))


def record(office, number: str, direction: str = "in") -> list:
    """The 收发记录 of the matter, one direction, oldest first."""
    db = office.db()
    rows = db.Mail.select().where((db.Mail.request == matter(office, number)) & (db.Mail.direction == direction))
    return list(rows.order_by(db.Mail.id))


def audit(office) -> int:
    """Every mail officeflow sent, as its receivers have it: a text and an HTML part, no placeholder or None, the
    流转码 in the subject of every mail that asks its receiver to answer. Returns how many were checked."""
    db = office.db()
    out = {m.message_id: m for m in db.Mail.select().where(db.Mail.direction == "out")}
    checked = 0
    for who in EVERYONE:
        for m in office.inbox(who):
            row = out.get(m.message_id)
            if row is None:
                continue
            checked += 1
            where = f"{row.kind} to {who}: {m.subject}"
            assert m.text.strip() and m.html.strip(), where
            for part in (m.subject, m.text, m.html):
                assert "{{" not in part and "{%" not in part and "}}" not in part, where
                assert not re.search(r"(?<![A-Za-z])None(?![A-Za-z])", part), where
            if row.kind.startswith("jb_") and who in ANSWERED.get(row.kind, "").split():
                if "已改派" in m.subject or "不再承办" in m.subject:
                    continue            # told they are off the matter: nothing to answer
                if row.kind == "jb_changed" and "回复方式" not in m.text:
                    continue            # a change told while the report is checked: nothing to answer
                found = CODE.search(m.subject)
                assert found and found.group(1) == row.code, where
    assert checked
    # the 收发记录: every mail that came in says what it did, or why it was ignored
    for row in db.Mail.select().where(db.Mail.direction == "in"):
        assert row.action.strip(), (row.subject, row.kind)
    return checked


def reply_gbk(office, who: str, original, text: str, attachments=()) -> None:
    """A reply written in a client that sends GBK (as many Chinese clients still do), with attachments."""
    msg = EmailMessage()
    msg["From"] = office.addr[who]
    msg["To"] = office.addr["office"]
    msg["Subject"] = f"回复：{original.subject}"
    msg["Message-ID"] = make_msgid(domain=office.domain)
    msg["In-Reply-To"] = f"<{original.message_id}>"
    msg["References"] = f"<{original.message_id}>"
    msg.set_content(text, charset="gbk")
    for filename, data in attachments:
        msg.add_attachment(data, maintype="application",
                           subtype="vnd.openxmlformats-officedocument.wordprocessingml.document", filename=filename)
    raw = crlf(msg)
    assert text.encode("gbk") in raw or b"base64" in raw.lower() or b"quoted-printable" in raw.lower()
    office.servers.send(raw, [office.addr["office"]], office.addr[who])


def outlook_quote(office, who: str, original) -> str:
    """What Outlook puts under a reply: a rule, the header block in Chinese, the original text unmarked."""
    return (f"\n\n________________________________\n发件人: 集团公司办公室 <{office.addr['office']}>\n"
            f"发送时间: 2026年12月2日 10:00\n收件人: {office.addr[who]}\n主题: {original.subject}\n\n{original.text}")


# ---- 询问 ------------------------------------------------------------------------------------------------------

def test_the_office_asks_the_leader_whose_time_limit_line_fills_the_element_and_then_dispatches(office):
    number = register(office, "li", "交办：冬季用电安全检查", "请综合科负责，尽快组织一次冬季用电安全检查。")
    verify = sent(office, "clerk", "jb_verify", number)[-1]
    assert "待明确" in verify.text
    assert task(office, number).deadline_at is None

    # 派发 without a 时限 is refused, with the reason
    office.reply("clerk", verify, "派发")
    office.run_once()
    assert matter(office, number).state == "jb_verifying"
    refused = sent(office, "clerk", "jb_dispatch_refused", number)[-1]
    assert "时限" in refused.text

    office.reply("clerk", verify, "询问：检查请于何时前完成？是否需要形成书面报告？")
    office.run_once()
    assert matter(office, number).state == "jb_clarifying"
    ask = sent(office, "li", "jb_ask", number)[-1]
    assert "检查请于何时前完成" in ask.text

    at(office, "2026-12-01 15:00")
    office.reply("li", ask, "下周二前完成，形成书面报告。\n时限：12月8日前\n要求：形成书面检查报告", quote="qq")
    office.run_once()
    req = matter(office, number)
    assert req.state == "jb_verifying"
    t = task(office, number)
    assert local(t.deadline_at) == datetime(2026, 12, 8, 17, 30)
    assert "书面检查报告" in t.requirements
    answered = sent(office, "clerk", "jb_answered", number)[-1]
    assert "下周二前完成" in answered.text and "12月8日（周二）" in answered.text
    assert [o.decision for o in opinions(office, number)][-2:] == ["询问", "答复"]

    office.reply("clerk", answered, "派发")
    office.run_once()
    assert matter(office, number).state == "jb_doing"
    notice = sent(office, "zonghe", "jb_notice", number)[-1]
    assert "12月8日（周二）" in notice.text and "书面检查报告" in notice.text
    assert sent(office, "li", "jb_dispatched", number)
    audit(office)


# ---- 申请延期 ----------------------------------------------------------------------------------------------------

def test_an_extension_granted_with_a_time_limit_line_then_the_result_is_judged_after_the_extension(office):
    number = dispatched(office, "li", "交办：全年安全培训统计", "请综合科负责，12月4日前报送全年安全培训统计。")
    notice = sent(office, "zonghe", "jb_notice", number)[-1]

    at(office, "2026-12-02 09:30")
    office.reply("zonghe", notice, "申请延期：12月9日前，因部分分公司数据尚未报齐")
    office.run_once()
    assert matter(office, number).state == "jb_extending"
    ask = sent(office, "li", "jb_extend", number)[-1]
    assert "12月9日" in ask.text and "数据尚未报齐" in ask.text
    assert sent(office, "clerk", "jb_extend", number)          # the copy to office staff

    # the leader grants a shorter one than asked, with a 时限： line
    office.reply("li", ask, "同意，抓紧。\n时限：12月8日前")
    office.run_once()
    req = matter(office, number)
    assert req.state == "jb_doing"
    assert local(task(office, number).deadline_at) == datetime(2026, 12, 8, 17, 30)
    rnd = rounds(office, number)[0]
    assert local(rnd.deadline_at) == datetime(2026, 12, 8, 17, 30)
    assert local(rnd.base_deadline_at) == datetime(2026, 12, 4, 17, 30)   # the original stays on record
    change = changes(office, number)[-1]
    assert change.how == "延期" and change.by == office.addr["li"]
    assert local(change.old_at) == datetime(2026, 12, 4, 17, 30) and local(change.new_at).day == 8
    told = sent(office, "zonghe", "jb_extend_result", number)[-1]
    assert "12月8日（周二）" in told.text and "同意" in told.text

    # reported after the first deadline, within the extension: 延期后办结
    at(office, "2026-12-07 11:00")
    office.reply("zonghe", told, "办结：统计表见附件", attachments=[("安全培训统计.docx", docx_bytes(["统计"]))])
    office.run_once()
    check = sent(office, "clerk", "jb_check", number)[-1]
    assert "延期后办结" in check.text
    office.reply("clerk", check, "核报")
    office.run_once()
    read = sent(office, "li", "jb_read", number)[-1]
    assert "延期后办结）" in read.subject and "原定时限" not in read.subject     # the details are in the text
    assert "原定时限12月4日" in read.text
    office.reply("li", read, "阅")
    office.run_once()
    assert matter(office, number).state == "jb_closed"
    assert rounds(office, number)[0].result == "延期后办结"
    audit(office)


def test_an_extension_refused_and_one_asked_after_the_deadline_is_refused_and_the_office_told(office):
    number = dispatched(office, "wang", "交办：办公楼消防器材更换", "请综合科负责，12月4日前完成消防器材更换。")
    notice = sent(office, "zonghe", "jb_notice", number)[-1]

    at(office, "2026-12-03 10:00")
    office.reply("zonghe", notice, "申请延期：12月11日前，因供货延迟")
    office.run_once()
    ask = sent(office, "wang", "jb_extend", number)[-1]
    office.reply("wang", ask, "不同意，请协调供货单位按期完成。")
    office.run_once()
    assert matter(office, number).state == "jb_doing"
    assert local(task(office, number).deadline_at) == datetime(2026, 12, 4, 17, 30)
    assert [c.how for c in changes(office, number)] == ["派发"]
    told = sent(office, "zonghe", "jb_extend_result", number)[-1]
    assert "不同意" in told.text and "按期完成" in told.text and "12月4日（周五）" in told.text

    # Monday after the deadline: too late for 申请延期
    at(office, "2026-12-07 10:00")
    office.reply("zonghe", told, "申请延期：12月11日前，因供货仍未到位")
    office.run_once()
    assert matter(office, number).state == "jb_doing"
    assert local(task(office, number).deadline_at) == datetime(2026, 12, 4, 17, 30)
    answer = office.inbox("zonghe")[-1]
    assert "已逾期，请报告进展并说明未按期办结原因" in answer.text
    late = sent(office, "clerk", "jb_extend", number)[-1]
    assert "逾期" in late.text and "供货仍未到位" in late.text
    assert not [m for m in sent(office, "wang", "jb_extend", number) if m.message_id != ask.message_id]

    # the report now is 逾期办结
    office.reply("zonghe", notice, "办结：已全部更换完毕")
    office.run_once()
    check = sent(office, "clerk", "jb_check", number)[-1]
    assert "逾期" in check.text
    office.reply("clerk", check, "核报")
    office.run_once()
    reply_newest(office, "wang", "jb_read", number, "已阅")
    assert rounds(office, number)[0].result == "逾期办结"
    audit(office)


# ---- 退回 and the second report -----------------------------------------------------------------------------------

def test_a_report_sent_back_with_a_time_limit_line_and_the_second_report_closes_on_time(office):
    number = dispatched(office, "li", "交办：食堂卫生整改情况", "请综合科负责，12月3日前报告食堂卫生整改情况。")
    notice = sent(office, "zonghe", "jb_notice", number)[-1]

    at(office, "2026-12-02 16:00")
    office.reply("zonghe", notice, "办结：已整改完毕。")
    office.run_once()
    first = sent(office, "clerk", "jb_check", number)[-1]

    at(office, "2026-12-03 09:00")
    office.reply("clerk", first, "退回：请补充整改前后对比照片和长效机制。\n时限：12月7日前")
    office.run_once()
    assert matter(office, number).state == "jb_doing"
    back = sent(office, "zonghe", "jb_sent_back", number)[-1]
    assert "对比照片" in back.text and "12月7日（周一）" in back.text
    change = changes(office, number)[-1]
    assert change.how == "退回" and change.by == office.addr["clerk"]
    assert local(rounds(office, number)[0].base_deadline_at) == datetime(2026, 12, 7, 17, 30)

    at(office, "2026-12-07 15:00")
    office.reply("zonghe", back, "办结：已补充对比照片，建立每周检查制度。",
                 attachments=[("整改对比照片.docx", docx_bytes(["整改前", "整改后"]))])
    office.run_once()
    second = sent(office, "clerk", "jb_check", number)[-1]
    assert second.message_id != first.message_id
    assert "每周检查制度" in second.text and "按期" in second.text
    assert any(a.filename == "整改对比照片.docx" for a in second.attachments)
    office.reply("clerk", second, "核报\n核报意见：已按要求补充。")
    office.run_once()
    read = sent(office, "li", "jb_read", number)[-1]
    assert "已按要求补充" in read.text
    office.reply("li", read, "阅")
    office.run_once()
    rnd = rounds(office, number)[0]
    assert rnd.result == "按期" and local(rnd.reported_at) == datetime(2026, 12, 7, 15, 0)
    assert [o.decision for o in opinions(office, number, "办结")] == ["办结", "办结"]
    audit(office)


# ---- 继续办理 ------------------------------------------------------------------------------------------------

def test_continue_opens_a_second_round_with_a_new_deadline_each_round_judged_on_its_own(office):
    number = dispatched(office, "li", "交办：岁末年初安全隐患排查", "请综合科牵头，安全科配合，12月4日前完成隐患排查。")
    notice = sent(office, "zonghe", "jb_notice", number)[-1]
    co_notice = sent(office, "anquan", "jb_notice", number)[-1]

    at(office, "2026-12-03 10:00")
    office.reply("zonghe", notice, "办结：排查完毕，发现隐患5处，已整改3处。")
    office.run_once()
    reply_newest(office, "clerk", "jb_check", number, "核报")
    read = sent(office, "li", "jb_read", number)[-1]

    at(office, "2026-12-04 09:00")
    office.reply("li", read, "继续办理：剩余2处隐患须全部整改到位，并报整改台账。\n时限：12月9日前")
    office.run_once()
    req = matter(office, number)
    assert req.state == "jb_doing" and task(office, number).round == 2
    first, second = rounds(office, number)
    assert "整改台账" in first.instruction and local(first.reported_at) == datetime(2026, 12, 3, 10, 0)
    assert local(second.deadline_at) == datetime(2026, 12, 9, 17, 30) and "整改台账" in second.requirements
    assert changes(office, number)[-1].round == 2
    lead2 = sent(office, "zonghe", "jb_notice", number)[-1]
    co2 = sent(office, "anquan", "jb_notice", number)[-1]
    assert lead2.message_id != notice.message_id and co2.message_id != co_notice.message_id
    for m in (lead2, co2):
        assert "12月9日（周三）" in m.text and "整改台账" in m.text and "第2轮" in (m.subject + m.text)

    # a unit answering a mail of the first round is told the matter moved on
    office.reply("anquan", co_notice, "进展：已配合完成复查")
    office.run_once()
    assert "该事项已进入第2轮" in office.inbox("anquan")[-1].text
    assert not opinions(office, number, "进展")

    # the second round is reported late: its own result, the first's unchanged
    at(office, "2026-12-10 10:00")
    office.reply("zonghe", lead2, "办结：剩余隐患已全部整改，整改台账见附件。",
                 attachments=[("整改台账.docx", docx_bytes(["整改台账"]))])
    office.run_once()
    check = sent(office, "clerk", "jb_check", number)[-1]
    assert "第2轮" in (check.subject + check.text) and "逾期" in check.text
    office.reply("clerk", check, "核报")
    office.run_once()
    reply_newest(office, "li", "jb_read", number, "阅")
    first, second = rounds(office, number)
    assert second.result == "逾期办结" and local(second.reported_at) == datetime(2026, 12, 10, 10, 0)
    assert local(first.reported_at) == datetime(2026, 12, 3, 10, 0)
    assert matter(office, number).state == "jb_closed"
    audit(office)


# ---- 撤销 ------------------------------------------------------------------------------------------------------

def test_the_leader_withdraws_after_dispatch_and_the_units_are_told(office):
    number = dispatched(office, "li", "交办：迎检材料准备", "请综合科牵头，安全科配合，12月4日前准备迎检材料。")
    notice = sent(office, "zonghe", "jb_notice", number)[-1]
    at(office, "2026-12-02 10:00")
    reply_newest(office, "li", "jb_dispatched", number, "撤销：检查已取消。")
    assert matter(office, number).state == "jb_cancelled"
    for unit in ("zonghe", "anquan"):
        told = sent(office, unit, "jb_withdrawn", number)[-1]
        assert "撤销" in told.subject + told.text and "检查已取消" in told.text
    office.reply("zonghe", notice, "办结：材料已备齐")
    office.run_once()
    assert matter(office, number).state == "jb_cancelled"
    assert not sent(office, "clerk", "jb_check", number)
    audit(office)


# ---- 更正 ------------------------------------------------------------------------------------------------------

def test_a_correction_of_deadline_and_lead_unit_tells_old_and_new_units(office):
    number = dispatched(office, "li", "交办：年度预算执行分析", "请综合科牵头，安全科配合，12月4日前报送预算执行分析。")
    reply_newest(office, "zonghe", "jb_notice", number, "签收")
    assert rounds(office, number)[0].signed_at is not None
    at(office, "2026-12-02 09:00")
    reply_newest(office, "li", "jb_dispatched", number, "更正：\n时限：12月9日前\n承办：财务科")
    t = task(office, number)
    assert t.lead == office.addr["caiwu"] and local(t.deadline_at) == datetime(2026, 12, 9, 17, 30)
    assert rounds(office, number)[0].signed_at is None                # 财务科's own 签收 is awaited
    change = changes(office, number)[-1]
    assert change.how == "更正" and change.by == office.addr["li"]
    assert local(change.old_at).day == 4 and local(change.new_at).day == 9
    new = sent(office, "caiwu", "jb_notice", number)[-1]
    assert "12月9日（周三）" in new.text and "承办" in new.text
    removed = sent(office, "zonghe", "jb_changed", number)[-1]
    assert "综合科" in removed.text and "财务科" in removed.text
    co = sent(office, "anquan", "jb_changed", number)[-1]
    assert CODE.search(co.subject)                                # it may be answered (进展, 协办完毕)
    assert "12月4日" in co.text and "12月9日" in co.text and "财务科" in co.text
    assert "协办完毕：" in co.text and "办结：办理情况" not in co.text      # a co-unit does not report 办结
    assert sent(office, "clerk", "jb_changed", number)

    # the old lead unit is no longer on the matter; the new one reports
    office.reply("zonghe", sent(office, "zonghe", "jb_notice", number)[0], "办结：分析已完成")
    office.run_once()
    assert matter(office, number).state == "jb_doing"
    told = office.last("zonghe")
    assert "已不再承办或协办该事项" in told.text and "审批" not in told.subject + told.text
    alert = sent(office, "clerk", "jb_forgery_alert", number)[-1]
    assert "已不再承办或协办该事项" in alert.text and "审批" not in alert.subject + alert.text
    at(office, "2026-12-08 10:00")
    office.reply("caiwu", new, "办结：预算执行分析见附件", attachments=[("预算执行分析.docx", docx_bytes(["分析"]))])
    office.run_once()
    check = sent(office, "clerk", "jb_check", number)[-1]
    assert "按期" in check.text and "更正" in check.text
    show = office.run_cli("show", "-c", str(office.config_path), number)
    assert show.returncode == 0, show.stderr
    assert "更正" in show.stdout and "12月9日" in show.stdout and "财务科" in show.stdout
    import csv
    path = office.tmp / "jb.csv"
    export = office.run_cli("export", "-c", str(office.config_path), "--csv", str(path), "--kind", "交办")
    assert export.returncode == 0, export.stderr
    row = next(r for r in csv.DictReader(path.open(encoding="utf-8-sig")) if r["编号"] == number)
    assert "12-04" in row["原定时限"] or "12月4日" in row["原定时限"], row
    assert "12-09" in row["现时限"] or "12月9日" in row["现时限"], row
    assert "更正" in row["时限变更"] and row["承办"] == "财务科", row
    audit(office)


# ---- 视为办结 --------------------------------------------------------------------------------------------------

def test_a_report_the_leader_leaves_unanswered_is_deemed_closed_and_the_ledger_says_so(office):
    number = dispatched(office, "li", "交办：办公用品盘点", "请综合科负责，12月4日前完成办公用品盘点。")
    at(office, "2026-12-02 10:00")
    reply_newest(office, "zonghe", "jb_notice", number, "办结：盘点完毕，账实相符。")
    reply_newest(office, "clerk", "jb_check", number, "核报")
    assert matter(office, number).state == "jb_reading"

    at(office, "2026-12-08 10:00")                 # 4 working days: still before the leader
    assert matter(office, number).state == "jb_reading"
    at(office, "2026-12-09 10:30")                 # deem_closed_after = 5d of working time has passed
    req = matter(office, number)
    assert req.state == "jb_closed"
    rnd = rounds(office, number)[0]
    assert rnd.deemed and rnd.result == "按期"
    for unit in ("zonghe", "clerk"):
        assert any("视为办结" in m.text for m in sent(office, unit, "jb_closed", number)), unit
    ledger = office.run_cli("ledger", "-c", str(office.config_path), "--leader", "li", "--week", "2026-W50")
    assert ledger.returncode == 0, ledger.stderr
    assert "视为办结" in ledger.stdout and number in ledger.stdout

    # the leader, back, still reopens it from the 请阅示
    at(office, "2026-12-10 09:00")
    reply_newest(office, "li", "jb_read", number, "继续办理：请补充盘盈盘亏明细。\n时限：12月14日前")
    assert matter(office, number).state == "jb_doing" and task(office, number).round == 2
    assert rounds(office, number)[0].deemed and rounds(office, number)[0].result == "按期"
    assert "盘盈盘亏" in sent(office, "zonghe", "jb_notice", number)[-1].text
    audit(office)


# ---- a co-unit's 办结 -----------------------------------------------------------------------------------------

def test_a_co_units_report_is_recorded_as_its_part_done_and_it_is_told_only_the_lead_closes(office):
    number = dispatched(office, "li", "交办：冬季安全大检查", "请综合科牵头，安全科配合，12月4日前完成冬季安全大检查。")
    at(office, "2026-12-02 14:00")
    reply_newest(office, "anquan", "jb_notice", number, "办结：安全科负责的部分已检查完毕。")
    assert matter(office, number).state == "jb_doing"
    done = opinions(office, number, "协办完毕")
    assert done and "已检查完毕" in done[-1].text
    told = sent(office, "anquan", "jb_only_report", number)[-1]
    assert "承办单位" in told.text and "办结" in told.text
    passed = sent(office, "zonghe", "jb_passed", number)[-1]
    assert "协办完毕" in passed.text and "已检查完毕" in passed.text
    assert not sent(office, "clerk", "jb_check", number)
    audit(office)


# ---- forged 派发 ------------------------------------------------------------------------------------------------

def test_a_dispatch_forged_by_a_unit_off_the_matter_or_a_stranger_does_nothing_and_staff_are_alerted(office):
    number = register(office, "li", "交办：年度安全生产检查通报", "请综合科牵头，本周五前拿出通报初稿。")
    verify = sent(office, "clerk", "jb_verify", number)[-1]

    office.reply("unit2", verify, "派发\n承办：第二分公司")
    office.run_once()
    assert matter(office, number).state == "jb_verifying"
    assert not any(sent(office, who, "jb_notice") for who in ("zonghe", "unit2"))
    alerts = sent(office, "clerk", "jb_forgery_alert")
    assert alerts and number in alerts[-1].subject and "可疑交办邮件" in alerts[-1].subject
    assert office.addr["unit2"] in alerts[-1].text and "派发" in alerts[-1].text
    told = office.last("unit2")
    assert "不是该事项的交办领导、承办单位或协办单位" in told.text
    for m in (alerts[-1], told):        # in the 交办's words, not a 请示's
        assert "审批" not in m.subject + m.text, m.text
    assert record(office, number)[-1].ignored

    # the unit proposed as 承办, answering the office's 核定单 (forwarded to it, say): the office's decision
    office.reply("zonghe", verify, "派发")
    office.run_once()
    assert matter(office, number).state == "jb_verifying"
    assert not sent(office, "zonghe", "jb_notice")
    assert "须由集团公司办公室工作人员办理" in office.last("zonghe").text
    alert = sent(office, "clerk", "jb_forgery_alert")[-1]
    assert office.addr["zonghe"] in alert.text and "无权办理“派发”" in alert.text
    alerts = sent(office, "clerk", "jb_forgery_alert")

    office.reply("stranger", verify, "派发")
    office.run_once()
    assert matter(office, number).state == "jb_verifying"
    assert "未予采用" in office.last("stranger").text
    assert len(sent(office, "clerk", "jb_forgery_alert")) == len(alerts) + 1
    assert record(office, number)[-1].ignored
    assert not sent(office, "zonghe", "jb_notice")
    audit(office)


# ---- a delegate's 交办, 代登记 -----------------------------------------------------------------------------------

def test_a_delegate_assigns_for_the_leader_and_the_receipt_goes_to_the_leaders_own_address(office):
    number = register(office, "zhao", "交办：准备董事会汇报材料", "李副总交办：请综合科负责，12月7日前准备董事会汇报材料。",
                      name="赵秘书")
    t = task(office, number)
    assert t.leader == office.addr["li"] and t.by == office.addr["zhao"]
    receipt = sent(office, "li", "jb_receipt", number)[-1]
    assert office.addr["li"] in receipt.to
    assert "您交办的事项（由赵秘书代为交办）已收悉" in receipt.text
    assert "由赵秘书代为交办" in sent(office, "clerk", "jb_verify", number)[-1].text
    audit(office)


def test_staff_register_a_telephone_assignment_on_the_leaders_behalf(office):
    number = register(office, "clerk", "交办：元旦走访慰问安排",
                      "交办领导：王总\n来源：电话\n请综合科负责，12月10日前拟定元旦走访慰问安排。")
    t = task(office, number)
    assert t.leader == office.addr["wang"] and t.source == "电话" and t.by == office.addr["clerk"]
    receipt = sent(office, "wang", "jb_receipt", number)[-1]
    assert "撤销" in receipt.text and "走访慰问" in receipt.text
    assert "您交办的事项（由办公室代为登记（来源：电话））已收悉" in receipt.text
    assert office.addr["wang"] in receipt.to and office.addr["clerk"] not in receipt.to    # the registrar: a copy

    # without the 交办领导： line nothing is registered, and staff are told what to add
    mail(office, "clerk", "交办：年终评优材料", "请综合科负责，12月10日前报送年终评优材料。")
    office.run_once()
    db = office.db()
    assert db.Request.select().where(db.Request.kind == "交办").count() == 1
    assert "交办领导" in office.inbox("clerk")[-1].text
    audit(office)


# ---- one ordered list for a unit ---------------------------------------------------------------------------

def test_a_unit_with_three_tasks_from_two_leaders_gets_one_ordered_list_and_a_numbered_reply_applies_to_it(office):
    numbers = {}
    for who, content, when in (("wang", "年终总结材料", "12月10日前"), ("li", "冬季消防检查方案", "12月3日前"),
                               ("li", "安全生产检查通报", "12月4日前")):
        numbers[content] = dispatched(office, who, f"交办：{content}", f"请综合科负责，{when}报送{content}。")
    at(office, "2026-12-02 08:30")
    lists = sent(office, "zonghe", "jb_list")
    assert len(lists) == 1, [m.subject for m in lists]
    listing = lists[0]
    assert "综合科：3件" in listing.subject
    text = listing.text
    for n in numbers.values():
        assert n in text
    assert text.index("冬季消防检查方案") < text.index("安全生产检查通报") < text.index("年终总结材料")
    assert "王总" in text and "李副总" in text

    office.reply("zonghe", listing, "2 进展：初稿已完成，正在征求安全科意见。")
    office.run_once()
    assert [o.text for o in opinions(office, numbers["安全生产检查通报"], "进展")] == ["初稿已完成，正在征求安全科意见。"]
    assert not opinions(office, numbers["冬季消防检查方案"], "进展")
    assert not opinions(office, numbers["年终总结材料"], "进展")

    # under an Outlook quote of the list (which itself shows “1 进展：……”): item 3
    office.reply("zonghe", listing, "3 进展：提纲已拟定。" + outlook_quote(office, "zonghe", listing), quote="none")
    office.run_once()
    assert [o.text for o in opinions(office, numbers["年终总结材料"], "进展")] == ["提纲已拟定。"]
    assert not opinions(office, numbers["冬季消防检查方案"], "进展")

    # no number: the sender is asked which
    office.reply("zonghe", listing, "进展：正在办理。")
    office.run_once()
    assert sent(office, "zonghe", "jb_list_which")
    assert [len(opinions(office, n, "进展")) for n in numbers.values()] == [1, 0, 1]
    audit(office)


# ---- how clients quote -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("client", ["outlook", "qq", "foxmail"])
def test_a_reply_is_read_from_its_new_text_however_the_client_quotes_the_notice(office, client):
    number = dispatched(office, "li", "交办：年度安全生产检查通报", "请综合科牵头，12月4日前拿出通报初稿。")
    notice = sent(office, "zonghe", "jb_notice", number)[-1]
    assert "办结" in notice.text                   # the quoted notice holds keywords: they must not be read
    at(office, "2026-12-02 10:00")
    text = "进展：初稿已完成，正在修改。"
    if client == "outlook":
        office.reply("zonghe", notice, text + outlook_quote(office, "zonghe", notice), quote="none")
    else:
        office.reply("zonghe", notice, text, quote=client)
    office.run_once()
    assert matter(office, number).state == "jb_doing"
    assert [o.text for o in opinions(office, number, "进展")] == ["初稿已完成，正在修改。"]
    assert rounds(office, number)[0].signed_at is not None

    at(office, "2026-12-03 10:00")
    report = "办结：通报初稿已完成。"
    if client == "outlook":
        office.reply("zonghe", notice, report + outlook_quote(office, "zonghe", notice), quote="none")
    else:
        office.reply("zonghe", notice, report, quote=client)
    office.run_once()
    assert matter(office, number).state == "jb_checking"
    assert opinions(office, number, "办结")[-1].text == "通报初稿已完成。"
    audit(office)


# ---- a GBK report with a .docx -------------------------------------------------------------------------------

def test_a_gbk_report_with_a_docx_is_passed_on_in_the_check_and_the_read(office):
    number = dispatched(office, "li", "交办：年度安全生产检查通报", "请综合科牵头，12月4日前拿出通报初稿。")
    notice = sent(office, "zonghe", "jb_notice", number)[-1]
    at(office, "2026-12-04 16:40")
    doc = docx_bytes(["关于年度安全生产检查情况的通报", "一、完成情况"])
    reply_gbk(office, "zonghe", notice, "办结：通报初稿已完成，请审阅。\n一、完成情况：已按期完成。\n二、存在问题：无。",
              attachments=[("年度安全生产检查通报（初稿）.docx", doc)])
    office.run_once()
    assert matter(office, number).state == "jb_checking"
    check = sent(office, "clerk", "jb_check", number)[-1]
    assert "通报初稿已完成，请审阅" in check.text and "按期" in check.text
    files = {a.filename: a.data for a in check.attachments}
    assert files.get("年度安全生产检查通报（初稿）.docx") == doc
    office.reply("clerk", check, "核报")
    office.run_once()
    read = sent(office, "li", "jb_read", number)[-1]
    assert "通报初稿已完成，请审阅" in read.text
    assert {a.filename: a.data for a in read.attachments}.get("年度安全生产检查通报（初稿）.docx") == doc
    rows = record(office, number)
    assert any("办结" in (r.action or "") for r in rows)
    assert all(isinstance(mime.parse(raw), mime.ParsedMail) for raw in office.raw_inbox("clerk"))
    audit(office)


# ---- 继续办理 without a 时限, after closure; the delegate reads --------------------------------------------

def test_continue_after_closure_without_a_deadline_returns_to_the_office_which_dispatches_the_second_round(office):
    number = dispatched(office, "li", "交办：职工食堂满意度调查", "请综合科牵头，安全科配合，12月4日前完成职工食堂满意度调查。")
    at(office, "2026-12-02 10:00")
    reply_newest(office, "zonghe", "jb_notice", number, "办结：调查完毕，满意率92%。")
    reply_newest(office, "clerk", "jb_check", number, "核报")
    read = sent(office, "zhao", "jb_read", number)[-1]          # the delegate has it in copy, and reads for 李副总
    office.reply("zhao", read, "已阅，请继续跟踪。")
    office.run_once()
    assert matter(office, number).state == "jb_closed"
    assert rounds(office, number)[0].result == "按期"
    assert [(o.name, o.text) for o in opinions(office, number)][-1] == ("赵秘书（代李副总）", "请继续跟踪。")

    # a repeated 阅 changes nothing; 继续办理 on the same 请阅示 is a new decision
    at(office, "2026-12-03 09:00")
    office.reply("li", read, "阅")
    office.run_once()
    assert matter(office, number).state == "jb_closed" and task(office, number).round == 1
    office.reply("li", read, "继续办理：针对不满意的意见逐条提出整改措施。")
    office.run_once()
    assert matter(office, number).state == "jb_verifying" and task(office, number).round == 2
    assert rounds(office, number)[0].result == "按期"            # the closed round keeps its result
    to_staff = sent(office, "clerk", "jb_next_round", number)[-1]
    assert "整改措施" in to_staff.text and "第2轮" in to_staff.subject + to_staff.text
    told = [m for m in office.inbox("zonghe") if "第2轮" in m.subject + m.text and number in m.subject]
    assert told and "另行通知" in told[-1].text
    assert office.addr["anquan"] in told[-1].cc

    office.reply("clerk", to_staff, "派发\n时限：12月10日前")
    office.run_once()
    assert matter(office, number).state == "jb_doing"
    second = rounds(office, number)[1]
    assert local(second.deadline_at) == datetime(2026, 12, 10, 17, 30) and "整改措施" in second.requirements
    notice2 = [m for m in sent(office, "zonghe", "jb_notice", number) if "12月10日" in m.text]
    assert notice2 and "整改措施" in notice2[-1].text and "继续办理" in notice2[-1].text and "第2轮" in notice2[-1].text
    assert [m for m in sent(office, "anquan", "jb_notice", number) if "12月10日" in m.text]
    at(office, "2026-12-09 10:00")
    office.reply("zonghe", notice2[-1], "办结：整改措施已制定，见附件。", attachments=[("整改措施.docx", docx_bytes(["措施"]))])
    office.run_once()
    reply_newest(office, "clerk", "jb_check", number, "核报")
    reply_newest(office, "li", "jb_read", number, "阅")
    assert [r.result for r in rounds(office, number)] == ["按期", "按期"]
    audit(office)


# ---- the weekly 台账 after 视为办结 ---------------------------------------------------------------------------

def test_the_weekly_ledger_mail_counts_a_deemed_closure(office):
    number = dispatched(office, "wang", "交办：档案室清理", "请综合科负责，12月4日前完成档案室清理。")
    at(office, "2026-12-03 10:00")
    reply_newest(office, "zonghe", "jb_notice", number, "办结：已清理完毕。")
    reply_newest(office, "clerk", "jb_check", number, "核报")
    at(office, "2026-12-10 11:00")
    assert matter(office, number).state == "jb_closed" and rounds(office, number)[0].deemed
    at(office, "2026-12-14 08:30")
    ledger = [m for m in sent(office, "wang", "jb_ledger") if "12月7日至13日" in m.subject]
    assert ledger, [m.subject for m in office.inbox("wang")]
    assert number in ledger[-1].text and "视为办结" in ledger[-1].text
    assert ledger[-1].html and "视为办结" in ledger[-1].html
    assert not [m for m in sent(office, "li", "jb_ledger") if "12月7日至13日" in m.subject]   # nothing of li's
    audit(office)


# ---- 更正 by office staff before dispatch --------------------------------------------------------------------

def test_a_correction_before_dispatch_changes_the_proposal_and_tells_the_leader(office):
    number = register(office, "li", "交办：年度安全生产检查通报", "请综合科牵头，本周五前拿出通报初稿。")
    verify = sent(office, "clerk", "jb_verify", number)[-1]
    office.reply("clerk", verify, "更正：\n时限：12月7日前\n协办：安全科")
    office.run_once()
    t = task(office, number)
    assert local(t.deadline_at) == datetime(2026, 12, 7, 17, 30) and t.co_units == [office.addr["anquan"]]
    assert matter(office, number).state == "jb_verifying"
    assert not changes(office, number)                          # not dispatched: no change of a deadline in force
    assert not office.inbox("zonghe") and not office.inbox("anquan")
    told = sent(office, "li", "jb_changed", number)[-1]
    assert "12月4日" in told.text and "12月7日" in told.text
    office.reply("clerk", verify, "派发")
    office.run_once()
    assert "12月7日（周一）" in sent(office, "anquan", "jb_notice", number)[-1].text
    audit(office)


# ---- quoting on the leader's side, forwarded material, a reply by number ---------------------------------------

def test_the_leaders_short_answers_under_quoted_mails_are_read_from_the_new_text_only(office):
    number = dispatched(office, "li", "交办：安全生产月活动总结", "请综合科负责，12月4日前报送安全生产月活动总结。")
    notice = sent(office, "zonghe", "jb_notice", number)[-1]
    at(office, "2026-12-02 10:00")
    office.reply("zonghe", notice, "申请延期：12月8日前，因需汇总各分公司材料" + outlook_quote(office, "zonghe", notice),
                 quote="none")
    office.run_once()
    ask = sent(office, "li", "jb_extend", number)[-1]
    assert "不同意" in ask.text                     # the quoted request names both answers
    office.reply("li", ask, "同意", quote="qq")
    office.run_once()
    assert local(task(office, number).deadline_at) == datetime(2026, 12, 8, 17, 30)

    office.reply("zonghe", sent(office, "zonghe", "jb_extend_result", number)[-1], "办结：总结见附件",
                 attachments=[("总结.docx", docx_bytes(["总结"]))])
    office.run_once()
    reply_newest(office, "clerk", "jb_check", number, "核报", quote="qq")
    read = sent(office, "li", "jb_read", number)[-1]
    assert "继续办理" in read.text                   # the quoted 请阅示 says how to reopen: it must not
    office.reply("li", read, "阅。" + outlook_quote(office, "li", read), quote="none")
    office.run_once()
    assert matter(office, number).state == "jb_closed" and task(office, number).round == 1
    assert rounds(office, number)[0].result == "按期"          # reported before the deadline as dispatched
    audit(office)


def test_a_forwarded_assignment_passes_its_material_on_and_a_list_reply_by_number_applies_to_that_matter(office):
    fwd = EmailMessage()
    fwd["From"] = f"李副总 <{office.addr['li']}>"
    fwd["To"] = office.addr["office"]
    fwd["Subject"] = "转发：关于开展冬季安全检查的通知"
    fwd["Message-ID"] = make_msgid(domain=office.domain)
    fwd.set_content("交办：请综合科牵头落实，12月4日前报送检查情况。\n\n"
                    "-------- 转发邮件信息 --------\n发件人：省安监局\n主题：关于开展冬季安全检查的通知\n\n"
                    "各单位：请于12月20日前完成冬季安全检查。")
    notice_doc = docx_bytes(["关于开展冬季安全检查的通知"])
    fwd.add_attachment(notice_doc, maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document", filename="检查通知.docx")
    office.servers.send(crlf(fwd), [office.addr["office"]], office.addr["li"])
    office.run_once()
    verify = sent(office, "clerk", "jb_verify")[-1]
    number = NUMBER.search(verify.subject).group(1)
    assert "12月4日（周五）" in verify.text                # the leader's own deadline, not the forwarded one
    assert local(task(office, number).deadline_at) == datetime(2026, 12, 4, 17, 30)
    office.reply("clerk", verify, "派发")
    office.run_once()
    notice = sent(office, "zonghe", "jb_notice", number)[-1]
    assert {a.filename: a.data for a in notice.attachments}.get("检查通知.docx") == notice_doc

    other = dispatched(office, "wang", "交办：年终总结材料", "请综合科负责，12月10日前报送年终总结材料。")
    at(office, "2026-12-03 08:30")
    listing = sent(office, "zonghe", "jb_list")[-1]
    assert number in listing.text and other in listing.text
    office.reply("zonghe", listing, f"{other} 进展：已完成提纲。")
    office.run_once()
    assert [o.text for o in opinions(office, other, "进展")] == ["已完成提纲。"]
    assert not opinions(office, number, "进展")
    audit(office)


# ---- overdue: 催办, 逾期督办, 退回 without a 时限 -----------------------------------------------------------------

def test_an_overdue_matter_is_chased_escalated_once_and_a_send_back_keeps_the_deadline(office):
    number = dispatched(office, "li", "交办：消防通道清理", "请综合科牵头，安全科配合，12月3日前完成消防通道清理。")
    co_notice = sent(office, "anquan", "jb_notice", number)[-1]
    at(office, "2026-12-04 09:00")                 # overdue; the 催办 is due at digest_at (23:00 in these tests)
    assert not [m for m in sent(office, "zonghe", "jb_list") if "逾期" in m.text]
    at(office, "2026-12-07 09:00")                 # 催办, and overdue by escalate_after: the leader and the head
    chase = [m for m in sent(office, "zonghe", "jb_list") if "逾期" in m.text]
    assert chase and number in chase[-1].text and "逾期 2 个工作日" in chase[-1].text
    assert office.addr["clerk"] in chase[-1].cc
    assert [m for m in sent(office, "anquan", "jb_list") if "逾期" in m.text]
    assert sent(office, "clerk", "jb_list")
    at(office, "2026-12-08 09:00")
    assert len([m for m in sent(office, "zonghe", "jb_list") if "逾期" in m.text]) == 2
    assert len(sent(office, "li", "jb_escalation", number)) == 1
    assert len(sent(office, "director", "jb_escalation", number)) == 1

    office.reply("anquan", co_notice, "协办完毕：通道杂物已清理。")
    office.run_once()
    lists = len(sent(office, "anquan", "jb_list"))
    at(office, "2026-12-09 09:00")                 # a co-unit done is no longer chased
    assert len(sent(office, "anquan", "jb_list")) == lists
    assert len([m for m in sent(office, "zonghe", "jb_list") if "逾期" in m.text]) == 3

    reply_newest(office, "zonghe", "jb_notice", number, "办结：通道已全部清理。")
    reply_newest(office, "clerk", "jb_check", number, "退回：请附清理前后照片。")
    assert local(task(office, number).deadline_at) == datetime(2026, 12, 3, 17, 30)
    assert [c.how for c in changes(office, number)] == ["派发"]
    back = sent(office, "zonghe", "jb_sent_back", number)[-1]
    assert "照片" in back.text and "12月3日" in back.text
    at(office, "2026-12-10 10:00")
    office.reply("zonghe", back, "办结：照片见附件。", attachments=[("照片.docx", docx_bytes(["照片"]))])
    office.run_once()
    reply_newest(office, "clerk", "jb_check", number, "核报")
    reply_newest(office, "li", "jb_read", number, "阅")
    rnd = rounds(office, number)[0]
    assert rnd.result == "逾期办结" and rnd.reminders >= 1 and rnd.escalated_at is not None
    audit(office)


# ---- before dispatch: 撤销 by the leader, 作废 by the office; 询问 answered by the delegate -----------------------

def test_withdrawn_before_dispatch_and_voided_by_the_office_reach_no_unit(office):
    first = register(office, "li", "交办：年度安全生产检查通报", "请综合科牵头，本周五前拿出通报初稿。")
    reply_newest(office, "li", "jb_receipt", first, "撤销：已另行安排。")
    assert matter(office, first).state == "jb_cancelled"
    told = sent(office, "clerk", "jb_withdrawn", first)[-1]
    assert "已另行安排" in told.text

    second = register(office, "wang", "交办：年度安全生产检查通报", "请综合科牵头，本周五前拿出通报初稿。")
    reply_newest(office, "clerk", "jb_verify", second, f"作废：与{first}重复")
    assert matter(office, second).state == "jb_cancelled"
    voided = sent(office, "wang", "jb_void", second)[-1]
    assert first in voided.text
    assert not office.inbox("zonghe")
    audit(office)


def test_the_delegate_answers_the_offices_question_for_the_leader(office):
    number = register(office, "li", "交办：董事会材料", "请综合科负责，尽快准备董事会材料。")
    reply_newest(office, "clerk", "jb_verify", number, "询问：材料何时需要？")
    ask = sent(office, "zhao", "jb_ask", number)[-1]
    office.reply("zhao", ask, "李副总说周五前。\n时限：12月4日前")
    office.run_once()
    assert matter(office, number).state == "jb_verifying"
    assert local(task(office, number).deadline_at) == datetime(2026, 12, 4, 17, 30)
    answered = sent(office, "clerk", "jb_answered", number)[-1]
    assert "周五前" in answered.text and "赵秘书" in answered.text
    audit(office)


# ---- refused on the way: a co-unit's 申请延期, the leader's 阅 on an extension ---------------------------------

def test_only_the_lead_unit_may_ask_for_an_extension_and_read_is_no_decision_on_one(office):
    number = dispatched(office, "li", "交办：安全培训计划", "请综合科牵头，安全科配合，12月4日前报送安全培训计划。")
    at(office, "2026-12-02 10:00")
    reply_newest(office, "anquan", "jb_notice", number, "申请延期：12月8日前，因人手不足")
    assert matter(office, number).state == "jb_doing"
    assert not sent(office, "li", "jb_extend", number)
    told = office.inbox("anquan")[-1]
    assert "须由承办单位综合科提出" in told.text
    assert "流转码" not in told.text.split("来信内容")[0].split("\n", 1)[1]     # its answer had the code: no such doubt

    reply_newest(office, "zonghe", "jb_notice", number, "申请延期：12月8日前，因人手不足")
    ask = sent(office, "li", "jb_extend", number)[-1]
    office.reply("li", ask, "阅")
    office.run_once()
    assert matter(office, number).state == "jb_extending"
    assert local(task(office, number).deadline_at) == datetime(2026, 12, 4, 17, 30)
    question = sent(office, "li", "jb_extend", number)[-1]
    assert question.message_id != ask.message_id and CODE.search(question.subject)
    office.reply("li", question, "同意")
    office.run_once()
    assert local(task(office, number).deadline_at) == datetime(2026, 12, 8, 17, 30)
    audit(office)


# ---- a GBK subject and body ----------------------------------------------------------------------------------

def test_a_gbk_encoded_subject_and_body_from_a_leader_is_registered(office):
    import base64
    body = "请综合科牵头，12月4日前拿出通报初稿，突出问题整改。".encode("gbk")
    subject = "=?GBK?B?" + base64.b64encode("交办：年度安全生产检查通报".encode("gbk")).decode() + "?="
    raw = (f"From: {office.addr['li']}\r\nTo: {office.addr['office']}\r\nSubject: {subject}\r\n"
           f"Message-ID: {make_msgid(domain=office.domain)}\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: base64\r\n\r\n").encode() + \
        base64.encodebytes(body).replace(b"\n", b"\r\n")
    office.servers.send(raw, [office.addr["office"]], office.addr["li"])
    office.run_once()
    verify = sent(office, "clerk", "jb_verify")[-1]
    assert "年度安全生产检查通报" in verify.subject and "突出问题整改" in verify.text
    assert "12月4日（周五）" in verify.text
    audit(office)


# ---- 申请改派, a co-unit's 进展, 查询 ------------------------------------------------------------------------

def test_a_reassignment_asked_by_the_lead_unit_and_made_by_the_office(office):
    number = dispatched(office, "li", "交办：年度预算执行分析", "请综合科牵头，安全科配合，12月8日前报送预算执行分析。")
    at(office, "2026-12-02 10:00")
    reply_newest(office, "anquan", "jb_notice", number, "进展：已提供安全费用数据。")
    passed = sent(office, "zonghe", "jb_passed", number)[-1]
    assert "已提供安全费用数据" in passed.text
    reply_newest(office, "zonghe", "jb_notice", number, "申请改派：预算分析属财务科职责，建议由财务科承办。")
    forward = sent(office, "clerk", "jb_reassign", number)[-1]
    assert "属财务科职责" in forward.text and CODE.search(forward.subject)
    office.reply("clerk", forward, "派发\n承办：财务科")
    office.run_once()
    t = task(office, number)
    assert t.lead == office.addr["caiwu"] and local(t.deadline_at) == datetime(2026, 12, 8, 17, 30)
    assert sent(office, "caiwu", "jb_notice", number)
    assert [m for m in sent(office, "zonghe", "jb_notice", number) if "已改派" in m.subject]
    assert [c.how for c in changes(office, number)] == ["派发"]       # the deadline did not move: no change listed
    assert rounds(office, number)[0].signed_at is None                # 财务科 has not signed; 综合科's reply was not it
    reply_newest(office, "caiwu", "jb_notice", number, "收到")
    assert rounds(office, number)[0].signed_at is not None
    reply_newest(office, "li", "jb_dispatched", number, "查询")
    status = office.last("li", number)
    assert "财务科" in status.text and "办理中" in status.text and "改派，办公室" not in status.text
    audit(office)


def test_a_gbk_report_whose_attachment_name_is_encoded_the_way_foxmail_does_keeps_its_name(office):
    import base64
    number = dispatched(office, "li", "交办：年度安全生产检查通报", "请综合科牵头，12月4日前拿出通报初稿。")
    notice = sent(office, "zonghe", "jb_notice", number)[-1]
    at(office, "2026-12-03 15:00")
    doc = docx_bytes(["通报"])
    name = "=?GBK?B?" + base64.b64encode("检查通报（初稿）.docx".encode("gbk")).decode() + "?="
    subject = "=?GBK?B?" + base64.b64encode(f"回复：{notice.subject}".encode("gbk")).decode() + "?="
    boundary = "----=_NextPart_000_0001"
    raw = (f"From: {office.addr['zonghe']}\r\nTo: {office.addr['office']}\r\nSubject: {subject}\r\n"
           f"Message-ID: {make_msgid(domain=office.domain)}\r\nIn-Reply-To: <{notice.message_id}>\r\n"
           f"References: <{notice.message_id}>\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
           f"--{boundary}\r\nContent-Type: text/plain; charset=\"gbk\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           ).encode() + base64.encodebytes("办结：初稿已完成，见附件。".encode("gbk")).replace(b"\n", b"\r\n") + (
           f"\r\n--{boundary}\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n"
           f"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\r\n"
           ).encode() + base64.encodebytes(doc).replace(b"\n", b"\r\n") + f"\r\n--{boundary}--\r\n".encode()
    office.servers.send(raw, [office.addr["office"]], office.addr["zonghe"])
    office.run_once()
    assert matter(office, number).state == "jb_checking"
    check = sent(office, "clerk", "jb_check", number)[-1]
    assert "初稿已完成" in check.text
    assert {a.filename: a.data for a in check.attachments}.get("检查通报（初稿）.docx") == doc
    assert "检查通报（初稿）.docx" in check.text
    audit(office)


def test_a_report_that_names_an_attachment_it_lacks_is_flagged_in_the_check(office):
    number = dispatched(office, "li", "交办：年度安全生产检查通报", "请综合科牵头，安全科配合，12月4日前拿出通报初稿。")
    at(office, "2026-12-03 15:00")
    reply_newest(office, "zonghe", "jb_notice", number, "办结：通报初稿见附件。", quote="qq")
    check = sent(office, "clerk", "jb_check", number)[-1]
    line = next(x for x in check.text.splitlines() if x.startswith("附件核对"))
    assert "未发现缺漏" not in line and "附件" in line
    facts = check.text.split("协办情况")[1].split("最近进展")[0]
    assert "安全科" in facts and "未" in facts, facts                # 安全科 has not reported 协办完毕
    audit(office)


def test_a_correction_of_the_deadline_while_the_report_is_checked_tells_the_units_without_asking_a_new_report(office):
    number = dispatched(office, "li", "交办：安全隐患整改", "请综合科牵头，安全科配合，12月3日前完成安全隐患整改。")
    at(office, "2026-12-04 10:00")
    reply_newest(office, "zonghe", "jb_notice", number, "办结：整改完毕。")
    assert "逾期" in sent(office, "clerk", "jb_check", number)[-1].text
    reply_newest(office, "li", "jb_dispatched", number, "更正：\n时限：12月4日前")
    assert matter(office, number).state == "jb_checking"
    told = [m for m in office.inbox("zonghe") if "变更" in m.subject and number in m.subject][-1]
    assert "12月4日" in told.text and "核报" in told.text and "办结：办理情况" not in told.text
    assert changes(office, number)[-1].how == "更正"
    reply_newest(office, "clerk", "jb_check", number, "核报")
    reply_newest(office, "li", "jb_read", number, "阅")
    assert rounds(office, number)[0].result == "按期"             # judged on the deadline as corrected
    audit(office)


def test_a_report_while_the_extension_waits_ends_the_extension_request(office):
    number = dispatched(office, "li", "交办：安全台账整理", "请综合科负责，12月4日前完成安全台账整理。")
    notice = sent(office, "zonghe", "jb_notice", number)[-1]
    at(office, "2026-12-02 10:00")
    office.reply("zonghe", notice, "申请延期：12月9日前，因资料较多")
    office.run_once()
    ask = sent(office, "li", "jb_extend", number)[-1]
    at(office, "2026-12-03 10:00")
    office.reply("zonghe", notice, "办结：已提前整理完毕。")
    office.run_once()
    assert matter(office, number).state == "jb_checking"
    office.reply("li", ask, "同意")                  # the leader answers the request the report made moot
    office.run_once()
    assert matter(office, number).state == "jb_checking"
    assert local(task(office, number).deadline_at) == datetime(2026, 12, 4, 17, 30)
    assert [c.how for c in changes(office, number)] == ["派发"]
    assert "综合科已报送办结报告，延期申请无需再批复" in office.last("li", number).text
    audit(office)


def test_a_past_deadline_given_with_continue_or_send_back_is_refused_and_changes_nothing(office):
    number = dispatched(office, "li", "交办：节能检查", "请综合科负责，12月4日前完成节能检查。")
    at(office, "2026-12-03 10:00")
    reply_newest(office, "zonghe", "jb_notice", number, "办结：检查完毕。")
    check = sent(office, "clerk", "jb_check", number)[-1]
    office.reply("clerk", check, "退回：请补充数据。\n时限：12月2日前")
    office.run_once()
    assert matter(office, number).state == "jb_checking"
    assert "12月2日" in office.inbox("clerk")[-1].text
    office.reply("clerk", check, "核报")
    office.run_once()
    read = sent(office, "li", "jb_read", number)[-1]
    office.reply("li", read, "继续办理：补充节能数据。\n时限：12月1日前")
    office.run_once()
    assert matter(office, number).state == "jb_reading" and task(office, number).round == 1
    assert "12月1日" in office.inbox("li")[-1].text
    audit(office)


def test_the_office_as_lead_unit_reports_and_the_head_checks(office):
    number = dispatched(office, "li", "交办：会议室管理制度", "请办公室负责，12月4日前起草会议室管理制度。", extra="承办：办公室")
    assert task(office, number).lead == office.addr["clerk"]
    notice = sent(office, "clerk", "jb_notice", number)[-1]
    at(office, "2026-12-03 10:00")
    office.reply("clerk", notice, "办结：制度草稿见附件。", attachments=[("会议室管理制度.docx", docx_bytes(["制度"]))])
    office.run_once()
    assert matter(office, number).state == "jb_checking"
    check = sent(office, "director", "jb_check", number)[-1]
    assert "制度草稿" in check.text and CODE.search(check.subject)
    assert not sent(office, "clerk", "jb_check", number)
    office.reply("director", check, "核报\n核报意见：可以。")
    office.run_once()
    reply_newest(office, "li", "jb_read", number, "阅")
    assert matter(office, number).state == "jb_closed"
    assert rounds(office, number)[0].checked_by == office.addr["director"]
    audit(office)


def test_an_out_of_office_reply_from_the_lead_unit_is_recorded_on_the_matter_and_never_answered(office):
    number = dispatched(office, "li", "交办：年度安全生产检查通报", "请综合科牵头，12月4日前拿出通报初稿。")
    notice = sent(office, "zonghe", "jb_notice", number)[-1]
    before = len(office.inbox("zonghe"))
    office.reply("zonghe", notice, "自动回复：本人12月1日至12月3日休假，急事请联系张三。", quote="none",
                 subject=f"自动回复: {notice.subject}", headers=(("Auto-Submitted", "auto-replied"),))
    office.run_once()
    assert len(office.inbox("zonghe")) == before
    assert matter(office, number).state == "jb_doing" and not opinions(office, number, "进展")
    assert rounds(office, number)[0].signed_at is None
    rows = record(office, number)
    assert rows[-1].kind == "auto" and rows[-1].ignored and "综合科" in rows[-1].action and "不答复" in rows[-1].action
    audit(office)

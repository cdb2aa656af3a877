"""Every mail of the 交办, as people receive it: one matter driven through a whole life (registration, 询问, 核定,
派发, the list reminder, 进展, 请求协调, 延期, 办结, 退回, 核报, 继续办理, 阅示, 台账, 查询), others 更正, 撤销,
作废 and refused; each mail checked for what a reader relies on: the code where an answer is expected, the same
facts in text and HTML, escaped HTML, mailto buttons that reach the office, no template leftovers, no UTC time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from html import unescape
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from jiaoban_world import World

from daemon import models
from daemon.jiaoban import chase, ledger
from daemon.models import Mail, Outbox

CONTENT = "起草年度安全生产检查通报"
NASTY = "核对<script>alert(1)</script>消防 & 安保台账"
OFFICE = "office@t.test"


@dataclass
class Sent:
    kind: str           # the template
    rcpts: list
    mail: object        # mime.ParsedMail
    code: str           # the code the mail carries (its first line; its step's code when it asks about one)
    step_code: str      # the code of the step it asks about, "" for none
    number: str         # the 交办's number, "" for a mail about several


def _now(monkeypatch, when: str) -> None:
    monkeypatch.setenv("OFFICEFLOW_NOW", when + "+08:00")


def live(world: World, monkeypatch, content: str = CONTENT) -> str:
    """One 交办 from the leader's mail to the 台账, and a second one corrected, withdrawn and another voided;
    returns the first one's number."""
    w, now = world, (lambda t: _now(monkeypatch, t))
    now("2026-12-01T10:12:00")                                                           # Tuesday
    w.send("li@t.test", f"交办：{content}",
           f"请综合科牵头，安全科配合，本周五前拿出{content}初稿，突出问题整改，不超过两页。")
    number = w.request().number
    now("2026-12-01T10:30:00")
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "请核定"), "询问：是否需要附各单位整改台账？")
    now("2026-12-01T10:40:00")
    w.send("clerk@t.test", f"查询 {number}", "")                                        # 待明确: the leader holds it
    now("2026-12-01T10:50:00")
    w.reply("li@t.test", w.last_to("li@t.test", "请明示"), "需要，附整改台账。")
    now("2026-12-01T11:00:00")
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "领导已答复"), "派发")
    now("2026-12-02T09:10:00")
    w.reply("anquan@t.test", w.last_to("anquan@t.test", "交办通知"), "协办完毕：问题清单已报综合科。")
    now("2026-12-02T15:00:00")
    w.reply("zonghe@t.test", w.last_to("zonghe@t.test", "交办通知"), "进展：初稿已成，正在核对数据。")
    w.reply("zonghe@t.test", w.last_to("zonghe@t.test", "交办通知"), "请求协调：请财务科提供隐患整改经费数据。")
    now("2026-12-02T16:00:00")
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "请求协调"), "已联系财务科，数据于12月3日前提供。")
    now("2026-12-03T09:00:00")
    chase.run_chase(w.app)                                                               # 临期提醒
    now("2026-12-03T10:00:00")
    w.reply("zonghe@t.test", w.last_to("zonghe@t.test", "交办通知"),
            "申请延期：财务数据12月4日才能提供。\n时限：12月9日前")
    now("2026-12-03T10:30:00")
    w.send("clerk@t.test", f"查询 {number}", "")                                        # 延期待批: the leader decides
    now("2026-12-03T11:00:00")
    w.reply("li@t.test", w.last_to("li@t.test", "延期申请"), "同意。")
    now("2026-12-08T16:40:00")
    w.reply("zonghe@t.test", w.last_to("zonghe@t.test", "交办通知"), "办结：通报初稿见附件。",
            attachments=[("通报初稿.docx", b"draft")])
    now("2026-12-08T17:00:00")
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "请核报"), "退回：请补充问题整改的具体措施。")
    now("2026-12-09T10:00:00")
    w.reply("zonghe@t.test", w.last_to("zonghe@t.test", "退回"), "办结：已补充整改措施，通报见附件。",
            attachments=[("通报.docx", b"final")])
    now("2026-12-09T10:30:00")
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "请核报"), "核报\n核报意见：按要求完成，建议印发。")
    now("2026-12-09T13:50:00")
    w.reply("li@t.test", w.last_to("li@t.test", "请阅示"), "查询")
    now("2026-12-09T14:00:00")
    w.reply("li@t.test", w.last_to("li@t.test", "请阅示"), "继续办理：请将通报印发各单位并跟踪整改。\n时限：12月16日前")
    now("2026-12-15T10:00:00")
    w.reply("zonghe@t.test", w.last_to("zonghe@t.test", "交办通知"), "办结：通报已印发，整改情况见附件。",
            attachments=[("整改情况.xlsx", b"xlsx")])
    now("2026-12-15T11:00:00")
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "请核报"), "核报")
    now("2026-12-15T15:00:00")
    w.reply("li@t.test", w.last_to("li@t.test", "请阅示"), "阅")
    now("2026-12-15T15:10:00")
    w.send("li@t.test", f"查询 {number}", "")
    # a second matter: dispatched, then overdue and escalated, corrected, withdrawn
    now("2026-12-16T09:00:00")
    w.send("wang@t.test", "交办：盘点固定资产", "请财务科牵头，综合科配合，12月18日前完成固定资产盘点。")
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "请核定"), "派发")
    now("2026-12-17T09:00:00")
    w.reply("wang@t.test", w.last_to("wang@t.test", "已派发"), "更正\n时限：12月22日前")
    now("2026-12-21T09:00:00")
    ledger.send(w.app, date(2026, 12, 14))                                               # a week with rows
    now("2026-12-24T09:00:00")
    chase.run_chase(w.app)                                                               # 逾期督办
    now("2026-12-24T10:00:00")
    w.reply("wang@t.test", w.last_to("wang@t.test", "逾期督办"), "撤销：已并入年终盘点。")
    # a third, voided by the office
    w.send("li@t.test", "交办：请办公室协调会议室", "请办公室12月25日前协调好会议室。")
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "请核定"), "作废：与上周交办的重复。")
    # the refusals and side roads: a 交办 from a unit, one registered without its leader, a 派发 without a 时限,
    # 申请改派 kept, a unit's plain reply, a list reply naming no item, an unclear 批示, a reply to a closed matter,
    # and 继续办理 without a 时限
    now("2026-12-24T10:30:00")
    w.send("zonghe@t.test", "交办：请安全科检查灭火器", "请安全科本周内检查灭火器。")
    w.send("clerk@t.test", "交办：整理档案", "请综合科牵头整理本年度文书档案。")
    w.send("clerk@t.test", "交办：整理档案", "交办领导：李副总\n来源：电话\n请综合科牵头整理本年度文书档案。")
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "请核定"), "派发")
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "请补正"), "派发\n时限：12月31日前")
    w.send("li@t.test", "交办：清点会议室设备", "请财务科牵头，综合科配合，12月30日前清点会议室设备。")
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "请核定"), "派发")
    now("2026-12-24T11:00:00")
    w.reply("zonghe@t.test", w.last_to("zonghe@t.test", "交办通知：整理档案"), "申请改派：文书档案由办公室归档。")
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "申请改派"), "维持：请综合科整理后移交办公室归档。")
    w.reply("zonghe@t.test", w.last_to("zonghe@t.test", "维持原承办"), "已安排专人整理。")
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "已派发：整理档案"), "催办")
    w.reply("zonghe@t.test", w.last_to("zonghe@t.test", "【交办提醒】"), "进展：正在整理。")
    now("2026-12-25T10:00:00")
    w.reply("zonghe@t.test", w.last_to("zonghe@t.test", "交办通知：整理档案"), "办结：文书档案已整理完毕，目录见附件。",
            attachments=[("档案目录.xlsx", b"x")])
    w.reply("clerk@t.test", w.last_to("clerk@t.test", "请核报"), "核报")
    w.reply("li@t.test", w.last_to("li@t.test", "请阅示"), "好的")
    w.reply("li@t.test", w.last_to("li@t.test", "请阅示"), "阅")
    w.reply("zonghe@t.test", w.last_to("zonghe@t.test", "交办通知：整理档案"), "进展：已移交。")
    w.reply("li@t.test", w.last_to("li@t.test", "请阅示"), "继续办理：请明年起每季度整理一次。")
    now("2026-12-28T09:00:00")
    ledger.send(w.app, date(2026, 12, 21))
    w.send("li@t.test", "查询", "")                                                      # the leader's open matters
    return number


def sent() -> list[Sent]:
    """Every mail the office queued, oldest first, with the code of the step it asks about ("" for none)."""
    from daemon import mailstore, mime
    from daemon.models import Step
    out = []
    rows = list(Outbox.select().order_by(Outbox.id))
    whole = mailstore.messages(rows)
    for row in rows:
        mail = Mail.get_by_id(row.mail_id)
        step = Step.get_by_id(mail.step_id) if mail.step_id else None
        out.append(Sent(mail.kind, row.rcpts, mime.parse(whole[row.id]), mail.code,
                        step.code if step is not None else "", mail.request.number if mail.request_id else ""))
    return out


def _life(tmp_path_factory, content: str) -> tuple[str, list[Sent]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
        world = World(tmp_path_factory.mktemp("life"))
        try:
            number = live(world, mp, content)
            return number, sent()
        finally:
            models.close()


@pytest.fixture(scope="module")
def life(tmp_path_factory):
    return _life(tmp_path_factory, CONTENT)


@pytest.fixture(scope="module")
def nasty(tmp_path_factory):
    return _life(tmp_path_factory, NASTY)


def visible(html: str) -> str:
    """The text a reader sees of an HTML body: no tags, entities decoded, white space folded."""
    text = re.sub(r"(?is)<(style|head)\b.*?</\1>", " ", html)
    text = re.sub(r"(?is)</?(b|strong|span|a|em)\b[^>]*>", "", text)      # inline: no break in the words
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return " ".join(unescape(text).split())


def folded(text: str) -> str:
    return " ".join(text.split())


# the templates one life reaches; a template no longer reached is a gap in these checks
REACHED = {"jb_receipt", "jb_verify", "jb_ask", "jb_answered", "jb_notice", "jb_dispatched", "jb_passed",
           "jb_coordinate", "jb_coordinate_answer", "jb_list", "jb_extend", "jb_extend_result", "jb_check",
           "jb_sent_back", "jb_read", "jb_status", "jb_closed", "jb_changed", "jb_escalation", "jb_withdrawn",
           "jb_void", "jb_ledger", "jb_not_leader", "jb_need_leader", "jb_dispatch_refused", "jb_reassign", "jb_keep",
           "jb_only_report", "jb_list_which", "jb_read_help", "jb_explain", "jb_next_round"}
# mails that expect an answer, and those that only tell (SPEC §6.8)
ASKING = {"jb_verify", "jb_ask", "jb_answered", "jb_passed", "jb_coordinate", "jb_coordinate_answer", "jb_list",
          "jb_check", "jb_sent_back", "jb_read", "jb_dispatch_refused", "jb_reassign", "jb_keep", "jb_only_report",
          "jb_list_which", "jb_read_help"}
TELLING = {"jb_receipt", "jb_dispatched", "jb_status", "jb_closed", "jb_escalation", "jb_withdrawn", "jb_void",
           "jb_ledger", "jb_not_leader", "jb_need_leader", "jb_explain"}
NUMBER = re.compile(r"督办〔\d{4}〕\d+号")
DEADLINE = re.compile(r"\d{1,2}月\d{1,2}日（周.）\d{2}:\d{2}前")
DAY = re.compile(r"(?<!\d)\d{1,2}月\d{1,2}日")
TIME = re.compile(r"(?<![\d:])\d{2}:\d{2}(?![\d:])")


def test_the_life_reaches_every_template_it_names(life):
    _, mails = life
    assert {s.kind for s in mails} == REACHED


def test_a_mail_that_expects_an_answer_carries_its_code_in_subject_and_first_line(life):
    _, mails = life
    for s in mails:
        first = s.mail.text.splitlines()[0]
        in_subject = re.findall(r"〔流转码：([A-Z0-9]+)〕", s.mail.subject)
        # the fingerprint the reply reader cuts at: the office, the number, the mail's code
        assert first == "集团公司办公室" + (f" · {s.number}" if s.number else "") + f" 〔流转码：{s.code}〕", (s.kind, first)
        if s.step_code:
            assert s.code == s.step_code and in_subject == [s.step_code], (s.kind, s.mail.subject)
        if s.kind in ASKING:
            assert in_subject == [s.code], (s.kind, s.mail.subject)
        if s.kind in TELLING:
            assert not in_subject, (s.kind, s.mail.subject)
        if in_subject and s.kind not in ("jb_list", "jb_list_which"):       # a list's code is its own
            assert s.step_code, (s.kind, s.mail.subject)          # a code in the subject is a step's code


def test_text_and_html_say_the_same_facts(life):
    _, mails = life
    for s in mails:
        text, html = folded(s.mail.text), visible(s.mail.html)
        for pattern in (NUMBER, DEADLINE, DAY, TIME):
            assert set(pattern.findall(text)) == set(pattern.findall(html)), (s.kind, pattern.pattern)
        if s.number == "督办〔2026〕1号" and s.kind != "jb_ledger":
            assert CONTENT in text and CONTENT in html, s.kind


def test_the_notice_directs_the_unit_and_the_read_request_is_short(life):
    _, mails = life
    notice = next(s for s in mails if s.kind == "jb_notice" and s.rcpts == ["zonghe@t.test"])
    for body in (folded(notice.mail.text), visible(notice.mail.html)):
        assert "请于12月4日（周五）17:30前办结并报告结果" in body
    second = [s for s in mails if s.kind == "jb_notice" and s.rcpts == ["zonghe@t.test"]][1]
    assert "\n　　李副总阅示后批示继续办理下列事项（第2轮），仍由你单位承办，安全科协办。请按新的要求，于12月16日（周三）" \
        "17:30前办结并报告结果。\n" in second.mail.text
    assert "根据李副总交办" not in second.mail.text                      # one opening, not two
    read = [s for s in mails if s.kind == "jb_read" and s.number == "督办〔2026〕1号"]
    assert len(read) == 2 and "（综合科办结报告，延期后办结）" in read[0].mail.subject
    assert "（综合科第2轮办结报告，按期）" in read[1].mail.subject        # no deadline in nested brackets
    for s in read:
        assert s.mail.text.startswith("集团公司办公室") and "李副总：" in s.mail.text and "请阅示" in s.mail.text
        assert "登记：" not in s.mail.text and len(s.mail.text.splitlines()) <= 40, s.mail.text


def test_the_query_while_the_leader_is_asked_or_decides_names_the_leader(life):
    _, mails = life
    asked, extending = [s for s in mails if s.kind == "jb_status"][:2]
    assert asked.mail.subject.startswith("【督办〔2026〕1号】查询结果：待明确")
    assert extending.mail.subject.startswith("【督办〔2026〕1号】查询结果：延期待批")
    for s in (asked, extending):
        assert "当前办理：李副总" in s.mail.text and "当前办理 李副总" in visible(s.mail.html)


def test_the_html_keeps_a_content_with_markup_as_text(nasty):
    _, mails = nasty
    shown = [s for s in mails if NASTY in s.mail.text]
    assert {"jb_notice", "jb_list", "jb_read", "jb_status"} <= {s.kind for s in shown}
    for s in mails:
        assert "<script" not in s.mail.html.lower(), s.kind
        if NASTY in s.mail.text:
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in s.mail.html, s.kind
            assert "消防 &amp; 安保" in s.mail.html, s.kind
            assert NASTY in visible(s.mail.html), s.kind


def test_every_mailto_button_opens_a_mail_to_the_office_with_the_code(life):
    _, mails = life
    buttons = 0
    for s in mails:
        for href in re.findall(r'href="(mailto:[^"]+)"', s.mail.html):
            link = unescape(href)
            to, _, query = link[len("mailto:"):].partition("?")
            fields = dict(part.split("=", 1) for part in query.split("&"))
            subject = unquote(fields["subject"])
            assert unquote(to) == OFFICE, (s.kind, link)
            assert f"〔流转码：{s.code}〕" in subject and s.number in subject, (s.kind, subject)
            buttons += 1
    assert buttons >= 6


UTC_SHIFT = 8


def _local_times(mails) -> set[str]:
    return {t for s in mails for t in re.findall(r"\b(\d{2}:\d{2})\b", folded(s.mail.text))}


def test_no_leftovers_and_no_utc_time(life):
    _, mails = life
    # every time of the life, as it happened (local): the mails in and the deadlines
    happened = {"10:12", "10:30", "10:40", "10:50", "11:00", "09:10", "15:00", "16:00", "09:00", "10:00",
                "16:40", "17:00", "13:50", "14:00", "15:10", "17:30"}
    utc = {f"{(int(t[:2]) - UTC_SHIFT) % 24:02d}:{t[3:]}" for t in happened} - happened
    for s in mails:
        for part, body in (("subject", s.mail.subject), ("text", s.mail.text), ("html", visible(s.mail.html))):
            body = re.sub(r"流转码[:：]\s*[A-Z0-9]{4,8}", "流转码：CODE", body)    # a random code may spell UTC
            for bad in ("None", "{{", "{%", "}}", "UTC", "+00:00", "+08:00", "nan"):
                assert bad not in body, (s.kind, part, bad)
            assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", body), (s.kind, part)
            assert not re.search(r"督办[\[(（【]?\d{4}[\])）】]", body), (s.kind, part)      # the year in 〔〕
            shown = set(re.findall(r"(?<![\d:])(\d{2}:\d{2})(?![\d:])", body))
            assert not shown & utc, (s.kind, part, shown & utc)
    assert _local_times(mails) <= happened | {"17:30"}


def test_the_examples_of_how_to_reply_name_no_day_already_past(life):
    _, mails = life
    examples = 0
    for s in mails:
        sent_on = s.mail.date.astimezone(ZoneInfo("Asia/Shanghai")).date()
        # (the reason a 派发 is refused, 未写明时限，请写明，如“…”, is daemon.deadline's fixed example, not a template's)
        found = re.findall(r"(?<!请写明，如)“(?:更正：)?时限：(\d{4}年)?(\d{1,2})月(\d{1,2})日前”",
                           s.mail.text + visible(s.mail.html))
        for year, month, day in found:
            # without a year it must be this year's: a 时限 crossing the year unwritten is refused
            limit = date(int(year[:4]) if year else sent_on.year, int(month), int(day))
            assert limit > sent_on, (s.kind, year, month, day, sent_on)
            examples += 1
    assert examples >= 10


def test_a_leaders_own_correction_names_the_leader_once(life):
    _, mails = life
    told = [s for s in mails if s.kind == "jb_changed" and s.rcpts == ["caiwu@t.test"]]
    assert told and "\n　　王总对交办的《盘点固定资产》（督办〔2026〕2号）作出更正，下列事项有变更" in told[0].mail.text
    assert "王总对交办的《盘点固定资产》（督办〔2026〕2号）作出更正" in visible(told[0].mail.html)


def test_no_table_is_wider_than_a_phone_takes(life):
    """Rows of more than five cells crush the text to a character or two a line at 375 pixels: matters are one
    row each, their facts stacked."""
    _, mails = life
    for s in mails:
        for row in re.findall(r"(?is)<tr\b(?:(?!<tr\b).)*?</tr>", s.mail.html):          # innermost rows
            assert len(re.findall(r"(?i)<t[dh]\b", row)) <= 5, (s.kind, visible(row)[:80])


def _button(html: str, label: str) -> tuple[str, str]:
    """The subject and body of the mail the button `label` opens."""
    for href, text in re.findall(r'href="(mailto:[^"]+)"[^>]*>([^<]+)</a>', html):
        if text.strip() == label:
            query = dict(p.split("=", 1) for p in unescape(href).partition("?")[2].split("&"))
            return unquote(query["subject"]), unquote(query["body"])
    raise AssertionError(f"no button {label}")


def test_a_units_button_mail_is_taken_as_its_answer(tmp_path, monkeypatch):
    """签收 and 办结 sent from the 交办通知单's buttons: a new mail, no thread, the code in its subject."""
    from daemon.jiaoban import CHECKING, core
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    _now(monkeypatch, "2026-12-01T10:12:00")
    world = World(tmp_path)
    try:
        world.send("li@t.test", "交办：起草年度安全生产检查通报", "请综合科牵头，本周五前拿出通报初稿。")
        world.reply("clerk@t.test", world.last_to("clerk@t.test", "请核定"), "派发")
        notice = world.last_to("zonghe@t.test", "交办通知")
        _now(monkeypatch, "2026-12-01T14:00:00")
        world.send("zonghe@t.test", *_button(notice.html, "签收"))
        req = world.request()
        assert core.round_of(req, 1).signed_at is not None
        subject, body = _button(notice.html, "办结")
        world.send("zonghe@t.test", subject, body.replace("（请写办理结果）", "通报初稿已完成。"))
        assert world.request().state == CHECKING
    finally:
        models.close()

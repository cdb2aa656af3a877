"""The 交办 against hostile, real and ambiguous mail, through intake (SPEC §6.4, §6.9): a doubtful word is asked
about and never applied; a reply that points at another matter applies nothing; every mail of the real-mail
corpus, as a unit's or a leader's reply and as a leader's new mail, is recorded and applies nothing it does not
say; huge and malformed 交办 are answered in bounded time."""

from __future__ import annotations

import collections
import re
import time
from email.utils import make_msgid
from pathlib import Path

import pytest
from conftest import CORPUS, require_corpus
from jiaoban_world import World, world  # noqa: F401 - the office in process

from daemon import intake
from daemon.jiaoban import (
    CANCELLED,
    CHECKING,
    CLOSED,
    DOING,
    EXTENDING,
    LEAD,
    READING,
    VERIFYING,
    core,
    elements,
)
from daemon.models import Mail, Opinion, Request

TUESDAY = "2026-12-01T10:12:00+08:00"
RAW_FOLDERS = ("lkml-erofs-zh", "imap_tools", "spamscope-mail-parser", "php-mime-mail-parser", "talon")
BODY_FOLDERS = ("email_reply_trimmer", "github-email_reply_parser", "willdurand-EmailReplyParser",
                "mail-parser-reply", "crisp-email-reply-parser")


def refreshed(req) -> Request:
    return Request.get_by_id(req.id)


def lead_step(req):
    return core.active_steps(req, LEAD)[0]


def coded(world, sender: str, req, body: str, subject: str = "") -> str:
    """A reply carrying the lead unit's code in its subject, as a unit writes when it answers its notice."""
    subject = subject or f"回复：【{req.number}】交办通知单 流转码：{lead_step(req).code}"
    return world.send(sender, subject, body)


def last_in(req=None) -> Mail:
    q = Mail.select().where(Mail.direction == "in")
    return q.order_by(Mail.id.desc()).get()


def opinions(req) -> list[str]:
    return [o.decision for o in Opinion.select().where(Opinion.request == req).order_by(Opinion.id)]


def explained(world, address: str) -> str:
    mail = world.last_to(address)
    return mail.subject + "\n" + mail.text


# ---------------------------------------------------------------- doubtful words: asked, never applied

DOUBTFUL_REPORTS = ["办结了吗？", "办结？", "办结，对吗？", "办结：尚未完成，预计下周", "复命：因故未能完成",
                    "办结不了", "办结了", "【办结吗】", "李主任：\n办结了吗？"]


@pytest.mark.parametrize("body", DOUBTFUL_REPORTS)
def test_a_doubtful_report_is_asked_about_not_reported(world, body):
    req = world.dispatched()
    before = len(world.mails_to("zonghe@t.test"))
    coded(world, "zonghe@t.test", req, body)
    assert refreshed(req).state == DOING
    assert "办结" not in opinions(req) and core.round_of(req, 1).reported_at is None
    assert not world.mails_to("clerk@t.test") or all("核报" not in m.subject for m in world.mails_to("clerk@t.test"))
    assert len(world.mails_to("zonghe@t.test")) == before + 1       # told once, what to write
    told = explained(world, "zonghe@t.test")
    assert "未作处理" in told or "办结：" in told


@pytest.mark.parametrize("body", ["撤销吗？", "撤销，可以吗？", "撤销不了", "撤销了", "撤销？", "是否撤销"])
def test_a_doubtful_withdrawal_is_asked_about(world, body):
    req = world.dispatched()
    coded(world, "li@t.test", req, body)
    assert refreshed(req).state == DOING
    assert not any("撤销" in m.subject for m in world.mails_to("zonghe@t.test"))
    assert last_in().ignored


def test_a_doubt_is_answered_with_the_line_and_what_to_write(world):
    req = world.dispatched()
    coded(world, "li@t.test", req, "撤销，可以吗？\n李明")
    told = explained(world, "li@t.test")
    assert "撤销，可以吗？" in told and "问句" in told and "撤销：" in told
    assert "存疑" not in last_in().action or "未处理" in last_in().action


def test_a_greeting_line_before_the_keyword_is_read_past(world):
    req = world.dispatched()
    coded(world, "zonghe@t.test", req, "李主任：\n办结：通报初稿见附件。\n\n综合科 张三")
    assert refreshed(req).state == CHECKING
    assert "办结" in opinions(req) or core.round_of(req, 1).reported_at is not None


def test_a_sentence_before_the_keyword_is_no_greeting(world):
    req = world.dispatched()
    coded(world, "li@t.test", req, "这件事我想了一下：\n撤销：重复交办")
    assert refreshed(req).state == DOING


@pytest.mark.parametrize("body", ["已办结", "尚未办结，预计下周完成", "不办结", "进展？"])
def test_a_negated_or_bare_word_from_a_unit_is_progress_at_most(world, body):
    req = world.dispatched()
    coded(world, "zonghe@t.test", req, body)
    assert refreshed(req).state == DOING
    assert core.round_of(req, 1).reported_at is None


def _to_reading(world):
    req = world.dispatched()
    coded(world, "zonghe@t.test", req, "办结：通报初稿见附件")
    assert refreshed(req).state == CHECKING
    check = world.last_to("clerk@t.test", "核报")
    world.reply("clerk@t.test", check, "核报")
    assert refreshed(req).state == READING
    return req, world.last_to("li@t.test", "阅示")


@pytest.mark.parametrize("body", ["已阅，但请补充典型案例", "阅，是否印发？", "已阅？", "可以吗？", "阅知", "好的",
                                  "阅。继续办理：补充数据", "同意吗", "收到", "OK", "阅。退回重写", "已阅\n请再核一下数据"])
def test_the_leader_s_doubtful_word_on_the_report_closes_nothing(world, body):
    req, ask = _to_reading(world)
    world.reply("li@t.test", ask, body)
    assert refreshed(req).state == READING, body
    assert core.round_of(req, 1).read_at is None


@pytest.mark.parametrize("body", ["阅", "阅。请印发", "已阅", "同意。", "可以", "王总：\n阅，请印发"])
def test_the_leader_s_plain_word_closes_the_report(world, body):
    req, ask = _to_reading(world)
    world.reply("li@t.test", ask, body)
    assert refreshed(req).state == CLOSED, body


@pytest.mark.parametrize(("body", "state"), [("同意延期", DOING), ("不同意延期", DOING), ("同意吗？", EXTENDING),
                                             ("阅", EXTENDING), ("好的", EXTENDING)])
def test_the_extension_is_decided_by_the_leader_s_words_only(world, body, state):
    req = world.dispatched()
    coded(world, "zonghe@t.test", req, "申请延期：12月8日前，数据未齐")
    assert refreshed(req).state == EXTENDING
    ask = world.last_to("li@t.test", "延期")
    world.reply("li@t.test", ask, body)
    assert refreshed(req).state == state, body


# ---------------------------------------------------------------- another matter named

def test_a_number_of_another_matter_at_the_head_applies_nothing(world):
    one, two = world.dispatched(), world.dispatched(content="整理消防台账")
    coded(world, "zonghe@t.test", one, f"{two.number} 办结：台账已整理")
    assert refreshed(one).state == DOING and refreshed(two).state == DOING
    assert last_in().ignored
    assert two.number in explained(world, "zonghe@t.test")


def test_the_code_of_another_matter_in_the_subject_applies_nothing(world):
    one, two = world.dispatched(), world.dispatched(content="整理消防台账")
    subject = f"回复：【{one.number}】交办通知单 流转码：{lead_step(two).code}"
    coded(world, "zonghe@t.test", one, "办结：见附件", subject=subject)
    assert refreshed(one).state == DOING and refreshed(two).state == DOING
    subject = f"回复：【{two.number}】交办通知单 流转码：{lead_step(one).code}"
    coded(world, "li@t.test", one, "撤销：重复", subject=subject)
    assert refreshed(one).state == DOING and refreshed(two).state == DOING


def test_a_reply_mixing_two_matters_codes_applies_nothing(world):
    one, two = world.dispatched(), world.dispatched(content="整理消防台账")
    subject = f"回复：【{one.number}】流转码：{lead_step(one).code} 流转码：{lead_step(two).code}"
    coded(world, "zonghe@t.test", one, "办结：两件均已办完", subject=subject)
    subject = f"回复：【{one.number}】流转码：{lead_step(two).code} 流转码：{lead_step(one).code}"
    coded(world, "zonghe@t.test", one, "办结：两件均已办完", subject=subject)
    assert refreshed(one).state == DOING and refreshed(two).state == DOING


def test_a_number_of_another_kind_is_no_keyword(world):
    req = world.dispatched()
    coded(world, "zonghe@t.test", req, "办请〔2026〕1号 办结：见附件")
    assert refreshed(req).state == DOING
    subject = f"回复：【办请〔2026〕1号】交办通知单 流转码：{lead_step(req).code}"
    coded(world, "zonghe@t.test", req, "办结：见附件", subject=subject)
    assert refreshed(req).state == DOING


def test_the_matter_s_own_number_at_the_head_is_fine(world):
    req = world.dispatched()
    coded(world, "zonghe@t.test", req, f"{req.number} 办结：见附件")
    assert refreshed(req).state == CHECKING


# ---------------------------------------------------------------- a leader's new mail: 交办 only by the rule

def _new_count() -> int:
    return Request.select().where(Request.kind == "交办").count()


@pytest.mark.parametrize(("subject", "body"), [
    ("关于购置办公设备的请示", "各位领导：\n拟购置办公设备一批，妥否，请批示。\n交办：不在首行"),
    ("转发：集团简报第12期", "请阅。\n\n---------- 转发的邮件 ----------\n发件人: 宣传部\n主题: 交办：集团简报\n\n交办：这是简报里的字"),
    ("自动回复：外出", "我现在不在办公室，回来后回复。交办"),
    ("通知", "各位：\n\n下周一开会。\n交办：请综合科准备材料"),
    ("关于落实交办事项的请示", "请批示。"),
])
def test_a_leader_s_mail_that_is_no_jiaoban_by_the_rule_is_none(world, subject, body):
    before = _new_count()
    world.send("li@t.test", subject, body)
    assert _new_count() == before, subject


def test_an_auto_reply_from_a_leader_is_no_jiaoban(world):
    from email.message import EmailMessage
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "li@t.test", "office@t.test", "交办：自动回复"
    msg["Auto-Submitted"] = "auto-replied"
    msg["Message-ID"] = make_msgid(domain="t.test")
    msg.set_content("交办：我不在办公室")
    intake.handle(world.app, msg.as_bytes())
    assert _new_count() == 0


# ---------------------------------------------------------------- hostile sizes and characters, bounded in time

def _timed(fn, limit: float):
    start = time.perf_counter()
    out = fn()
    took = time.perf_counter() - start
    assert took < limit, took
    return out


@pytest.mark.slow
def test_a_twenty_thousand_line_requirement_is_registered_in_bounded_time(world):
    body = "交办：整理安全台账\n" + "\n".join(f"要求：第{i}条，逐项核对。" for i in range(20_000))
    _timed(lambda: world.send("li@t.test", "交办：整理安全台账", body), 30)
    req = world.request()
    assert req.kind == "交办" and req.state == VERIFYING
    assert core.task_of(req).content == "整理安全台账"


@pytest.mark.slow
def test_a_five_megabyte_content_is_kept_in_bounds(world):
    body = "交办\n内容：" + "很长的内容" * 1_000_000 + "\n时限：12月4日前"
    _timed(lambda: world.send("li@t.test", "交办", body), 60)
    req = world.request()
    assert req.kind == "交办"
    assert len(core.task_of(req).content) <= 200 and len(req.title) <= 1000


def test_element_lines_by_the_hundred_and_dates_by_the_fifty(world):
    dates = "、".join(f"12月{d % 28 + 1}日前" for d in range(50))
    names = "，".join(f"单位{i}" for i in range(500))
    lines = ["交办：整理台账", f"时限：{dates}", f"协办：{names}"] + [f"要求：第{i}条" for i in range(300)]
    _timed(lambda: world.send("li@t.test", "交办：整理台账", "\n".join(lines)), 30)
    req = world.request()
    task = core.task_of(req)
    assert task.deadline_at is None                 # fifty dates: 待明确, not a guess
    assert len(task.co_units or []) <= 20           # unknown names are findings, not 500 units


def test_a_dispatch_with_fifty_dates_and_five_hundred_co_units_is_refused(world):
    world.send("li@t.test", "交办：整理消防台账", "交办：整理消防台账，综合科牵头，周五前完成。")
    req = world.request()
    verify = world.last_to("clerk@t.test", "核定")
    dates = "、".join(f"12月{d % 28 + 1}日前" for d in range(50))
    names = "，".join(f"单位{i}" for i in range(500))
    _timed(lambda: world.reply("clerk@t.test", verify, f"派发\n时限：{dates}\n协办：{names}"), 30)
    assert refreshed(req).state == VERIFYING


def test_control_characters_in_a_reply_count_as_unseen(world):
    # a mail client shows none of them: what the person sees is what is read, and a doubt stays a doubt
    req = world.dispatched()
    coded(world, "li@t.test", req, "撤\x1b销\x07吗")
    assert refreshed(req).state == DOING
    coded(world, "zonghe@t.test", req, "\x00办\x1b结：见附件\x07")
    assert refreshed(req).state == CHECKING


@pytest.mark.slow
def test_a_huge_reply_is_read_in_bounded_time(world):
    req = world.dispatched()
    body = "进展：" + "数据核对中。" * 200_000 + "\n" + "\n".join(f"第{i}行" for i in range(20_000))
    _timed(lambda: coded(world, "zonghe@t.test", req, body), 30)
    assert refreshed(req).state == DOING and "进展" in opinions(req)


# ---------------------------------------------------------------- the real-mail corpus

_DROP = re.compile(rb"^(from|to|cc|bcc|reply-to|sender|message-id|in-reply-to|references|subject|"
                   rb"x-original-to|delivered-to|return-path):", re.I)


def corpus_files() -> list[Path]:
    files = []
    for folder in RAW_FOLDERS + BODY_FOLDERS:
        files += sorted(p for p in (CORPUS / folder).rglob("*")
                        if p.is_file() and p.suffix in (".eml", ".txt", "") and not p.name.endswith("_reply_text"))
    return files


def _rehead(raw: bytes, headers: dict[str, str]) -> bytes:
    """`raw` with our own From, To, Subject, Message-ID and threading headers; a body-only file becomes the
    text of a plain mail."""
    sep = re.search(rb"\r?\n\r?\n", raw)
    head, body = (raw[:sep.start()], raw[sep.end():]) if sep else (b"", raw)
    if not re.match(rb"^[\x21-\x39\x3b-\x7e]+:", head):       # no header block: a body file
        head, body = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit", raw
    kept, drop = [], False
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t"):
            if not drop:
                kept.append(line)
            continue
        drop = bool(_DROP.match(line))
        if not drop:
            kept.append(line)
    ours = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("utf-8")
    return ours + b"\r\n".join(kept) + b"\r\n\r\n" + body


def as_reply(raw: bytes, sender: str, req, n: int) -> bytes:
    from email.header import Header
    subject = Header(f"回复：【{req.number}】交办通知单 流转码：{lead_step(req).code}", "utf-8").encode()
    return _rehead(raw, {"From": sender, "To": "office@t.test", "Subject": subject,
                         "Message-ID": f"<corpus-{n}-{sender}@t.test>"})


def as_new(raw: bytes, sender: str, n: int) -> bytes:
    m = re.search(rb"^subject:(.*(?:\r?\n[ \t].*)*)", raw, re.I | re.M)
    subject = m.group(1).strip().decode("ascii", "replace") if m else ""
    return _rehead(raw, {"From": sender, "To": "office@t.test", "Subject": subject or "(no subject)",
                         "Message-ID": f"<corpus-new-{n}@t.test>"})


def outcome(req) -> str:
    """What the mail did to the matter: the state it moved to, else the last record of it, else 'ignored'."""
    state = refreshed(req).state
    if state != DOING:
        return {CHECKING: "办结", CANCELLED: "撤销", EXTENDING: "申请延期"}.get(state, state)
    found = opinions(req)
    return found[-1] if found else "ignored"


def _corpus(world, sender: str) -> tuple[collections.Counter, dict]:
    require_corpus()
    counts, shown = collections.Counter(), collections.defaultdict(list)
    for n, path in enumerate(corpus_files()):
        req = world.dispatched()
        result = intake.handle(world.app, as_reply(path.read_bytes(), sender, req, n))
        assert result in (intake.PROCESSED, intake.FAILED), path
        got = outcome(req)
        counts[got] += 1
        shown[got].append(path.name)
    print(f"corpus as replies from {sender}:", dict(counts))
    return counts, shown


def _recorded_all(n: int) -> None:
    incoming = Mail.select().where(Mail.direction == "in")
    assert incoming.count() >= n
    assert not [m.action for m in incoming if m.action.startswith("处理出错")]
    assert all(m.action for m in incoming), "every mail is on record with what it did"


@pytest.mark.slow
def test_the_corpus_as_the_lead_unit_s_replies_reports_nothing(world):
    counts, shown = _corpus(world, "zonghe@t.test")
    _recorded_all(sum(counts.values()))
    assert sum(counts.values()) > 1000
    # no real mail starts with 办结/复命, 申请延期 or 申请改派: none is applied as such
    assert counts["办结"] == 0, shown["办结"]
    assert counts["申请延期"] == 0 and counts["申请改派"] == 0, (shown["申请延期"], shown["申请改派"])
    assert counts["撤销"] == 0
    # the rest is recorded as 进展 or 签收 (any text from an assigned unit), or ignored (automatic mail)
    assert set(counts) <= {"进展", "签收", "ignored", "请求协调"}, counts


@pytest.mark.slow
def test_the_corpus_as_the_leader_s_replies_withdraws_nothing(world):
    counts, shown = _corpus(world, "li@t.test")
    _recorded_all(sum(counts.values()))
    assert counts["撤销"] == 0, shown["撤销"]
    assert counts["更正"] == 0, shown["更正"]
    assert set(counts) <= {"ignored"}, counts


@pytest.mark.slow
def test_the_corpus_as_a_leader_s_new_mail_makes_no_jiaoban(world):
    require_corpus()
    files = corpus_files()
    for n, path in enumerate(files):
        assert intake.handle(world.app, as_new(path.read_bytes(), "li@t.test", n)) in (intake.PROCESSED,
                                                                                         intake.FAILED)
    _recorded_all(len(files))
    made = [r.title for r in Request.select().where(Request.kind == "交办")]
    assert made == [], made[:20]


def test_element_lines_of_hostile_text_are_split_in_bounded_time():
    text = "\n".join(["交办：整理台账"] + [f"要求：第{i}条" for i in range(300)] + ["正文" * 10] * 20_000)
    found, rest = _timed(lambda: elements.split_text(text), 2)
    assert len(found["要求"]) == 300 and rest.count("\n") == 20_000


# ---------------------------------------------------------------- element lines of a 更正 or 派发

@pytest.mark.parametrize("body", ["更正：\n时限：12月8日前\n时限：12月10日前", "更正：\n承办：安全科\n承办：财务科",
                                  "更正：\n时限：12月8日前？", "更正：\n时限：是否改为12月8日前", "更正？\n时限：12月8日前"])
def test_a_correction_that_leaves_its_value_open_changes_nothing(world, body):
    req = world.dispatched()
    before = core.task_of(req)
    coded(world, "li@t.test", req, body)
    after = core.task_of(req)
    assert (after.deadline_at, after.lead) == (before.deadline_at, before.lead), body
    assert not any("变更" in m.subject for m in world.mails_to("zonghe@t.test"))
    told = explained(world, "li@t.test")
    assert "为防误办，请予明确" in told


def test_a_correction_keeps_every_requirement_line(world):
    req = world.dispatched()
    coded(world, "li@t.test", req, "更正：\n要求：突出问题整改。\n要求：不超过两页。")
    assert core.task_of(req).requirements == "突出问题整改。\n不超过两页。"


def test_the_same_line_twice_is_no_doubt(world):
    req = world.dispatched()
    coded(world, "li@t.test", req, "更正：\n时限：12月8日前\n时限：12月8日前")
    assert core.task_of(req).deadline_at.day == 8


def test_a_dispatch_asking_about_its_deadline_is_not_dispatched(world):
    world.send("li@t.test", "交办：整理消防台账", "交办：整理消防台账，综合科牵头，周五前完成。")
    req = world.request()
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "核定"), "派发\n时限：12月8日前？\n承办：综合科")
    assert refreshed(req).state == VERIFYING
    assert "问句" in explained(world, "clerk@t.test")


def test_five_hundred_unknown_names_are_counted_not_listed(world):
    world.send("li@t.test", "交办：整理消防台账", "交办：整理消防台账，综合科牵头，周五前完成。")
    req = world.request()
    names = "，".join(f"单位{i}" for i in range(500))
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "核定"), f"派发\n时限：12月8日前\n承办：综合科\n协办：{names}")
    assert refreshed(req).state == VERIFYING
    told = explained(world, "clerk@t.test")
    assert "“单位0”不在单位名单中" in told and "另有490个名称" in told and "单位499" not in told


# ---------------------------------------------------------------- the 三要素 proposed from a leader's words

@pytest.mark.parametrize(("text", "leads", "cos"), [
    ("请综合科牵头，安全科配合，本周五前拿出通报初稿。", ["zonghe"], ["anquan"]),
    ("不要综合科牵头，请安全科负责。", ["anquan"], []),
    ("综合科牵头还是安全科牵头？", [], []),
    ("是否请安全科配合？综合科牵头。", ["zonghe"], []),
    ("这次不由综合科牵头了，改由财务科负责", ["caiwu"], []),
    ("无需财务科参与，综合科负责即可", ["zonghe"], []),
    ("请综合科牵头，财务科不必参与。", ["zonghe"], []),
])
def test_a_unit_cue_negated_or_asked_is_not_proposed(world, text, leads, cos):
    got = elements.units_in_text(text, world.app.directory, "clerk@t.test")
    assert got == ([f"{x}@t.test" for x in leads], [f"{x}@t.test" for x in cos])


def test_an_invisible_character_before_the_head_line_is_no_obstacle(world):
    world.send("li@t.test", "通报", "\u200b交办：起草年度安全生产检查通报，综合科牵头，周五前。")
    assert world.request().kind == "交办"
    assert core.task_of(world.request()).lead == "zonghe@t.test"


# ---------------------------------------------------------------- keywords in the quote of a real notice

def _dispatched_by_mail(world):
    world.send("li@t.test", "交办：年度安全生产检查通报", "请综合科牵头，安全科配合，本周五前拿出通报初稿，突出问题整改，不超过两页。")
    req = world.request()
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "核定"), "派发")
    assert refreshed(req).state == DOING
    return req, world.last_to("zonghe@t.test", "交办")


def _html_only(sender: str, original, html: str) -> bytes:
    import base64
    from email.header import Header
    subject = Header("回复：" + original.subject, "utf-8").encode()
    body = base64.encodebytes(f"<html><body>{html}</body></html>".encode()).decode("ascii")
    return (f"From: {sender}\r\nTo: office@t.test\r\nSubject: {subject}\r\n"
            f"Message-ID: {make_msgid(domain='t.test')}\r\n"
            f"In-Reply-To: <{original.message_id}>\r\nReferences: <{original.message_id}>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{body}").encode()


def test_the_notice_s_own_words_in_a_quote_report_nothing(world):
    req, notice = _dispatched_by_mail(world)
    assert "办结" in notice.text                    # the notice tells how to report: its words are in every quote
    for body in ("", "好的", "收到，谢谢", "李主任：\n好的"):
        world.reply("zonghe@t.test", notice, body)
        assert refreshed(req).state == DOING, body
    assert core.round_of(req, 1).reported_at is None


def test_the_receipt_s_own_words_in_a_quote_withdraw_nothing(world):
    world.send("li@t.test", "交办：整理消防台账", "请综合科牵头，周五前完成。")
    req = world.request()
    receipt = world.last_to("li@t.test", "登记")
    assert "撤销" in receipt.text
    for body in ("", "好的", "谢谢", "OK"):
        world.reply("li@t.test", receipt, body)
        assert refreshed(req).state == VERIFYING, body


def test_an_html_only_reply_is_read_above_its_quote(world):
    req, notice = _dispatched_by_mail(world)
    quote = ("<div id=\"original-content\"><div>------------------&nbsp;原始邮件&nbsp;------------------</div>"
             "<div>办结：请于12月4日前办结并报告结果</div></div>")
    intake.handle(world.app, _html_only("zonghe@t.test", notice, f"<div>好的</div>{quote}"))
    assert refreshed(req).state == DOING
    intake.handle(world.app, _html_only("zonghe@t.test", notice, f"<div>办结了吗？</div>{quote}"))
    assert refreshed(req).state == DOING
    intake.handle(world.app, _html_only("zonghe@t.test", notice, f"<div>李主任：</div><div>办结：通报初稿见附件</div>{quote}"))
    assert refreshed(req).state == CHECKING


def test_the_leader_is_answered_with_the_word_written(world):
    req, ask = _to_reading(world)
    world.reply("li@t.test", ask, "收到")
    assert refreshed(req).state == READING
    assert "“收到”" in explained(world, "li@t.test")


@pytest.mark.slow
def test_the_corpus_new_texts_hold_no_decisive_word():
    """Every real mail's new text, read as a 交办 reply: counted by word; none of them decides anything."""
    require_corpus()
    from daemon import mime, replies
    from daemon.flows.base import number_pattern
    from daemon.jiaoban.reader import DECISIVE, read
    numbers = number_pattern("督办〔{year}〕{seq}号")
    counts, decided = collections.Counter(), []
    for n, path in enumerate(corpus_files()):
        raw = _rehead(path.read_bytes(), {"From": "zonghe@t.test", "Subject": "x", "Message-ID": f"<w{n}@t.test>"})
        try:
            mail = mime.parse(raw)
        except mime.MailParseError:
            counts["unreadable"] += 1
            continue
        said = read(replies.new_text(mail), numbers)
        counts[said.word.name] += 1
        if said.word in DECISIVE:
            decided.append((path.name, said.new_text[:80]))
    print("corpus new texts by word:", dict(counts))
    assert sum(counts.values()) > 1000
    assert decided == []


@pytest.mark.parametrize(("line", "word"), [("办结：通报初稿见附件", "REPORT"), ("办结了吗？", "DOUBT"),
                                            ("撤销，可以吗？", "DOUBT"), ("好的", "TEXT")])
def test_a_line_typed_above_every_real_quote_is_what_is_read(line, word):
    """The body files of the corpus (real quotes of many clients) with one line typed above them: that line, and
    nothing from the quote below, decides the reading."""
    require_corpus()
    from daemon import mime, replies
    from daemon.jiaoban.reader import read
    files = [p for folder in BODY_FOLDERS for p in sorted((CORPUS / folder).rglob("*.txt"))]
    wrong = []
    for n, path in enumerate(files):
        body = path.read_bytes().decode("utf-8", "replace")
        raw = (f"From: zonghe@t.test\r\nTo: office@t.test\r\nSubject: x\r\nMessage-ID: <b{n}@t.test>\r\n"
               "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
               f"{line}\n\n{body}").encode("utf-8")
        said = read(replies.new_text(mime.parse(raw)))
        if said.word.name != word:
            wrong.append((path.name, said.word.name))
    assert len(files) > 300
    assert wrong == []


FIFTY_DATES = "、".join(f"12月{d % 28 + 1}日前" for d in range(50))


def test_an_extension_asked_with_fifty_dates_is_refused(world):
    req = world.dispatched()
    _timed(lambda: coded(world, "zonghe@t.test", req, f"申请延期：{FIFTY_DATES}，数据未齐"), 10)
    assert refreshed(req).state == DOING
    assert "未能确定申请延至何时" in explained(world, "zonghe@t.test")


def test_a_correction_with_fifty_dates_changes_nothing(world):
    req = world.dispatched()
    before = core.task_of(req).deadline_at
    _timed(lambda: coded(world, "li@t.test", req, f"更正：\n时限：{FIFTY_DATES}"), 10)
    assert core.task_of(req).deadline_at == before


def test_an_extension_granted_with_fifty_dates_is_asked_about(world):
    req = world.dispatched()
    coded(world, "zonghe@t.test", req, "申请延期：12月8日前，数据未齐")
    before = core.task_of(req).deadline_at
    world.reply("li@t.test", world.last_to("li@t.test", "延期"), f"同意\n时限：{FIFTY_DATES}")
    assert refreshed(req).state == EXTENDING and core.task_of(req).deadline_at == before


def test_a_number_alone_above_the_word_must_be_this_matter_s(world):
    one, two = world.dispatched(), world.dispatched(content="整理消防台账")
    coded(world, "zonghe@t.test", one, f"{two.number}\n办结：台账已整理")
    assert refreshed(one).state == DOING and refreshed(two).state == DOING
    coded(world, "zonghe@t.test", one, f"{one.number}\n办结：通报初稿见附件")
    assert refreshed(one).state == CHECKING


def test_the_leader_asked_about_a_doubt_decides_by_answering_the_question(world):
    req, ask = _to_reading(world)
    world.reply("li@t.test", ask, "阅。退回重写")
    assert refreshed(req).state == READING
    question = world.mails_to("li@t.test")[-1]
    assert "看不出是办结还是继续办理" in question.text and "继续办理：" in question.text
    world.reply("li@t.test", question, "阅，请印发")
    assert refreshed(req).state == CLOSED


FORWARDED = {
    "qq": "------------------ 原始邮件 ------------------\n发件人: \"宣传部\"<xc@t.test>;\n发送时间: 2026年11月30日\n"
          "主题: 关于开展检查的通知\n\n",
    "outlook": "发件人: 宣传部 <xc@t.test>\n发送时间: 2026年11月30日 9:30\n收件人: 李副总\n主题: 关于开展检查的通知\n\n",
    "gmail": "---------- Forwarded message ---------\nFrom: 宣传部 <xc@t.test>\nDate: 2026年11月30日\n"
             "Subject: 关于开展检查的通知\n\n",
    "163": "-----原始邮件-----\n发件人:\"宣传部\" <xc@t.test>\n发送时间:2026-11-30 09:30:12\n主题: 关于开展检查的通知\n\n",
    "cn": "---------- 转发的邮件 ----------\n发件人: 宣传部\n主题: 关于开展检查的通知\n\n",
}


@pytest.mark.parametrize("client", sorted(FORWARDED))
def test_element_lines_of_a_forwarded_mail_are_not_the_leader_s(world, client):
    inner = "承办：财务科\n协办：安全科\n时限：12月3日前\n要求：全部重写\n撤销：上一份通知\n交办：另一件事"
    world.send("li@t.test", "转发：关于开展检查的通知", f"交办：请综合科牵头落实，周五前。\n\n{FORWARDED[client]}{inner}")
    task = core.task_of(world.request())
    assert (task.lead, task.co_units) == ("zonghe@t.test", [])
    assert task.deadline_at.day == 4 and "全部重写" not in task.requirements
    assert _new_count() == 1


def test_a_subject_stuffed_with_codes_and_numbers_applies_nothing_in_bounded_time(world):
    req = world.dispatched()
    code = lead_step(req).code
    subject = f"回复：【{req.number}】流转码：{code} " + " ".join(f"流转码：Z{i:05d}" for i in range(1000))
    _timed(lambda: coded(world, "zonghe@t.test", req, "办结：见附件", subject=subject), 10)
    assert refreshed(req).state == DOING
    other = world.dispatched(content="整理消防台账")
    subject = f"回复：【{req.number}】流转码：{code} " + f"{other.number}、" * 500
    _timed(lambda: coded(world, "zonghe@t.test", req, "办结：见附件", subject=subject), 10)
    assert refreshed(req).state == DOING and refreshed(other).state == DOING
    assert last_in().ignored
    # numbers of no matter at all point nowhere else: the mail is this matter's
    subject = f"回复：【{req.number}】流转码：{code} " + "督办〔2026〕99号" * 500
    coded(world, "zonghe@t.test", req, "办结：见附件", subject=subject)
    assert refreshed(req).state == CHECKING

"""复命, 核报, 阅示 and rounds of a 交办 (SPEC §6.2 steps 6–8): in process, through intake, with World."""

from __future__ import annotations

from datetime import datetime

import pytest
from jiaoban_world import World, world  # noqa: F401 - the office in process

from daemon import models
from daemon.jiaoban import (CHECK, CHECKING, CLOSED, CO, DOING, LEAD, READ, READING, VERIFY, VERIFYING, core,
                            dispatch, report)
from daemon.jiaoban.core import EXTENDED, LATE, ON_TIME, result_of
from daemon.jiaoban.report import missing_attachments
from daemon.models import APPROVED_STEP, DeadlineChange, Mail, Opinion, Round, Step

CST = "+08:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + CST)


def step_of(req, kind, holder=None) -> Step:
    steps = [s for s in core.active_steps(req, kind) if holder is None or holder in s.approvers]
    assert steps, (kind, [(s.kind, s.approvers) for s in core.active_steps(req)])
    return steps[0]


def subject(req, step, what="交办通知") -> str:
    return f"回复：【{req.number}】{what} 〔流转码：{step.code}〕"


def by_code(world, sender, req, kind, body, holder=None, **kw):
    """A reply carrying the code of the active step of `kind` in its subject (no mail of ours answered)."""
    step = step_of(req, kind, holder or sender)
    return world.send(sender, subject(req, step), body, **kw)


def reported(world, monkeypatch, when="2026-12-04T16:40:00", text="通报初稿见附件。", **kw):
    req = world.dispatched(**kw)
    monkeypatch.setenv("OFFICEFLOW_NOW", when + CST)
    by_code(world, "zonghe@t.test", req, LEAD, f"办结：{text}",
            attachments=[("通报初稿.docx", b"draft")])
    return world.request(req.number)


def checked(world, monkeypatch, when="2026-12-04T17:00:00", **kw):
    req = reported(world, monkeypatch, **kw)
    monkeypatch.setenv("OFFICEFLOW_NOW", when + CST)
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "请核报"), "核报\n核报意见：按要求完成，建议印发。")
    return world.request(req.number)


# ---- the result rule --------------------------------------------------------------------------------------

DEADLINE = at("2026-12-04T17:30:00")
EXTENDED_TO = at("2026-12-09T17:30:00")


@pytest.mark.parametrize("reported_at, base, in_force, result", [
    (at("2026-12-04T16:40:00"), DEADLINE, DEADLINE, ON_TIME),
    (DEADLINE, DEADLINE, DEADLINE, ON_TIME),                                  # on the deadline minute
    (at("2026-12-04T17:31:00"), DEADLINE, DEADLINE, LATE),                    # a minute after
    (at("2026-12-07T09:00:00"), DEADLINE, DEADLINE, LATE),
    (at("2026-12-07T09:00:00"), DEADLINE, EXTENDED_TO, EXTENDED),             # within a granted extension
    (EXTENDED_TO, DEADLINE, EXTENDED_TO, EXTENDED),
    (at("2026-12-10T09:00:00"), DEADLINE, EXTENDED_TO, LATE),                 # after the extension too
    (at("2026-12-03T09:00:00"), DEADLINE, EXTENDED_TO, ON_TIME),              # extended, but in time anyway
    (at("2026-12-04T16:00:00"), None, DEADLINE, ON_TIME),                     # no base: the deadline in force
    (None, DEADLINE, DEADLINE, ""),                                           # no report, no result
    (at("2026-12-10T09:00:00"), None, None, ON_TIME),                         # no deadline at all: never late
])
def test_result_of(reported_at, base, in_force, result):
    assert result_of(reported_at, base, in_force) == result


@pytest.mark.parametrize("text, names, missing", [
    ("通报初稿见附件。", ["通报初稿.docx"], []),
    ("通报初稿见附件。", [], ["报告提及的附件"]),
    ("附件：问题清单.xlsx、整改台账.xlsx", ["问题清单.xlsx"], ["整改台账.xlsx"]),
    ("详见附件1、附件2", ["a.pdf"], ["附件2"]),
    ("已按期完成。", [], []),
])
def test_missing_attachments(text, names, missing):
    assert missing_attachments(text, names) == missing


def test_a_doubtful_close_is_asked():
    assert report.doubtful("但请补充整改措施")
    assert report.doubtful("请补充完善后再报")
    assert not report.doubtful("请印发")
    assert not report.doubtful("")


# ---- step 6: 复命 -------------------------------------------------------------------------------------------

def test_the_lead_units_report_goes_to_the_office_for_checking(world, monkeypatch):
    req = world.dispatched()
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-02T09:00:00+08:00")
    # 进展 and 协办完毕 are another module's: their record stands in for them
    Opinion.create(request=req, person="anquan@t.test", name="安全科", decision="协办完毕", text="问题清单已报综合科",
                   at=at("2026-12-02T09:00:00"))
    Opinion.create(request=req, person="zonghe@t.test", name="综合科", decision="进展", text="初稿已成，正在修改",
                   at=at("2026-12-03T10:00:00"))
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-04T16:40:00+08:00")
    by_code(world, "zonghe@t.test", req, LEAD, "办结：通报初稿见附件，附件2为问题清单。",
            attachments=[("通报初稿.docx", b"draft")])
    req = world.request()
    assert req.state == CHECKING
    rnd = Round.get(Round.request == req)
    assert rnd.report == "通报初稿见附件，附件2为问题清单。" and rnd.reported_at == at("2026-12-04T16:40:00")
    assert [(s.kind, s.approvers) for s in core.active_steps(req)] == [(CHECK, ["clerk@t.test"])]
    assert Step.get((Step.request == req) & (Step.kind == LEAD)).state == APPROVED_STEP
    assert Opinion.select().where((Opinion.request == req) & (Opinion.decision == "办结")).count() == 1
    mail = world.last_to("clerk@t.test", "请核报")
    assert step_of(req, CHECK).code in mail.subject
    assert [a.filename for a in mail.attachments] == ["通报初稿.docx"]
    for part in ("按期", "突出问题整改", "不超过两页", "安全科：已报协办完毕", "初稿已成，正在修改", "附件2",
                 "不失真", "不吹嘘", "不邀利", "质量", "速度", "影响", "派发（办公室）", "12月4日（周五）17:30前"):
        assert part in mail.text, part
    record = Mail.select().where((Mail.direction == "in") & (Mail.request == req)).order_by(Mail.id.desc()).get()
    assert record.kind == report.REPORT_KIND and not record.ignored


def test_a_late_report_says_how_many_working_days(world, monkeypatch):
    req = reported(world, monkeypatch, when="2026-12-08T10:00:00")          # Tuesday after a Friday deadline
    assert req.state == CHECKING
    text = world.last_to("clerk@t.test", "请核报").text
    assert "逾期 2 个工作日" in text and "安全科：未报协办完毕" in text


def test_an_empty_report_is_refused(world, monkeypatch):
    req = world.dispatched()
    by_code(world, "zonghe@t.test", req, LEAD, "办结")
    assert world.request().state == DOING
    assert "未写明办理情况" in world.last_to("zonghe@t.test", "未能办理").text


def test_the_head_checks_when_the_office_is_the_lead_unit(world, monkeypatch):
    req = world.dispatched(lead="clerk@t.test", co_units=())
    by_code(world, "clerk@t.test", req, LEAD, "办结：已办理完毕。")
    req = world.request()
    assert step_of(req, CHECK, "director@t.test").approvers == ["director@t.test"]
    assert "请主任核报" in world.last_to("director@t.test", "请核报").text


# ---- step 7: 核报 / 退回 -------------------------------------------------------------------------------------

def test_checked_goes_before_the_leader(world, monkeypatch):
    req = checked(world, monkeypatch)
    assert req.state == READING
    rnd = Round.get(Round.request == req)
    assert rnd.check_opinion == "按要求完成，建议印发。" and rnd.checked_by == "clerk@t.test"
    read = step_of(req, READ, "li@t.test")
    mail = world.last_to("li@t.test", "请阅示")
    assert read.code in mail.subject and "按期" in mail.subject
    assert world.last_to("zhao@t.test", "请阅示").message_id == mail.message_id       # the delegate copied
    assert [a.filename for a in mail.attachments] == ["通报初稿.docx"]
    for part in ("李副总：", "请阅示", "通报初稿见附件", "按要求完成，建议印发。", "核报", "“阅”"):
        assert part in mail.text, part


def test_a_check_without_the_code_does_nothing(world, monkeypatch):
    req = reported(world, monkeypatch)
    world.send("clerk@t.test", f"【{req.number}】核报", "核报")
    assert world.request().state == CHECKING


def test_sent_back_with_a_new_deadline(world, monkeypatch):
    reported(world, monkeypatch)
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-04T17:10:00+08:00")
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "请核报"),
                "退回：请补充问题整改的具体措施。\n时限：12月8日前")
    req = world.request()
    assert req.state == DOING
    task = core.task_of(req)
    assert task.round == 1 and task.deadline_at == at("2026-12-08T17:30:00")
    rnd = Round.get(Round.request == req)
    assert rnd.deadline_at == rnd.base_deadline_at == at("2026-12-08T17:30:00")
    change = DeadlineChange.select().where(DeadlineChange.how == "退回").get()
    assert change.by == "clerk@t.test" and change.old_at == at("2026-12-04T17:30:00")
    lead = step_of(req, LEAD, "zonghe@t.test")
    assert [s.approvers for s in core.active_steps(req, CO)] == [["anquan@t.test"]]     # it had not finished
    mail = world.last_to("zonghe@t.test", "退回")
    assert lead.code in mail.subject and "请补充问题整改的具体措施" in mail.text
    assert "12月8日（周二）17:30前" in mail.subject and "\n　　办理时限调整为12月8日（周二）17:30前" in mail.text
    assert "anquan@t.test" in [a for r in Mail.select().where(Mail.kind == "jb_sent_back") for a in r.rcpts]
    # the lead unit reports again, on time against the new base
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-07T11:00:00+08:00")
    world.reply("zonghe@t.test", mail, "办结：已补充整改措施。")
    req = world.request()
    assert req.state == CHECKING
    assert "12月4日 17:10 退回（办公室）" in world.last_to("clerk@t.test", "请核报").text
    assert Round.get(Round.request == req).reported_at == at("2026-12-07T11:00:00")


def test_sent_back_keeps_the_deadline_without_a_line(world, monkeypatch):
    reported(world, monkeypatch)
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "请核报"), "退回：请压缩到两页。")
    req = world.request()
    assert req.state == DOING and core.task_of(req).deadline_at == DEADLINE
    assert not DeadlineChange.select().where(DeadlineChange.how == "退回").exists()
    assert "办理时限不变" in world.last_to("zonghe@t.test", "退回").text


def test_a_deadline_that_would_cross_the_year_is_asked_for_its_year(world, monkeypatch):
    reported(world, monkeypatch)
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "请核报"), "退回：请修改。\n时限：12月3日前")
    assert world.request().state == CHECKING
    assert "2027年12月3日前" in world.last_to("clerk@t.test", "未能办理").text


def test_sent_back_with_a_past_deadline_is_refused(world, monkeypatch):
    reported(world, monkeypatch)
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "请核报"), "退回：请修改。\n时限：2026年12月3日前")
    assert world.request().state == CHECKING
    assert "已过" in world.last_to("clerk@t.test", "未能办理").text


# ---- step 8: 阅示 -----------------------------------------------------------------------------------------

def test_read_closes_with_the_instruction(world, monkeypatch):
    req = checked(world, monkeypatch)
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-07T09:00:00+08:00")
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "阅，请印发")
    req = world.request()
    assert req.state == CLOSED and not core.active_steps(req)
    rnd = Round.get(Round.request == req)
    assert rnd.instruction == "请印发" and rnd.result == ON_TIME and not rnd.deemed
    assert rnd.read_at == at("2026-12-07T09:00:00")
    for who in ("zonghe@t.test", "anquan@t.test", "clerk@t.test"):
        mail = world.last_to(who, "已办结")
        assert "请印发" in mail.text and "按期" in mail.subject
    # a repeated 阅 changes nothing and says so
    n = len(world.mails_to("zonghe@t.test"))
    world.reply("zhao@t.test", world.last_to("li@t.test", "请阅示"), "已阅")
    assert world.request().state == CLOSED
    assert len(world.mails_to("zonghe@t.test")) == n
    assert "已办结" in world.last_to("zhao@t.test", "未作处理").text
    assert Round.get(Round.request == req).instruction == "请印发"
    assert Opinion.get(Opinion.decision == "阅示").name == "李副总"


@pytest.mark.parametrize("word", ["已阅", "同意", "办结", "可以"])
def test_every_closing_word_closes(world, monkeypatch, word):
    req = checked(world, monkeypatch)
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), word)
    assert world.request(req.number).state == CLOSED


def test_the_delegate_may_close(world, monkeypatch):
    req = checked(world, monkeypatch)
    world.reply("zhao@t.test", world.last_to("li@t.test", "请阅示"), "阅")
    assert world.request(req.number).state == CLOSED
    assert Opinion.get(Opinion.decision == "阅示").name == "赵秘书（代李副总）"


def test_an_ambiguous_close_is_asked_about(world, monkeypatch):
    req = checked(world, monkeypatch)
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "阅，但请补充下一步整改计划")
    req = world.request()
    assert req.state == READING
    mail = world.last_to("li@t.test", "请明确批示")
    assert step_of(req, READ).code in mail.subject and "既可理解为同意办结" in mail.text
    world.reply("li@t.test", mail, "阅")             # answering the question closes
    assert world.request().state == CLOSED


def test_other_text_on_the_read_mail_tells_the_leader_what_to_write(world, monkeypatch):
    checked(world, monkeypatch)
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "这个报告写得不错")
    assert world.request().state == READING
    assert "“阅”" in world.last_to("li@t.test", "请明确批示").text


def test_a_forged_read_from_another_leader_is_not_applied(world, monkeypatch):
    checked(world, monkeypatch)
    world.reply("wang@t.test", world.last_to("li@t.test", "请阅示"), "阅")
    assert world.request().state == READING
    assert world.last_to("clerk@t.test", "可疑")
    record = Mail.select().where((Mail.direction == "in") & (Mail.sender == "wang@t.test")).get()
    assert record.ignored and "冒用" in record.action


# ---- rounds -----------------------------------------------------------------------------------------------

def test_continue_with_a_deadline_dispatches_the_next_round(world, monkeypatch):
    sent = []
    monkeypatch.setattr(dispatch, "send_notices", lambda app, req, task, steps, how="派发": sent.append((steps, how)),
                        raising=False)
    req = checked(world, monkeypatch)
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-07T09:00:00+08:00")
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "继续办理：请补充各分公司整改情况\n时限：12月11日前")
    req = world.request()
    task = core.task_of(req)
    assert req.state == DOING and task.round == 2 and task.requirements == "请补充各分公司整改情况"
    assert task.deadline_at == at("2026-12-11T17:30:00")
    second = Round.get((Round.request == req) & (Round.number == 2))
    assert second.deadline_at == second.base_deadline_at == task.deadline_at and second.dispatched_at
    first = Round.get((Round.request == req) & (Round.number == 1))
    assert first.instruction == "请补充各分公司整改情况" and first.reported_at
    assert first.read_at is None and first.result == ""          # reopened, not closed
    steps = core.active_steps(req)
    assert [(s.kind, s.round) for s in steps] == [(LEAD, 2), (CO, 2)]
    assert sent == [(steps, "继续办理")]
    assert DeadlineChange.select().where(DeadlineChange.how == "新一轮").get().by == "li@t.test"
    assert Opinion.get(Opinion.decision == "继续办理").text == "请补充各分公司整改情况\n时限：12月11日前"


def test_continue_without_a_deadline_goes_back_to_the_office(world, monkeypatch):
    req = checked(world, monkeypatch)
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "不同意：请重新核实数据")
    req = world.request()
    task = core.task_of(req)
    assert req.state == VERIFYING and task.round == 2 and task.deadline_at is None
    verify = step_of(req, VERIFY, "clerk@t.test")
    assert verify.round == 2
    mail = world.last_to("clerk@t.test", "请核定第2轮")
    assert verify.code in mail.subject and "请重新核实数据" in mail.text
    assert "另行通知" in world.last_to("zonghe@t.test", "继续办理通知").text


def test_continue_after_closure_starts_the_next_round(world, monkeypatch):
    req = checked(world, monkeypatch)
    read_mail = world.last_to("li@t.test", "请阅示")
    world.reply("li@t.test", read_mail, "阅")
    assert world.request().state == CLOSED
    world.reply("li@t.test", read_mail, "重办：请按集团新要求修改")
    req = world.request()
    assert req.state == VERIFYING and core.task_of(req).round == 2 and req.closed_at is None
    assert Round.get((Round.request == req) & (Round.number == 1)).result == ON_TIME


def test_continue_without_text_changes_nothing(world, monkeypatch):
    req = checked(world, monkeypatch)
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "继续办理")
    req = world.request()
    assert req.state == READING and core.task_of(req).round == 1
    assert "未写明继续办理的要求" in world.last_to("li@t.test", "请明确批示").text


# ---- 视为办结 -----------------------------------------------------------------------------------------------

def test_deemed_closed_after_the_leaders_silence(world, monkeypatch):
    req = checked(world, monkeypatch)                 # 请阅示 sent Friday 12-04 17:00; deem_closed_after = 5d
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-11T16:59:00+08:00")
    assert report.deem_closed_due(world.app) == 0
    assert world.request().state == READING
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-11T17:00:00+08:00")
    with models.db.atomic():
        assert report.deem_closed_due(world.app) == 1
    req = world.request()
    assert req.state == CLOSED
    rnd = Round.get(Round.request == req)
    assert rnd.deemed and rnd.result == ON_TIME and rnd.instruction == ""
    assert Opinion.get(Opinion.text == report.DEEMED).name == "系统"
    assert "视为办结" in world.last_to("zonghe@t.test", "视为办结").text
    assert report.deem_closed_due(world.app) == 0        # idempotent
    assert Step.get((Step.request == req) & (Step.kind == READ)).state == APPROVED_STEP


def test_a_step_claimed_by_another_daemon_is_not_closed_twice(world, monkeypatch):
    req = checked(world, monkeypatch)
    read = step_of(req, READ)
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-14T09:00:00+08:00")
    Step.update(state=APPROVED_STEP).where(Step.id == read.id).execute()     # the other daemon got there first
    assert report.deem_closed_due(world.app) == 0
    assert world.request().state == READING


def test_never_deemed_closed_when_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-01T10:12:00+08:00")
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    world = World(tmp_path, extra='[jiaoban]\ndeem_closed_after = ""')
    try:
        req = checked(world, monkeypatch)
        monkeypatch.setenv("OFFICEFLOW_NOW", "2027-01-29T09:00:00+08:00")
        assert report.deem_closed_due(world.app) == 0
        assert world.request(req.number).state == READING
    finally:
        models.close()


def test_the_one_tap_buttons_decide_as_a_reply_does(world, monkeypatch):
    """A button opens a new mail whose subject carries the number and the step's code (no threading headers)."""
    req = checked(world, monkeypatch)
    html = world.last_to("li@t.test", "请阅示").html
    code = step_of(req, READ).code
    assert f"%E3%80%94%E6%B5%81%E8%BD%AC%E7%A0%81%EF%BC%9A{code}" in html          # 〔流转码：CODE in the mailto:
    world.send("li@t.test", f"【{req.number}】答复 〔流转码：{code}〕", "阅")
    assert world.request().state == CLOSED


def test_a_read_after_the_timer_took_the_step_changes_nothing(world, monkeypatch):
    req = checked(world, monkeypatch)
    read_mail = world.last_to("li@t.test", "请阅示")
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-14T09:00:00+08:00")
    with models.db.atomic():
        assert report.deem_closed_due(world.app) == 1
    world.reply("li@t.test", read_mail, "阅，请印发")
    rnd = Round.get(Round.request == req)
    assert rnd.deemed and rnd.instruction == ""
    assert len([m for m in world.mails_to("zonghe@t.test") if "办结" in m.subject]) == 1
    assert "未改变办理结果" in world.last_to("li@t.test", "未作处理").text


def test_claiming_a_taken_step_fails(world, monkeypatch):
    req = checked(world, monkeypatch)
    step = step_of(req, READ)
    assert report.claim(step, "li@t.test") and step.state == APPROVED_STEP
    assert not report.claim(Step.get_by_id(step.id), "")

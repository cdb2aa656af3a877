"""撤销 and 更正 of a 交办 (SPEC §6.2 step 9), and why a mail about one did nothing (§6.9): in process, through
intake, with World."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime
from types import SimpleNamespace

import pytest
from jiaoban_world import World, world  # noqa: F401 - the office in process

from daemon import mailstore, models
from daemon.jiaoban import (CANCELLED, CHECK, CHECKING, CLOSED, CO, DOING, LEAD, READING, VERIFY, VERIFYING, core,
                            dispatch)
from daemon.models import DeadlineChange, Mail, Opinion, Outbox, Round, Step

CST = "+08:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + CST)


@pytest.fixture
def notices(monkeypatch):
    """dispatch.send_notices (the 派发's, written elsewhere) stands in: the steps it was given."""
    sent = []
    monkeypatch.setattr(dispatch, "send_notices", lambda app, req, task, steps, how="派发": sent.append((steps, how)),
                        raising=False)
    return sent


def step_of(req, kind, holder=None) -> Step:
    steps = [s for s in core.active_steps(req, kind) if holder is None or holder in s.approvers]
    assert steps, (kind, [(s.kind, s.approvers) for s in core.active_steps(req)])
    return steps[0]


def by_code(world, sender, req, kind, body, holder=None, **kw):
    step = step_of(req, kind, holder or sender)
    return world.send(sender, f"回复：【{req.number}】交办通知 〔流转码：{step.code}〕", body, **kw)


def mail_of_the_matter(world, req, to: str):
    """A mail of the matter sent to `to` (the receipt or the dispatch notice stand in: they are another module's)."""
    with models.db.atomic():
        core.send(world.app, "jb_changed", [to], req, action="测试", audience="leader", changes=[], free="",
                  by_name="办公室", unit_name=world.app.directory.name_of(to))
    return world.mails_to(to)[-1]


def verifying(world):
    """A 交办 registered and waiting for office staff (registration is another module's)."""
    with models.db.atomic():
        mail = SimpleNamespace(text="交办：起草年度安全生产检查通报", message_id="m1@t.test")
        req, task = core.create(world.app, leader="li@t.test", by="li@t.test", mail=mail,
                                content="起草年度安全生产检查通报", requirements="突出问题整改。",
                                deadline_at=at("2026-12-04T17:30:00"), lead="zonghe@t.test",
                                co_units=["anquan@t.test"])
        core.open_step(req, VERIFY, ["clerk@t.test"])
    return req


def sent(template: str) -> list[Mail]:
    return list(Mail.select().where((Mail.direction == "out") & (Mail.kind == template)).order_by(Mail.id))


def texts_are_clean(world):
    """Every mail queued keeps the conventions of our mails: the fingerprint first, no None, no exclamation."""
    for row in Outbox.select():
        mail = world.mails_to(row.rcpts[0])[-1]
        first = mail.text.splitlines()[0]
        assert first.startswith("集团公司办公室 · 督办〔2026〕"), first
        for part in (mail.subject, mail.text):
            assert "None" not in part and "！" not in part and "!" not in part


# ---- 撤销 ---------------------------------------------------------------------------------------------------

def test_the_leader_withdraws_a_dispatched_matter(world):
    req = world.dispatched()
    world.reply("li@t.test", mail_of_the_matter(world, req, "li@t.test"), "撤销：年度检查改由集团统一部署")
    req = world.request()
    assert req.state == CANCELLED and req.closed_at is not None
    assert not core.active_steps(req)
    assert Opinion.get(Opinion.decision == "撤销").text == "年度检查改由集团统一部署"
    for who in ("zonghe@t.test", "anquan@t.test", "clerk@t.test", "li@t.test"):
        mail = world.last_to(who, "已撤销")
        assert "年度检查改由集团统一部署" in mail.text
    assert "综合科、安全科：" in world.last_to("zonghe@t.test", "已撤销").text
    texts_are_clean(world)


def test_the_delegate_withdraws_before_dispatch_and_only_the_office_is_told(world):
    req = verifying(world)
    world.reply("zhao@t.test", mail_of_the_matter(world, req, "li@t.test"), "撤销")
    req = world.request()
    assert req.state == CANCELLED and not core.active_steps(req)
    assert "尚未派发" in world.last_to("clerk@t.test", "已撤销").text
    assert not world.mails_to("zonghe@t.test")


def test_office_staff_cannot_withdraw(world):
    req = world.dispatched()
    world.reply("clerk@t.test", mail_of_the_matter(world, req, "clerk@t.test"), "撤销：重复交办")
    assert world.request().state == DOING
    mail = world.last_to("clerk@t.test", "未作处理")
    assert "更正" in mail.text and "催办" in mail.text
    assert "申请改派" not in mail.text and "核定单" not in mail.text       # no such step waits for them


def test_a_closed_matter_cannot_be_withdrawn(world):
    req = world.dispatched()
    notice = mail_of_the_matter(world, req, "li@t.test")
    with models.db.atomic():
        core.set_state(req, CLOSED)
        core.cancel_steps(req)
    world.reply("li@t.test", notice, "撤销")
    assert world.request().state == CLOSED
    assert "已办结" in world.last_to("li@t.test", "未作处理").text


# ---- 更正 ---------------------------------------------------------------------------------------------------

def test_the_leader_corrects_the_deadline_after_dispatch(world):
    req = world.dispatched()
    world.reply("li@t.test", mail_of_the_matter(world, req, "li@t.test"), "更正：\n时限：12月8日前\n要求：不超过三页。")
    req = world.request()
    task = core.task_of(req)
    assert task.deadline_at == at("2026-12-08T17:30:00") and task.requirements == "不超过三页。"
    rnd = Round.get(Round.request == req)
    assert rnd.deadline_at == rnd.base_deadline_at == task.deadline_at and rnd.requirements == "不超过三页。"
    change = DeadlineChange.get(DeadlineChange.how == "更正")
    assert (change.by, change.old_at, change.new_at) == ("li@t.test", at("2026-12-04T17:30:00"), task.deadline_at)
    lead = step_of(req, LEAD)
    mail = world.last_to("zonghe@t.test", "交办事项变更")
    assert lead.code in mail.text.splitlines()[0]
    assert "时限：12月4日（周五）17:30前 → 12月8日（周二）17:30前" in mail.text
    assert "李副总对交办的《起草年度安全生产检查通报》（督办〔2026〕1号）作出更正" in mail.text
    assert "交办事项变更" in world.last_to("anquan@t.test").subject
    assert "12月8日（周二）17:30前" in world.last_to("clerk@t.test", "交办事项变更").text
    # the unit's reply to the change notice counts as a mail of the round
    assert req.state == DOING
    texts_are_clean(world)


def test_staff_change_the_lead_unit_and_the_units_follow(world, notices):
    req = world.dispatched()
    world.reply("clerk@t.test", mail_of_the_matter(world, req, "clerk@t.test"), "更正：\n承办：财务科\n协办：安全科")
    req = world.request()
    task = core.task_of(req)
    assert task.lead == "caiwu@t.test" and task.co_units == ["anquan@t.test"]
    assert [(s.kind, s.approvers) for s in core.active_steps(req)] == [(CO, ["anquan@t.test"]),
                                                                      (LEAD, ["caiwu@t.test"])]
    assert [([s.approvers for s in steps], how) for steps, how in notices] == [([["caiwu@t.test"]], "改派")]
    assert "不再承办" in world.last_to("zonghe@t.test", "不再承办").subject
    mail = world.last_to("li@t.test", "交办事项变更")
    assert "办公室作如下更正" in mail.text and "承办：综合科 → 财务科" in mail.text
    assert "\n　　各承办、协办单位已收到变更通知。" in mail.text
    assert "承办：综合科 → 财务科" in world.last_to("anquan@t.test", "交办事项变更").text


def test_an_unreadable_deadline_changes_nothing(world):
    req = world.dispatched()
    world.reply("li@t.test", mail_of_the_matter(world, req, "li@t.test"), "更正：\n时限：尽快\n要求：两页以内")
    task = core.task_of(world.request())
    assert task.deadline_at == at("2026-12-04T17:30:00") and task.requirements == "突出问题整改，不超过两页。"
    assert not DeadlineChange.select().where(DeadlineChange.how == "更正").exists()
    assert "尽快" in world.last_to("li@t.test", "未能办理").text


def test_an_unknown_unit_is_refused_with_the_list(world):
    req = world.dispatched()
    world.reply("clerk@t.test", mail_of_the_matter(world, req, "clerk@t.test"), "更正：\n承办：宣传科")
    assert core.task_of(world.request()).lead == "zonghe@t.test"
    assert "综合科" in world.last_to("clerk@t.test", "未能办理").text


def test_free_text_from_the_leader_goes_to_the_office(world):
    req = world.dispatched()
    world.reply("li@t.test", mail_of_the_matter(world, req, "li@t.test"), "更正：请注意与安委会的通报口径一致")
    mail = world.last_to("clerk@t.test", "领导意见")
    assert "请注意与安委会的通报口径一致" in mail.text
    assert not [m for m in world.mails_to("zonghe@t.test") if "变更" in m.subject]


def test_a_correction_before_dispatch_goes_to_the_office_to_confirm(world):
    req = verifying(world)
    world.reply("li@t.test", mail_of_the_matter(world, req, "li@t.test"), "更正：\n时限：12月9日前\n协办：无")
    req = world.request()
    task = core.task_of(req)
    assert req.state == VERIFYING and task.deadline_at == at("2026-12-09T17:30:00") and task.co_units == []
    assert not DeadlineChange.select().exists()
    mail = world.last_to("clerk@t.test", "交办事项变更")
    assert step_of(req, VERIFY).code in mail.text.splitlines()[0] and "请据此核定后派发" in mail.text
    assert not world.mails_to("zonghe@t.test")


def test_an_empty_correction_is_refused(world):
    req = world.dispatched()
    world.reply("li@t.test", mail_of_the_matter(world, req, "li@t.test"), "更正")
    assert "逐行写明要更正的要素" in world.last_to("li@t.test", "未能办理").text


# ---- explanations --------------------------------------------------------------------------------------------

def test_a_unit_not_on_the_matter_is_told(world):
    req = world.dispatched()
    world.send("caiwu@t.test", f"【{req.number}】关于检查通报", "我科有几点补充意见。")
    mail = world.last_to("caiwu@t.test", "未作处理")
    assert "不是该事项的交办领导、承办单位或协办单位" in mail.text
    assert not [m for m in world.mails_to("clerk@t.test") if "可疑" in m.subject]
    record = Mail.select().where((Mail.direction == "in") & (Mail.sender == "caiwu@t.test")).get()
    assert record.ignored


def test_a_strangers_decision_is_a_suspected_forgery(world):
    req = world.dispatched()
    world.send("caiwu@t.test", f"回复：【{req.number}】交办通知 〔流转码：{step_of(req, LEAD).code}〕", "办结：已完成")
    assert world.request().state == DOING
    alert = world.last_to("clerk@t.test", "可疑")
    assert "涉及交办" in alert.text and "caiwu@t.test" in alert.text
    assert world.last_to("caiwu@t.test", "未予采用")
    record = Mail.select().where((Mail.direction == "in") & (Mail.sender == "caiwu@t.test")).get()
    assert record.ignored and record.kind == "forgery"


def test_the_right_unit_on_no_mail_gets_an_answerable_explanation(world, monkeypatch):
    req = world.dispatched()
    world.send("zonghe@t.test", f"【{req.number}】办结报告", "办结：通报初稿已完成。")
    assert world.request().state == DOING
    mail = world.last_to("zonghe@t.test", "未作处理")
    lead = step_of(req, LEAD)
    assert mail.subject.endswith(f"〔流转码：{lead.code}〕") and "直接回复本邮件" in mail.text
    world.reply("zonghe@t.test", mail, "办结：通报初稿已完成。")
    assert world.request().state == CHECKING


def test_an_earlier_rounds_mail_is_told_the_round(world, monkeypatch, notices):
    req = world.dispatched()
    by_code(world, "zonghe@t.test", req, LEAD, "办结：初稿已完成。")
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "请核报"), "退回：请补充整改措施。")
    first_round = world.last_to("zonghe@t.test", "退回")
    world.reply("zonghe@t.test", first_round, "办结：已补充。")
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "请核报"), "核报")
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "继续办理：请补充各分公司情况\n时限：12月11日前")
    assert core.task_of(world.request()).round == 2
    world.reply("zonghe@t.test", first_round, "进展：正在收集")
    mail = world.last_to("zonghe@t.test", "未作处理")
    assert "该事项已进入第2轮，请回复最新通知" in mail.text
    assert step_of(req, LEAD).code in mail.subject            # answering the explanation is a mail of round 2
    record = Mail.select().where((Mail.direction == "in") & (Mail.kind == "old_round")).get()
    assert record.ignored


def test_a_second_check_is_told_it_was_done(world):
    req = world.dispatched()
    by_code(world, "zonghe@t.test", req, LEAD, "办结：初稿已完成。")
    check = world.last_to("clerk@t.test", "请核报")
    world.reply("clerk@t.test", check, "核报")
    world.reply("clerk@t.test", check, "核报")
    assert world.request().state == READING
    assert "已于" in world.last_to("clerk@t.test", "未作处理").text
    assert Opinion.select().where(Opinion.decision == "核报").count() == 1


def test_the_leader_writing_while_it_is_done_is_told_what_to_write(world):
    req = world.dispatched()
    world.reply("li@t.test", mail_of_the_matter(world, req, "li@t.test"), "进展如何？")
    mail = world.last_to("li@t.test", "未作处理")
    assert "办理中" in mail.text and "撤销" in mail.text and "更正" in mail.text
    assert "流转码" not in mail.subject
    texts_are_clean(world)


def html_of(row) -> str:
    msg = email.message_from_bytes(mailstore.message(row), policy=email.policy.default)
    return msg.get_body(("html",)).get_content()


def test_every_mail_of_a_full_matter_is_clean(world, monkeypatch, notices):
    req = world.dispatched(content="检查<script>alert(1)</script>通报")
    by_code(world, "zonghe@t.test", req, LEAD, "办结：初稿见附件。<b>加粗</b>", attachments=[("初稿.docx", b"x")])
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "请核报"), "退回：请补充。")
    world.reply("zonghe@t.test", world.last_to("zonghe@t.test", "退回"), "办结：已补充。")
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "请核报"), "核报\n核报意见：<i>可</i>")
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "好的")
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "阅，但请补充")
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "阅，请印发")
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "继续办理：再改\n时限：12月11日前")
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "更正：\n时限：12月14日前")
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "撤销：<u>不办了</u>")
    assert world.request().state == CANCELLED
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "阅<script>")
    texts_are_clean(world)
    templates = set()
    for row in Outbox.select():
        templates.add(row.mail.kind)
        html = re.sub(r"<!--.*?-->", "", html_of(row), flags=re.S)
        assert "None" not in html and "<script>" not in html and "<b>加粗" not in html and "<u>" not in html
        for tag in ("table", "tr", "td", "p", "div"):
            assert len(re.findall(rf"<{tag}\b", html)) == len(re.findall(rf"</{tag}>", html)), (row.mail.kind, tag)
    assert {"jb_check", "jb_sent_back", "jb_read", "jb_read_help", "jb_closed", "jb_changed", "jb_withdrawn",
            "jb_explain"} <= templates


def test_the_leader_on_a_closed_matter_is_told_how_to_reopen(world):
    req = world.dispatched()
    by_code(world, "zonghe@t.test", req, LEAD, "办结：初稿已完成。")
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "请核报"), "核报")
    world.reply("li@t.test", world.last_to("li@t.test", "请阅示"), "阅")
    world.reply("li@t.test", mail_of_the_matter(world, req, "li@t.test"), "很好")
    mail = world.last_to("li@t.test", "未作处理")
    assert "已办结" in mail.text and "继续办理：要求" in mail.text and "“其他”" not in mail.text


def test_an_extension_overtaken_by_the_report_is_told_it_ended(world):
    req = world.dispatched()
    with models.db.atomic():
        extend = core.open_step(req, "jb_extend", ["li@t.test"])
        ask = core.send(world.app, "jb_changed", ["li@t.test"], req, extend, action="测试", audience="leader",
                        changes=[], free="", by_name="办公室", unit_name="李副总")
    by_code(world, "zonghe@t.test", req, LEAD, "办结：初稿已完成。")
    world.reply("li@t.test", world.mails_to("li@t.test")[-1], "同意")
    assert world.request().state == CHECKING
    assert "延期审批环节已于" in world.last_to("li@t.test", "未作处理").text
    assert ask.step_id == extend.id


def test_a_correction_on_one_line(world):
    req = world.dispatched()
    world.reply("clerk@t.test", mail_of_the_matter(world, req, "clerk@t.test"), "更正：时限：12月7日下午3点前")
    assert core.task_of(world.request()).deadline_at == at("2026-12-07T15:00:00")
    change = DeadlineChange.get(DeadlineChange.how == "更正")
    assert change.by == "clerk@t.test"
    assert "经办公室更正" in world.last_to("zonghe@t.test", "交办事项变更").text
    assert "12月7日（周一）15:00前" in world.last_to("li@t.test", "交办事项变更").text


def test_the_explanation_carries_the_code_of_the_step_the_word_is_for(world):
    req = world.dispatched()
    by_code(world, "zonghe@t.test", req, LEAD, "办结：初稿已完成。")
    with models.db.atomic():
        core.open_step(req, "jb_coordinate", ["clerk@t.test"])        # an older 请求协调 still open first
        Step.update(position=0).where((Step.request == req) & (Step.kind == "jb_coordinate")).execute()
    world.send("clerk@t.test", f"【{req.number}】核报", "核报")
    assert world.request().state == CHECKING
    mail = world.last_to("clerk@t.test", "未作处理")
    assert mail.subject.endswith(f"〔流转码：{step_of(req, CHECK).code}〕")
    world.reply("clerk@t.test", mail, "核报")
    assert world.request().state == READING


def test_a_second_report_while_the_first_is_checked_is_told_so(world):
    req = world.dispatched()
    by_code(world, "zonghe@t.test", req, LEAD, "办结：初稿已完成。")
    world.send("zonghe@t.test", f"回复：【{req.number}】交办通知", "办结：更正版见附件")
    assert world.request().state == CHECKING
    assert Round.get(Round.request == req).report == "初稿已完成。"
    assert "正由办公室核报" in world.last_to("zonghe@t.test", "未作处理").text

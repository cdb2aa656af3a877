"""核定 and 派发 (SPEC §6.2 steps 3–4, §6.9): office staff dispatch, ask the leader or void; 派发 refused with
exactly what is wrong; the 交办通知单 to the lead unit and its 协办 variant; 已派发 to the leader; 改派."""

from __future__ import annotations

import pytest
from jiaoban_world import World, world  # noqa: F401 - the office in process

from daemon import models
from daemon.jiaoban import CANCELLED, CLARIFY, CLARIFYING, CO, DOING, LEAD, REASSIGN, VERIFY, VERIFYING, core
from daemon.models import ACTIVE, DeadlineChange, Opinion, Round, Step

EXAMPLE = "请综合科牵头，安全科配合，本周五前拿出通报初稿，突出问题整改，不超过两页。"


def registered(world, subject="交办：年度安全生产检查通报", body=EXAMPLE, sender="li@t.test", **kw):
    world.send(sender, subject, body, **kw)
    return world.request(), world.last_to("clerk@t.test", "请核定")


def active(req, *kinds):
    return core.active_steps(req, *kinds)


def test_the_example_of_6_13_steps_1_to_3(world, monkeypatch):
    req, verify = registered(world)
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-01T10:40:00+08:00")
    world.reply("clerk@t.test", verify, "派发")
    req = world.request()
    assert req.state == DOING
    steps = active(req)
    assert [(s.kind, s.approvers) for s in steps] == [(LEAD, ["zonghe@t.test"]), (CO, ["anquan@t.test"])]
    lead = world.last_to("zonghe@t.test", "交办通知")
    assert "（协办）" not in lead.subject and steps[0].code in lead.subject
    for part in ("根据李副总交办", "交你单位承办，安全科协办", "请于12月4日（周五）17:30前办结并报告结果",
                 "一、完成情况（效果、时间）", "二、存在和可能出现的问题", "三、后续工作意见", "签收", "进展：",
                 "申请延期：", "请求协调：", "申请改派：", "办结：", EXAMPLE):
        assert part in lead.text, part
    co = world.last_to("anquan@t.test", "交办通知（协办）")
    assert steps[1].code in co.subject and "交综合科承办、你单位协办" in co.text and "协办完毕：" in co.text
    told = world.last_to("li@t.test", "已派发")
    assert "综合科承办，安全科协办" in told.text and "12月4日（周五）17:30前，剩 3 个工作日" in told.text
    echo = world.last_to("clerk@t.test", "已派发")
    assert "综合科（承办）" in echo.text
    rnd = Round.get(Round.request == req)
    assert rnd.deadline_at == core.task_of(req).deadline_at
    assert DeadlineChange.get(DeadlineChange.request == req).how == "派发"
    assert Step.get((Step.request == req) & (Step.kind == VERIFY)).state != ACTIVE
    assert Opinion.select().where((Opinion.request == req) & (Opinion.decision == "派发")).count() == 1



def test_element_lines_replace_what_was_proposed_and_the_deadline_is_echoed_absolutely(world):
    req, verify = registered(world)
    world.reply("clerk@t.test", verify, "派发\n内容：起草年度安全生产检查通报\n时限：12月8日前\n要求：突出问题整改，不超过两页。\n"
                "承办：财务科\n协办：安全科，第一分公司\n紧急：加急\n反馈周期：5d")
    req, task = world.request(), world.task()
    assert req.state == DOING and req.urgency == "加急" and req.title == "起草年度安全生产检查通报"
    assert task.lead == "caiwu@t.test" and task.co_units == ["anquan@t.test", "unit1@t.test"]
    assert task.requirements == "突出问题整改，不超过两页。" and task.feedback_every == "5d"
    assert task.deadline_text == "12月8日前" and task.proposed["deadline_text"] == "本周五前"
    echo = world.last_to("clerk@t.test", "已派发")
    assert "时限“12月8日前”按12月8日（周二）17:30前，剩 5 个工作日掌握" in echo.text
    notice = world.last_to("caiwu@t.test", "交办通知")
    assert notice.subject.startswith("【督办〔2026〕1号】（加急）交办通知：起草年度安全生产检查通报")
    assert "请于12月8日（周二）17:30前办结并报告结果" in notice.text and "每5个工作日报告一次进展" in notice.text
    assert world.last_to("unit1@t.test", "交办通知（协办）")
    assert not [m for m in world.mails_to("zonghe@t.test") if "交办通知" in m.subject]


@pytest.mark.parametrize("body, reason", [
    ("派发\n时限：尽快", "时限“尽快”无法确定日期，请写明，如“时限：12月5日前”"),
    ("派发\n时限：下下周", "时限“下下周”无法确定日期"),
    ("派发\n时限：12月32日前", "不是有效日期"),
    ("派发\n时限：今天上午9点前", "已过"),
    ("派发\n时限：2025年12月5日前", "“2025年12月5日前”"),
    ("派发\n承办：宣传部", "“宣传部”不在单位名单中"),
    ("派发\n承办：", "未写明承办单位"),
    ("派发\n承办：综合科、安全科", "承办单位只能写一个"),
    ("派发\n协办：后勤处", "“后勤处”不在单位名单中"),
    ("派发\n反馈周期：经常", "反馈周期“经常”无法识别"),
])
def test_dispatch_is_refused_with_exactly_what_is_wrong(world, monkeypatch, body, reason):
    req, verify = registered(world)
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-01T10:40:00+08:00")
    world.reply("clerk@t.test", verify, body)
    req = world.request()
    assert req.state == VERIFYING and [s.kind for s in active(req)] == [VERIFY]
    refused = world.last_to("clerk@t.test", "未派发")
    assert reason in refused.text, refused.text
    assert active(req)[0].code in refused.subject
    if "承办" in body or "协办" in body:
        assert "可写的承办、协办单位：办公室、综合科、安全科、财务科、第一分公司" in refused.text
    assert not world.mails_to("zonghe@t.test")


def test_dispatch_without_a_deadline_is_refused_then_dispatched_from_the_refusal(world):
    req, verify = registered(world, body="请综合科牵头把安全检查通报起草好，突出问题整改。")
    assert world.task().deadline_at is None
    world.reply("clerk@t.test", verify, "派发")
    refused = world.last_to("clerk@t.test", "未派发")
    assert "未写明时限，请写明，如“时限：12月5日前”" in refused.text
    world.reply("clerk@t.test", refused, "派发\n时限：12月5日前")
    req, task = world.request(), world.task()
    assert req.state == DOING and task.deadline_text == "12月5日前" and task.lead == "zonghe@t.test"
    assert "请于12月5日（周六）17:30前办结并报告结果" in world.last_to("zonghe@t.test", "交办通知").text


def test_an_unclear_deadline_in_the_leaders_text_is_named_when_dispatch_is_refused(world):
    req, verify = registered(world, body="请安全科负责，近期把检查通报搞出来。")
    world.reply("clerk@t.test", verify, "派发")
    assert "时限“近期”无法确定日期，请写明，如“时限：12月5日前”" in world.last_to("clerk@t.test", "未派发").text


def test_with_a_default_deadline_a_matter_without_one_is_dispatched_marked_as_such(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-01T10:12:00+08:00")
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    world = World(tmp_path, extra='[jiaoban]\ndefault_deadline = "10d"')
    try:
        req, verify = registered(world, body="请综合科牵头把安全检查通报起草好。")
        world.reply("clerk@t.test", verify, "派发")
        task = world.task()
        assert world.request().state == DOING and task.default_deadline
        assert task.deadline_at.astimezone(world.app.tz).isoformat() == "2026-12-15T17:30:00+08:00"
        notice = world.last_to("zonghe@t.test", "交办通知")
        assert "请于12月15日（周二）17:30前办结并报告结果（默认时限）" in notice.text
        assert "（默认时限）" in world.last_to("li@t.test", "已派发").text
    finally:
        models.close()


def test_the_office_itself_may_be_the_lead_unit(world):
    req, verify = registered(world)
    world.reply("clerk@t.test", verify, "派发\n承办：办公室\n协办：无")
    task = world.task()
    assert task.lead == "clerk@t.test" and task.co_units == []
    assert world.last_to("clerk@t.test", "交办通知")


def test_ask_the_leader_then_the_answer_fills_the_elements_and_goes_to_staff(world):
    req, verify = registered(world, body="请抓紧把安全检查通报搞出来。")
    world.reply("clerk@t.test", verify, "询问：请问何时需要？由哪个部门牵头？")
    req = world.request()
    assert req.state == CLARIFYING
    assert [s.kind for s in active(req)] == [VERIFY, CLARIFY]        # the 核定单 still answers 作废
    [step] = active(req, CLARIFY)
    assert step.approvers == ["li@t.test"]
    asked = world.last_to("li@t.test", "请明示")
    assert step.code in asked.subject and "请问何时需要？由哪个部门牵头？" in asked.text
    world.reply("zhao@t.test", asked, "下周三前，安全科牵头。\n时限：下周三前\n承办：安全科")   # the delegate answers
    req, task = world.request(), world.task()
    assert req.state == VERIFYING and not active(req, CLARIFY)
    step = active(req, VERIFY)[-1]
    passed = world.last_to("clerk@t.test", "领导已答复")
    assert step.code in passed.subject and "下周三前，安全科牵头。" in passed.text
    assert "时限：12月9日（周三）17:30前（原文“下周三前”）" in passed.text and "承办：安全科" in passed.text
    assert task.lead == "anquan@t.test" and task.deadline_text == "下周三前"
    assert [o.decision for o in Opinion.select().where(Opinion.request == req).order_by(Opinion.id)] == \
        ["登记", "询问", "答复"]
    world.reply("clerk@t.test", passed, "派发")
    assert world.request().state == DOING
    assert "请于12月9日（周三）17:30前办结" in world.last_to("anquan@t.test", "交办通知").text


def test_an_answer_with_an_unreadable_deadline_is_passed_on_and_staff_told(world):
    req, verify = registered(world, body="请安全科牵头，把安全检查通报搞出来。")
    world.reply("clerk@t.test", verify, "询问：何时要？")
    world.reply("li@t.test", world.last_to("li@t.test", "请明示"), "时限：节后")
    passed = world.last_to("clerk@t.test", "领导已答复")
    assert "未能采用：时限“节后”无法确定日期" in passed.text and world.task().deadline_at is None


def test_ask_without_a_question_changes_nothing(world):
    req, verify = registered(world)
    world.reply("clerk@t.test", verify, "询问")
    assert world.request().state == VERIFYING and not [m for m in world.mails_to("li@t.test") if "请明示" in m.subject]


def test_void_cancels_and_tells_the_leader_why(world):
    req, verify = registered(world)
    world.reply("clerk@t.test", verify, "作废：与督办〔2026〕2号重复")
    req = world.request()
    assert req.state == CANCELLED and not active(req)
    told = world.last_to("li@t.test", "已作废")
    assert "与督办〔2026〕2号重复" in told.text
    assert not world.mails_to("zonghe@t.test")


def test_dispatch_from_someone_not_on_the_staff_does_nothing(world):
    req, verify = registered(world)
    world.send("zonghe@t.test", "回复：" + verify.subject, "派发", reply_to=verify)
    assert world.request().state == VERIFYING


def test_redispatch_on_a_request_for_reassignment(world):
    req = world.dispatched()
    step = core.open_step(req, REASSIGN, ["clerk@t.test"])
    world.send("clerk@t.test", f"回复：【{req.number}】申请改派 〔流转码：{step.code}〕", "派发\n承办：财务科\n协办：安全科")
    req, task = world.request(), world.task()
    assert req.state == DOING and task.lead == "caiwu@t.test" and task.co_units == ["anquan@t.test"]
    assert [(s.kind, s.approvers) for s in active(req)] == [(LEAD, ["caiwu@t.test"]), (CO, ["anquan@t.test"])]
    assert "改由你单位承办" in world.last_to("caiwu@t.test", "交办通知").text
    assert "已改由财务科承办" in world.last_to("zonghe@t.test", "已改派").text
    assert world.last_to("anquan@t.test", "交办通知（协办）")
    assert world.last_to("li@t.test", "已改派")


def test_redispatch_without_a_new_unit_is_refused(world):
    req = world.dispatched()
    step = core.open_step(req, REASSIGN, ["clerk@t.test"])
    world.send("clerk@t.test", f"回复：【{req.number}】申请改派 〔流转码：{step.code}〕", "派发")
    assert "改派请写明新的承办单位" in world.last_to("clerk@t.test", "未改派").text
    assert world.task().lead == "zonghe@t.test"


def test_while_the_leader_is_asked_the_office_may_void_on_the_verify_form(world):
    req, verify = registered(world)
    world.reply("clerk@t.test", verify, "询问：是否与上周交办的重复？")
    world.reply("clerk@t.test", verify, "作废：与督办〔2026〕2号重复")
    req = world.request()
    assert req.state == CANCELLED and not active(req)
    assert "与督办〔2026〕2号重复" in world.last_to("li@t.test", "已作废").text


def test_after_the_answer_dispatch_on_the_verify_form_counts_too(world):
    req, verify = registered(world, body="请综合科牵头，把通报搞出来。")
    world.reply("clerk@t.test", verify, "询问：何时要？")
    world.reply("li@t.test", world.last_to("li@t.test", "请明示"), "时限：12月8日前")
    world.reply("clerk@t.test", verify, "派发")
    req = world.request()
    assert req.state == DOING and [s.kind for s in active(req)] == [LEAD]
    assert "请于12月8日（周二）17:30前办结" in world.last_to("zonghe@t.test", "交办通知").text


def test_the_one_tap_dispatch_button_of_the_verify_form_dispatches(world):
    import re
    from urllib.parse import parse_qs, unquote, urlparse
    req, verify = registered(world)
    link = re.search(r'href="(mailto:[^"]+)"', verify.html).group(1).replace("&amp;", "&")
    query = parse_qs(urlparse(link).query)
    assert unquote(urlparse(link).path) == "office@t.test" and query["body"] == ["派发"]
    world.send("clerk@t.test", query["subject"][0], query["body"][0])
    assert world.request().state == DOING

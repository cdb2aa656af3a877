"""核定 and 派发 (SPEC §6.2 steps 3–4, §6.9): office staff dispatch, ask the leader or void; 派发 refused with
exactly what is wrong; the 交办通知单 to the lead unit and its 协办 variant; 已派发 to the leader; 改派."""

from __future__ import annotations

import pytest
from jiaoban_world import World

from daemon import models
from daemon.jiaoban import CANCELLED, CLARIFY, CLARIFYING, CO, DOING, LEAD, REASSIGN, VERIFY, VERIFYING, core
from daemon.models import ACTIVE, DeadlineChange, Opinion, Round, Step

EXAMPLE = "请综合科牵头，安全科配合，本周五前拿出通报初稿，突出问题整改，不超过两页。"


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-01T10:12:00+08:00")
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    w = World(tmp_path)
    yield w
    models.close()


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


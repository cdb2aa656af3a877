"""The 交办's place in the engine: its flow, its config, its decision table, a dispatched matter's steps."""

from __future__ import annotations

from jiaoban_world import World, world  # noqa: F401 - the office in process

from daemon import flows
from daemon.jiaoban import CO, DOING, LEAD, STATE_LABELS, core
from daemon.jiaoban.table import TABLE, Role, role_of
from daemon.models import ACTIVE, Round, Step
from daemon.rules import listing


def test_the_jiaoban_is_a_flow_with_its_own_number_series(world):
    flow = flows.FLOWS["交办"]
    assert flow.number_format(world.cfg) == "督办〔{year}〕{seq}号"
    assert flows.numbers_pattern(world.cfg).search("回复：【督办〔2026〕3号】请核定").group(0) == "督办〔2026〕3号"
    assert [p.id for p in world.cfg.leaders] == ["li", "wang"]


def test_a_dispatched_matter_has_a_step_per_unit_and_its_round(world):
    req = world.dispatched()
    assert req.state == DOING and flows.label(req) == STATE_LABELS[DOING] == "办理中"
    steps = list(Step.select().where((Step.request == req) & (Step.state == ACTIVE)).order_by(Step.position))
    assert [(s.kind, s.approvers, s.round) for s in steps] == [(LEAD, ["zonghe@t.test"], 1),
                                                              (CO, ["anquan@t.test"], 1)]
    assert len({s.code for s in steps}) == 2
    rnd = Round.get(Round.request == req)
    assert rnd.deadline_at == rnd.base_deadline_at and rnd.number == 1
    held = flows.of(req).holder(world.app, req)
    assert held.who == "综合科、安全科" and held.due == core.task_of(req).deadline_at
    assert req.number == "督办〔2026〕1号"


def test_roles_of_a_matter(world):
    task = core.task_of(world.dispatched())
    d = world.app.directory
    assert role_of(d, "li@t.test", task) == (Role.LEADER,)
    assert role_of(d, "zhao@t.test", task) == (Role.LEADER,)          # the leader's delegate
    assert role_of(d, "clerk@t.test", task) == (Role.STAFF,)
    assert role_of(d, "zonghe@t.test", task) == (Role.LEAD,)
    assert role_of(d, "anquan@t.test", task) == (Role.CO,)
    assert role_of(d, "wang@t.test", task) == (Role.STRANGER,)


def test_the_table_lists_in_chinese():
    text = listing(TABLE, STATE_LABELS)
    assert "派发" in text and "待核定" in text and "承办单位" in text

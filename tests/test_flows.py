"""A second kind of work is an addition: a toy one-step 知会 registers, is listed, read and closed through the
same intake, records and digest, none of which names it."""

from __future__ import annotations

import csv

import pytest
from test_intake_edges import World

from daemon import chase, clock, flows, intake, models, outbox, records, rules, workflow
from daemon.models import Request
from daemon.replies import Verb
from daemon.rules import Role

REGISTERED, CLOSED = "registered", "closed"


def _close(act, verb):
    req = act.req
    req.state, req.state_since, req.closed_at, req.result = CLOSED, clock.now(), clock.now(), "已阅"
    req.save()
    return act.pipe.note("办公室已阅，知会办结", "decision", req)


class Zhihui:
    """知会: the office is told something; a clerk's reply to it closes it."""
    kind = "知会"
    states = {REGISTERED: "待阅", CLOSED: "已阅"}
    open_states = (REGISTERED,)
    unfinished_states = (REGISTERED,)
    table = (rules.Transition((REGISTERED,), (Role.STAFF, Role.HEAD), None, rules.NONE, _close, "阅知，办结"),)

    def number_format(self, cfg) -> str:
        return "知会〔{year}〕{seq}号"

    def claims_new(self, app, mail, unit) -> bool:
        return mail.subject.startswith("知会")

    def register(self, app, incoming, unit):
        now = clock.now()
        seq, number = workflow.next_number(app, now.year, self.number_format(app.cfg), counter="zhihui")
        req = Request.create(kind=self.kind, number=number, year=now.year, seq=seq, state=REGISTERED,
                             unit_id=unit.id, unit_name=unit.name, sender=incoming.mail.from_addr,
                             title=incoming.mail.subject, body=incoming.mail.text, message_id=incoming.mail.message_id,
                             received_at=now, updated_at=now, state_since=now, code=outbox.new_code())
        incoming.record.request = req
        incoming.record.action = f"登记为{number}"
        incoming.record.save()
        return req

    def holder(self, app, req, step=None) -> flows.Holding:
        return flows.Holding("办公室", req.state_since) if req.state == REGISTERED else flows.Holding("", None)


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    monkeypatch.setitem(flows.FLOWS, "知会", Zhihui())
    w = World(tmp_path)
    yield w
    models.close()


def test_a_new_kind_registers_under_its_own_number_and_is_listed(world, tmp_path):
    assert world.send("unit1@t.test", "知会：年终安全检查安排", "请办公室知悉。") == intake.PROCESSED
    req = Request.get()
    assert (req.kind, req.number, req.state) == ("知会", "知会〔2026〕1号", REGISTERED)
    assert records.list_lines(world.app, pending=True) == [
        "知会〔2026〕1号\t待阅\t第一分公司\t知会：年终安全检查安排\t办公室\t2026-11-26 09:00"]
    assert "状态：待阅" in records.show_text(world.app, req)
    records.export_csv(world.app, tmp_path / "r.csv")
    with open(tmp_path / "r.csv", encoding="utf-8-sig") as f:
        assert list(csv.reader(f))[1][7] == "待阅"
    digest = chase.digest_context(world.app)
    assert [(i["number"], i["state_label"], i["holder"]) for i in digest["items"]] == [("知会〔2026〕1号", "待阅", "办公室")]


def test_a_request_of_the_new_kind_follows_its_own_table(world):
    world.send("unit1@t.test", "知会：年终安全检查安排", "请办公室知悉。")
    number = Request.get().number
    # the unit has no row in this kind's table: explained, nothing changes
    world.send("unit1@t.test", f"回复：{number}", "同意")
    assert Request.get().state == REGISTERED
    world.send("clerk@t.test", f"回复：{number}", "已阅")
    req = Request.get()
    assert (req.state, req.result) == (CLOSED, "已阅")
    assert records.list_lines(world.app, pending=True) == []


def test_the_default_kind_is_still_the_qingshi(world):
    world.send("unit1@t.test", "关于购置办公设备的请示", "关于购置办公设备的请示\n妥否，请批示。")
    req = Request.get()
    assert (req.kind, req.number) == ("请示", "办请〔2026〕1号")
    assert flows.of(req).table is rules.TABLE
    assert flows.of(type("Old", (), {"kind": None})()) is flows.FLOWS["请示"]


def test_every_kind_of_work_has_a_readable_listing_of_its_table():
    for flow in flows.FLOWS.values():
        assert rules.listing(flow.table, flow.states).count("结果：") == len(flow.table)
    assert Verb.APPROVE in rules.TABLE[1].verbs

"""The weekly 台账 of the 交办 (SPEC §6.7): its figures from the record only, the mails of a week and
`officeflow ledger`. Matters in every state are made with World.dispatched() and their rounds' dates set
directly; the week is 2026-W49, Monday 11-30 to Sunday 12-06, reported on Monday 12-07 at 08:30."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from jiaoban_world import World, world  # noqa: F401 - the office in process

from daemon import chase, models
from daemon.jiaoban import CANCELLED, CLOSED, READING, VERIFYING, core, ledger
from daemon.models import DeadlineChange, Job, Outbox, Round

REPO = Path(__file__).resolve().parents[1]
MONDAY = date(2026, 11, 30)
REPORT_TIME = "2026-12-07T08:30:00+08:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text if "T" in text else text + "T17:30:00+08:00")


WORLD_NOW = REPORT_TIME


def matter(world, monkeypatch, registered: str, content: str, deadline: str, *, leader="li@t.test",
           lead="zonghe@t.test", state=None, reported=None, checked=None, read=None, base=None, deemed=False,
           reminders=0, progress=None):
    """A 交办 registered and dispatched at `registered`, then brought to where the case needs it."""
    monkeypatch.setenv("OFFICEFLOW_NOW", at(registered).isoformat())
    req = world.dispatched(content=content, deadline=at(deadline).isoformat(), lead=lead, co_units=(), leader=leader)
    rnd = Round.get(Round.request == req)
    rnd.reported_at = at(reported) if reported else None
    rnd.checked_at = at(checked) if checked else None
    rnd.read_at = at(read) if read else None
    rnd.deemed, rnd.reminders = deemed, reminders
    if base:
        rnd.base_deadline_at = at(base)
        DeadlineChange.create(request=req, round=1, old_at=at(base), new_at=at(deadline), by=leader, how="延期",
                              at=at("2026-12-02T10:00:00+08:00"))
    rnd.save()
    if progress:
        monkeypatch.setenv("OFFICEFLOW_NOW", at(progress[0]).isoformat())
        core.record(req, lead, world.app.directory.name_of(lead), "进展", progress[1])
    if state is not None:
        monkeypatch.setenv("OFFICEFLOW_NOW", at(read or checked or registered).isoformat())
        if state in (CLOSED, CANCELLED, VERIFYING):
            core.cancel_steps(req)
        core.set_state(req, state)
    monkeypatch.setenv("OFFICEFLOW_NOW", REPORT_TIME)
    return req


@pytest.fixture
def office(world, monkeypatch):
    """Every case of the week, one matter each (the letters are the 内容)."""
    m = lambda *a, **k: matter(world, monkeypatch, *a, **k)  # noqa: E731
    m("2026-11-24T09:00:00+08:00", "A 上周交办，逾期未办结", "2026-11-27", reminders=3,
      progress=("2026-12-01T09:00:00+08:00", "正在核实"))
    m("2026-11-30T09:00:00+08:00", "B 按期办结", "2026-12-04", state=CLOSED,
      reported="2026-12-04T16:40:00+08:00", checked="2026-12-04T17:00:00+08:00", read="2026-12-05T09:00:00+08:00")
    m("2026-11-30T09:10:00+08:00", "C 延期后办结，视为办结", "2026-12-04", base="2026-12-02", state=CLOSED,
      reported="2026-12-03T10:00:00+08:00", checked="2026-12-03T11:00:00+08:00", read="2026-12-04T09:00:00+08:00",
      deemed=True)
    m("2026-12-01T09:00:00+08:00", "D 逾期办结", "2026-12-02", state=CLOSED, lead="anquan@t.test",
      reported="2026-12-03T10:00:00+08:00", checked="2026-12-03T11:00:00+08:00", read="2026-12-04T10:00:00+08:00")
    m("2026-12-01T09:10:00+08:00", "E 在办未到期", "2026-12-10")
    m("2026-12-02T09:00:00+08:00", "F 待阅示", "2026-12-09", state=READING,
      reported="2026-12-03T10:00:00+08:00", checked="2026-12-03T15:00:00+08:00")
    m("2026-12-02T09:10:00+08:00", "G 王总交办，逾期", "2026-12-03", leader="wang@t.test", lead="anquan@t.test")
    m("2026-12-03T09:00:00+08:00", "H 待核定", "2026-12-08", state=VERIFYING)
    m("2026-12-03T09:10:00+08:00", "I 撤销", "2026-12-08", state=CANCELLED)
    m("2026-12-08T09:00:00+08:00", "J 下周交办", "2026-12-11")
    m("2026-11-24T09:10:00+08:00", "K 上周逾期办结", "2026-11-25", state=CLOSED,
      reported="2026-11-26T10:00:00+08:00", checked="2026-11-26T11:00:00+08:00", read="2026-11-26T15:00:00+08:00")
    return world


def titles(rows) -> list[str]:
    return [r["title"][0] for r in rows]


COUNTS = ("new", "new_cancelled", "closed", "按期", "延期后办结", "逾期办结", "deemed", "open", "not_due", "overdue",
          "reading", "year_closed", "year_on_time", "rate")


@pytest.mark.parametrize("leader, expected", [
    ("li@t.test", (7, 1, 3, 1, 1, 1, 1, 4, 2, 1, 1, 4, 1, "25.0%")),
    ("wang@t.test", (1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, "—")),
    ("", (8, 1, 3, 1, 1, 1, 1, 5, 2, 2, 1, 4, 1, "25.0%")),
])
def test_the_counts_of_the_week(office, leader, expected):
    led = ledger.ledger(office.app, MONDAY, leader)
    assert tuple(led.counts[k] for k in COUNTS) == expected
    assert led.final and led.whole == (not leader)


def test_the_tables_of_the_whole_office(office):
    led = ledger.ledger(office.app, MONDAY)
    assert titles(led.overdue) == ["A", "G"]                       # most overdue first
    a, g = led.overdue
    assert (a["days"], a["reminders"], a["lead"], a["deadline"]) == (5, 3, "综合科", "11月27日（周五）17:30前")
    assert a["last_progress"] == "12月1日 正在核实" and g["last_progress"] == "无" and g["days"] == 1
    assert g["leader"] == "王总"
    assert titles(led.reading) == ["F"] and led.reading[0]["result"] == "按期"
    assert titles(led.running) == ["H", "E"] or titles(led.running) == ["E", "H"]
    assert [r["title"][0] for r in sorted(led.running, key=lambda r: r["due"])] == titles(led.running)
    assert titles(led.closed) == ["B", "C", "D"]
    b, c, d = led.closed
    assert (b["result"], c["result"], d["result"]) == ("按期", "延期后办结", "逾期办结")
    assert c["deemed"] and not b["deemed"]
    assert c["changes"] == [{"round": 1, "old": "12月2日 17:30", "new": "12月4日 17:30", "how": "延期", "by": "李副总",
                             "at": "12月2日 10:00", "at_sort": c["changes"][0]["at_sort"]}]
    assert b["days"] == "4.9" and b["changes"] == []
    assert [(x["number"], x["old"], x["new"], x["by"]) for x in led.changes] == [
        ("督办〔2026〕3号", "12月2日 17:30", "12月4日 17:30", "李副总")]
    assert [(u["name"], u["open"], u["overdue"], u["closed"], u["on_time"]) for u in led.units] == [
        ("综合科", 4, 1, 3, 1), ("安全科", 1, 1, 1, 0)]          # most overdue, then most open first


def test_a_leader_s_copy_has_no_unit_table(office):
    assert ledger.ledger(office.app, MONDAY, "li@t.test").units == []


def test_within_the_week_the_figures_stand_as_of_now(office, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-02T12:00:00+08:00")
    led = ledger.ledger(office.app, MONDAY, "li@t.test")
    assert not led.final
    # B, C and D are not closed yet; A overdue; D's deadline passed on 12-02 17:30, not yet at noon
    assert led.counts["closed"] == 0 and titles(led.overdue) == ["A"]
    assert sorted(titles(led.running)) == ["B", "C", "D", "E", "F"]


def test_an_earlier_week_sees_matters_closed_since_as_open(office):
    led = ledger.ledger(office.app, date(2026, 11, 23), "li@t.test")
    assert led.counts["new"] == 2 and led.counts["closed"] == 1 and titles(led.closed) == ["K"]
    assert titles(led.overdue) == ["A"] and led.overdue[0]["days"] == 0   # due Friday 17:30, Sunday evening


@pytest.mark.parametrize("reported, base, deadline, expected", [
    ("2026-12-04T16:40:00+08:00", None, "2026-12-04", "按期"),
    ("2026-12-04T17:40:00+08:00", None, "2026-12-04", "逾期办结"),
    ("2026-12-07T10:00:00+08:00", "2026-12-04", "2026-12-08", "延期后办结"),
    ("2026-12-09T10:00:00+08:00", "2026-12-04", "2026-12-08", "逾期办结"),
])
def test_a_round_s_result_comes_from_its_dates(world, monkeypatch, reported, base, deadline, expected):
    matter(world, monkeypatch, "2026-12-01T09:00:00+08:00", "X", deadline, base=base, state=CLOSED,
           reported=reported, checked=reported, read="2026-12-09T17:00:00+08:00")
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-14T08:30:00+08:00")
    led = ledger.ledger(world.app, date(2026, 12, 7), "li@t.test")
    assert [r["result"] for r in led.closed] == [expected]


def test_a_recorded_result_wins(world, monkeypatch):
    req = matter(world, monkeypatch, "2026-12-01T09:00:00+08:00", "X", "2026-12-04", state=CLOSED,
                 reported="2026-12-04T16:40:00+08:00", checked="2026-12-04T17:00:00+08:00",
                 read="2026-12-05T09:00:00+08:00")
    Round.update(result="逾期办结").where(Round.request == req).execute()
    assert ledger.ledger(world.app, MONDAY, "li@t.test").counts["逾期办结"] == 1


# -- the mails ---------------------------------------------------------------------------------------------

def test_the_weekly_mails(office, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-07T08:29:00+08:00")
    assert not chase.run_jb_ledger(office.app)
    monkeypatch.setenv("OFFICEFLOW_NOW", REPORT_TIME)
    assert chase.run_jb_ledger(office.app)
    assert not chase.run_jb_ledger(office.app)              # once a week
    li = office.last_to("li@t.test", "交办事项台账")
    assert li.subject == "交办事项台账（2026年11月30日至12月6日）：新交办7件，办结3件，逾期未办结1件"
    for part in ("李副总：", "本周新交办 7 件（其中已撤销 1 件）", "按期 1 件，延期后办结 1 件，逾期办结 1 件",
                 "视为办结（领导无新批示）1 件", "在办 3 件：未到期 2 件，逾期 1 件", "待阅示 1 件",
                 "2026年按期办结率：25.0%", "12月2日 17:30 → 12月4日 17:30（延期，李副总", "逾期 5 个工作日；催办 3 次"):
        assert part in li.text, (part, li.text)
    assert "王总交办" not in li.text and "六、各承办单位情况" not in li.text
    head = office.last_to("director@t.test", "交办事项台账")
    assert "主任：" in head.text and "六、各承办单位情况" in head.text and "G 王总交办" in head.text
    assert "交办领导：王总" in head.text and "<table" in head.html
    assert office.mails_to("wang@t.test")[-1].subject.startswith("交办事项台账")
    assert Job.get_or_none(Job.name == "jb-ledger-2026-W50") is not None


def test_a_leader_with_nothing_gets_no_mail(world, monkeypatch):
    matter(world, monkeypatch, "2026-12-01T09:00:00+08:00", "X", "2026-12-10")
    assert chase.run_jb_ledger(world.app)
    assert [m.subject[:6] for m in world.mails_to("li@t.test")] == ["交办事项台账"]
    assert world.mails_to("wang@t.test") == []
    assert len(world.mails_to("director@t.test")) == 1


def test_no_leader_no_ledger(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", REPORT_TIME)
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    w = World(tmp_path, leaders=())
    try:
        assert not chase.run_jb_ledger(w.app) and Outbox.select().count() == 0
    finally:
        models.close()


def test_later_in_the_week_only_to_catch_up(world, monkeypatch):
    matter(world, monkeypatch, "2026-12-01T09:00:00+08:00", "X", "2026-12-10")
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-08T09:00:00+08:00")
    assert not chase.run_jb_ledger(world.app)               # the daemon's first day is a Tuesday: none
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-14T08:30:00+08:00")
    assert chase.run_jb_ledger(world.app)
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-22T09:00:00+08:00")   # Monday missed: Tuesday catches up
    assert chase.run_jb_ledger(world.app)


# -- officeflow ledger -----------------------------------------------------------------------------------------

def run(world, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "OFFICEFLOW_NOW": "2026-12-09T10:00:00+08:00", "OFFICEFLOW_TEST_PASSWORD": "x"}
    return subprocess.run([sys.executable, "-m", "daemon", "ledger", "-c", str(world.cfg.path), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_officeflow_ledger_prints_the_same(office):
    out = run(office, "--leader", "li", "--week", "2026-W49")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("交办事项台账（2026年11月30日至12月6日）：新交办7件，办结3件，逾期未办结1件\n")
    assert "在办 3 件：未到期 2 件，逾期 1 件" in out.stdout and "各承办单位情况" not in out.stdout
    whole = run(office)                                     # the last complete week, the whole office
    assert whole.returncode == 0 and "2026年11月30日至12月6日" in whole.stdout and "各承办单位情况" in whole.stdout
    assert "本周新交办 8 件" in whole.stdout
    assert run(office, "--leader", "clerk@t.test").returncode == 1
    assert run(office, "--week", "2026-49").returncode == 2

"""What the executing unit owes (the 办结回告) is a step: made on approval with its due time, closed by 办结,
made by the schema upgrade for requests approved before, and what the digest lists once due."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from test_intake_edges import world  # noqa: F401 - the fixture: an office in process on SQLite
from test_migrations import FIXTURES, _load_release1, _pg_params

from daemon import chase, clock, flows, models, records, views
from daemon.models import REPORT, Mail, Request, Step
from daemon.workcal import parse_duration


def approved(world):
    world.filed_and_routed()
    note = world.last_to("wang@t.test")
    world.send("wang@t.test", "回复：" + note.subject, "同意", reply_to=note)
    req = Request.get()
    assert req.state == "approved"
    return req


def test_approval_makes_the_report_step_held_by_the_executing_unit(world):
    req = approved(world)
    step = Step.get((Step.request == req) & (Step.kind == REPORT))
    assert (step.state, step.approvers, step.activated_at) == ("active", ["zonghe@t.test"], req.state_since)
    assert step.next_reminder_at == world.app.calendar.add(req.state_since, parse_duration("10d"))
    assert records.holding(world.app, req) == flows.Holding("综合科", req.state_since, step.next_reminder_at)
    assert [s.label for s in views.form_data(world.app, req).steps] == ["王总"]     # no approval step on the form


def test_the_done_report_closes_the_step(world):
    req = approved(world)
    result = world.last_to("zonghe@t.test")
    world.send("zonghe@t.test", "回复：" + result.subject, "办结：已采购到位。", reply_to=result)
    step = Step.get((Step.request == req) & (Step.kind == REPORT))
    assert (Request.get().state, step.state, step.decided_by, step.next_reminder_at) == (
        "done", "approved", "zonghe@t.test", None)


def test_the_digest_lists_the_report_once_its_step_is_due(world, monkeypatch):
    req = approved(world)
    assert chase.digest_context(world.app)["not_reported_total"] == 0
    Step.update(next_reminder_at=req.state_since).where(Step.kind == REPORT).execute()
    digest = chase.digest_context(world.app)
    assert [(r["number"], r["holder"]) for r in digest["not_reported"]] == [(req.number, "综合科")]


def test_the_upgrade_gives_every_approved_request_its_report_step(tmp_path):
    _load_release1(tmp_path / "old.db")
    models.connect(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        owed = list(Step.select().where(Step.kind == REPORT))
        approved = list(Request.select().where(Request.state == "approved"))
        assert [s.request_id for s in owed] == [r.id for r in approved] and approved
        assert {r.kind for r in Request.select()} == {"请示"}
        for s, r in zip(owed, approved):
            assert (s.state, s.approvers, s.activated_at, s.next_reminder_at) == ("active", r.execute, r.state_since,
                                                                                   None)
            assert s.position > max(x.position for x in Step.select().where(
                (Step.request == r.id) & (Step.kind != REPORT)))
    finally:
        models.close()


@pytest.mark.mailserver
def test_the_upgrade_on_postgresql_gives_an_approved_request_its_report_step(pgserver):
    url = pgserver.create_database(f"of_{uuid.uuid4().hex[:12]}")
    raw = models.PostgresDatabase(**_pg_params(url))
    raw.connect()
    for statement in (s.strip() for s in (FIXTURES / "release1.postgres.sql").read_text(encoding="utf-8").split(";")):
        if statement and not statement.startswith("--"):
            raw.execute_sql(statement)
    at = "2026-11-21T02:00:00.000000+00:00"
    raw.execute_sql(
        'INSERT INTO "request" ("number", "year", "seq", "state", "unit_id", "unit_name", "sender", "title", "body", '
        '"message_id", "received_at", "updated_at", "state_since", "urgency", "attachments", "findings", "proposal", '
        '"proposal_by", "route", "execute", "copies", "result", "done_report", "code", "done_code") VALUES '
        "('办请〔2026〕5号', 2026, 5, 'approved', 'unit1', '第一分公司', 'unit1@t.test', '关于购置办公设备的请示', '', "
        f"'m@t.test', '{at}', '{at}', '{at}', '', '[]', '[]', '', '', '', '[\"zonghe@t.test\"]', '[]', '同意', '', "
        "'C1', 'D1')")
    raw.execute_sql('INSERT INTO "step" ("request_id", "position", "kind", "approvers", "signed", "state", "code", '
                    """"decided_by", "reminders", "away_note") VALUES (1, 1, 'one', '["wang@t.test"]', '[]', """
                    "'approved', 'X', '', 0, '')")
    raw.close()
    models.connect(url)
    try:
        step, req = Step.get(Step.kind == REPORT), Request.get()
        assert (step.position, step.approvers, step.state, step.activated_at, req.kind) == (
            2, ["zonghe@t.test"], "active", req.state_since, "请示")
    finally:
        models.close()


# -- 请报办结情况: the report step chased ------------------------------------------------------------------

def now_at(monkeypatch, moment) -> None:
    monkeypatch.setenv("OFFICEFLOW_NOW", moment.isoformat())


def report_step(req) -> Step:
    return Step.get((Step.request == req) & (Step.kind == REPORT))


def asked(world) -> list:
    return [m for m in world.mails_to("zonghe@t.test") if "请报办结情况" in m.subject]


def test_nothing_is_asked_before_the_report_step_is_due(world, monkeypatch):
    req = approved(world)
    now_at(monkeypatch, report_step(req).next_reminder_at - timedelta(minutes=1))
    assert chase.run_due(world.app) == 0 and asked(world) == []


def test_the_report_reminder_carries_the_done_code_and_is_recorded(world, monkeypatch):
    req = approved(world)
    due = report_step(req).next_reminder_at
    now_at(monkeypatch, due)
    assert chase.run_due(world.app) == 1
    assert chase.run_due(world.app) == 0                # claimed: the same moment again sends nothing
    [mail] = asked(world)
    assert mail.subject == f"【{req.number}】请报办结情况：关于购置办公设备的请示 〔流转码：{req.done_code}〕"
    record = Mail.get(Mail.kind == "report_reminder")
    assert (record.request_id, record.step_id, record.code, record.action) == (
        req.id, None, req.done_code, "催报办结情况：综合科（第1次）")
    step = report_step(req)
    assert step.reminders == 1
    assert step.next_reminder_at == world.app.calendar.next_working_moment(
        world.app.calendar.add(due, parse_duration("1d")))


def test_a_reminder_lost_to_another_daemon_is_not_sent(world, monkeypatch):
    req = approved(world)
    now_at(monkeypatch, report_step(req).next_reminder_at)
    stale = chase._due_reports(world.app, clock.now())
    assert chase.run_due(world.app) == 1                # the other daemon
    monkeypatch.setattr(chase, "_due_reports", lambda app, now: stale)
    assert chase.run_due(world.app) == 0 and len(asked(world)) == 1


def test_done_in_a_new_mail_with_the_code_of_the_reminder_closes_the_request(world, monkeypatch):
    req = approved(world)
    now_at(monkeypatch, report_step(req).next_reminder_at)
    chase.run_due(world.app)
    [mail] = asked(world)
    code = re.search(r"〔流转码：(\w+)〕", mail.subject).group(1)
    world.send("zonghe@t.test", f"【{req.number}】答复 〔流转码：{code}〕", "办结：已采购到位。")    # the phone button
    assert (Request.get().state, report_step(req).state) == ("done", "approved")
    now_at(monkeypatch, report_step(req).decided_at + timedelta(days=30))
    assert chase.run_due(world.app) == 0 and len(asked(world)) == 1


def test_a_report_step_from_the_upgrade_gets_its_due_time_then_is_chased(world, monkeypatch):
    req = approved(world)
    due = report_step(req).next_reminder_at
    Step.update(next_reminder_at=None).where(Step.kind == REPORT).execute()     # as the upgrade leaves it
    now_at(monkeypatch, due - timedelta(minutes=1))
    assert chase.run_due(world.app) == 0
    assert report_step(req).next_reminder_at == due
    now_at(monkeypatch, due)
    assert chase.run_due(world.app) == 1 and len(asked(world)) == 1


def test_without_an_executing_unit_nobody_is_asked_and_the_digest_lists_it(world, monkeypatch):
    req = approved(world)
    Request.update(execute=[]).where(Request.id == req.id).execute()
    now_at(monkeypatch, report_step(req).next_reminder_at + timedelta(hours=1))
    assert chase.run_due(world.app) == 0
    assert Mail.select().where(Mail.kind == "report_reminder").count() == 0
    assert [r["holder"] for r in chase.digest_context(world.app)["not_reported"]] == ["第一分公司"]

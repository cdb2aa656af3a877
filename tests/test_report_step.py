"""What the executing unit owes (the 办结回告) is a step: made on approval with its due time, closed by 办结,
made by the schema upgrade for requests approved before, and what the digest lists once due."""

from __future__ import annotations

import uuid

import pytest
from test_intake_edges import world  # noqa: F401 - the fixture: an office in process on SQLite
from test_migrations import FIXTURES, _load_release1, _pg_params

from daemon import chase, flows, models, records, views
from daemon.models import REPORT, Request, Step
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

"""Chasing a 交办 (SPEC §6.6): the due-time rules on the working calendar, one ordered list per unit, no double
send, 逾期督办 once a round, replies to a list, office staff's 催办, out-of-office replies, the digest section."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta, timezone

import pytest
from jiaoban_world import World

from daemon import chase, models
from daemon.app import App
from daemon.flows.jiaoban import Jiaoban
from daemon.jiaoban import chase as jb
from daemon.jiaoban import core, progress
from daemon.jiaoban.reader import Word
from daemon.jiaoban.table import TABLE
from daemon.models import ACTIVE, Job, Mail, Round, Step
from daemon.workcal import WorkCalendar

CST = timezone(timedelta(hours=8))
CAL = WorkCalendar("cn")
AT = time(8, 30)


def t(text: str) -> datetime:
    """"2026-12-04 17:30" in the office's zone."""
    return datetime.fromisoformat(text).replace(tzinfo=CST)


def local(at: datetime | None) -> str | None:
    return at.astimezone(CST).strftime("%Y-%m-%d %H:%M") if at is not None else None


# -- the due-time rules (pure) --------------------------------------------------------------------------------

REMIND_CASES = [
    # deadline, offset, due
    ("2026-12-04 17:30", "2d", "2026-12-02 08:30"),     # Friday: Wednesday at digest_at
    ("2026-12-04 17:30", "0d", "2026-12-04 08:30"),     # the deadline's own day
    ("2026-12-04 17:30", "4h", "2026-12-04 13:30"),     # four hours of office time before
    ("2026-12-04 17:30", "30m", "2026-12-04 17:00"),
    ("2026-12-04 10:00", "4h", "2026-12-03 15:00"),     # 1.5h on Friday morning, 2.5h on Thursday afternoon
    ("2026-12-07 17:30", "2d", "2026-12-03 08:30"),     # across a weekend: Monday → Thursday
    ("2026-12-07 17:30", "1d", "2026-12-04 08:30"),
    ("2026-12-07 17:30", "9h", "2026-12-04 16:00"),     # Monday's 7.5h, then 1.5h of Friday
    ("2026-12-05 17:30", "0d", "2026-12-04 08:30"),     # a deadline on a Saturday: the working day before
    ("2026-12-05 17:30", "2d", "2026-12-03 08:30"),     # two working days before Saturday: Friday, Thursday
    ("2026-10-09 17:30", "2d", "2026-09-30 08:30"),     # 国庆: 10月1日–7日 off
    ("2026-10-12 17:30", "1d", "2026-10-10 08:30"),     # the Saturday worked after 国庆 (调休) counts
    ("2026-10-12 17:30", "2d", "2026-10-09 08:30"),
    ("2026-02-24 17:30", "2d", "2026-02-13 08:30"),     # 春节: 2月15日–23日 off, Saturday 14th worked
    ("2026-02-24 17:30", "1d", "2026-02-14 08:30"),
    ("2026-02-24 17:30", "9h", "2026-02-14 16:00"),
    ("2026-12-04 08:00", "0d", None),                   # before office hours: no reminder on the day itself
]


@pytest.mark.parametrize("deadline,offset,due", REMIND_CASES)
def test_remind_at(deadline, offset, due):
    assert local(jb.remind_at(CAL, t(deadline), offset, AT)) == due


def test_a_reminder_that_falls_before_dispatch_is_skipped():
    times = jb.remind_times(CAL, t("2026-12-04 17:30"), t("2026-12-02 10:00"), ("2d", "0d", "4h"), AT)
    assert [local(x) for x in times] == ["2026-12-04 08:30", "2026-12-04 13:30"]


OVERDUE_CASES = [
    # deadline, repeat, until, due times
    ("2026-12-04 17:30", "1d", "2026-12-08 12:00", ["2026-12-07 08:30", "2026-12-08 08:30"]),   # Friday → Monday
    ("2026-12-04 17:30", "4h", "2026-12-08 09:00", ["2026-12-07 08:30", "2026-12-07 14:00", "2026-12-08 09:00"]),
    ("2026-09-30 17:30", "1d", "2026-10-09 09:00", ["2026-10-08 08:30", "2026-10-09 08:30"]),   # across 国庆
    ("2026-12-04 17:30", "1d", "2026-12-07 08:00", []),
]


@pytest.mark.parametrize("deadline,repeat,until,due", OVERDUE_CASES)
def test_overdue_times(deadline, repeat, until, due):
    assert [local(x) for x in jb.overdue_times(CAL, t(deadline), repeat, AT, t(until))] == due


@pytest.mark.parametrize("deadline,after,due", [
    ("2026-12-01 17:30", "1d", "2026-12-02 17:30"),     # the SPEC's example: Tuesday → Wednesday 17:30
    ("2026-12-04 17:30", "1d", "2026-12-07 17:30"),     # across a weekend
    ("2026-09-30 17:30", "1d", "2026-10-08 17:30"),     # across 国庆
    ("2026-12-04 17:30", "4h", "2026-12-07 14:00"),     # 3.5h of the morning, 0.5h after lunch
])
def test_escalate_at(deadline, after, due):
    assert local(jb.escalate_at(CAL, t(deadline), after)) == due


def test_progress_times():
    times = jb.progress_times(CAL, t("2026-12-01 10:00"), "2d", t("2026-12-07 12:00"))
    assert [local(x) for x in times] == ["2026-12-03 10:00", "2026-12-07 10:00"]


ITEM_CASES = [
    # first line of the reply, the 序号 it names (None: none), why none
    ("2 进展：清单已核对过半。", 2, ""),
    ("第2项 进展：……", 2, ""),
    ("2、已完成初稿", 2, ""),
    ("2. 已完成初稿", 2, ""),
    ("督办〔2026〕3号 进展：……", 3, ""),
    ("督办〔2026〕3号：办结：见附件", 3, ""),
    ("进展：正在办理。", None, ""),
    ("12月5日前可以办结", None, ""),              # a date, no 序号
    ("1.5万元经费已到位", None, ""),
    ("1、2 进展：均在办理。", None, "来信开头写了多个序号"),
    ("督办〔2026〕1号、督办〔2026〕2号 进展：……", None, "来信开头写了多个编号"),
    ("9 进展：……", None, "该提醒中没有第9项"),
    ("督办〔2026〕9号 进展：……", None, "督办〔2026〕9号不在该提醒所列事项之中"),
]


@pytest.mark.parametrize("line,seq,why", ITEM_CASES)
def test_the_item_a_reply_names(line, seq, why):
    from types import SimpleNamespace as NS
    app = NS(cfg=NS(jiaoban=NS(number_format="督办〔{year}〕{seq}号")))
    items = [NS(message_id=f"of.1@t.test#{n}", request=NS(number=f"督办〔2026〕{n}号")) for n in (1, 2, 3)]
    item, reason = jb.item_named(app, line, items)
    assert (int(item.message_id.rpartition("#")[2]) if item else None, reason) == (seq, why)


# -- in process ---------------------------------------------------------------------------------------------

@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-30T09:00:00+08:00")     # a Monday
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    w = World(tmp_path)
    w.now = lambda when: monkeypatch.setenv("OFFICEFLOW_NOW", when)
    yield w
    models.close()


def lists_to(world, address):
    return [m for m in world.mails_to(address) if m.subject.startswith("【交办提醒】")]


def four_matters(world):
    """Four matters to 综合科 (co-unit 安全科) from two leaders, dispatched on Monday 30 November."""
    a = world.dispatched("起草年度安全生产检查通报", "2026-12-04T17:30:00+08:00", leader="li@t.test")
    b = world.dispatched("整理消防设施台账", "2026-12-03T17:30:00+08:00", leader="wang@t.test", urgency="加急")
    c = world.dispatched("报送上月安全检查情况", "2026-11-30T17:30:00+08:00", leader="li@t.test")
    d = world.dispatched("核对应急物资清单", "2026-12-03T17:30:00+08:00", leader="wang@t.test", urgency="特急")
    return a, b, c, d


def test_three_kinds_due_to_one_unit_go_out_as_one_ordered_list(world):
    a, b, c, d = four_matters(world)
    world.now("2026-12-02T08:40:00+08:00")         # Wednesday: c overdue, a's 2d reminder, b and d due tomorrow
    assert jb.run_chase(world.app) == 3             # one list to 综合科, one to 安全科; c's 逾期督办
    mail = world.last_to("zonghe@t.test", "【交办提醒】")
    assert mail.subject.startswith("【交办提醒】综合科：4件")
    assert "clerk@t.test" in mail.cc                # it holds a 催办: office staff copied
    order = [c.number, d.number, b.number, a.number]      # overdue, then by deadline, 特急 before 加急
    positions = [mail.text.index(f". {n}") for n in order]
    assert positions == sorted(positions), mail.text
    assert "1. " + c.number + "〔催办〕" in mail.text
    assert "11月30日（周一）17:30前，逾期 2 个工作日" in mail.text and "王总交办" in mail.text and "李副总交办" in mail.text
    assert "交办事项催办通知" in mail.text
    assert len(lists_to(world, "anquan@t.test")) == 1
    # recorded: the list names every number; each matter's record has its item
    out = next(m for m in Mail.select().where(Mail.kind == "jb_list") if "zonghe@t.test" in m.rcpts)
    assert all(r.number in out.action for r in (a, b, c, d))
    items = Mail.select().where((Mail.kind == jb.LIST_ITEM) & (Mail.request == c))
    assert any("催办" in i.action for i in items)
    assert Round.get(Round.request == c).reminders == 1
    assert Round.get(Round.request == a).reminders == 0


def test_a_reminder_is_never_sent_twice_for_the_same_due_time(world):
    four_matters(world)
    world.now("2026-12-02T08:40:00+08:00")
    assert jb.run_chase(world.app) == 3
    before = Mail.select().where(Mail.direction == "out").count()
    assert jb.run_chase(world.app) == 0
    assert jb.run_chase(App(world.cfg)) == 0        # a restart: the claims are in the database
    chase.run_all(world.app)
    assert len(lists_to(world, "zonghe@t.test")) == 1
    assert Mail.select().where(Mail.direction == "out").count() >= before
    assert Job.select().where(Job.name.startswith("jb-")).count() == 4     # a's 临期, b's and d's 临期, c's 催办
    world.now("2026-12-02T17:45:00+08:00")          # after hours: nothing
    assert jb.run_chase(world.app) == 0
    world.now("2026-12-03T08:31:00+08:00")          # the next morning: c's next 催办, b and d on their day
    assert jb.run_chase(world.app) == 2
    assert len(lists_to(world, "zonghe@t.test")) == 2


def test_only_a_due_reminder_sends_a_list(world):
    world.dispatched("起草年度安全生产检查通报", "2026-12-04T17:30:00+08:00")
    world.now("2026-12-01T10:00:00+08:00")          # Tuesday: nothing due yet
    assert jb.run_chase(world.app) == 0
    world.now("2026-12-02T08:30:00+08:00")
    assert jb.run_chase(world.app) == 2
    mail = world.last_to("zonghe@t.test", "【交办提醒】")
    assert "交办事项临期提醒" in mail.text and "〔临期〕" in mail.text and "clerk@t.test" not in mail.cc
    assert "剩 2 个工作日" in mail.text


def test_a_co_unit_with_its_part_done_is_no_longer_chased(world):
    req = world.dispatched("起草年度安全生产检查通报", "2026-12-04T17:30:00+08:00")
    co = core.active_steps(req, "jb_co")[0]
    core.close_step(co, models.APPROVED_STEP, "anquan@t.test")
    world.now("2026-12-02T08:30:00+08:00")
    assert jb.run_chase(world.app) == 1
    assert lists_to(world, "anquan@t.test") == []


def test_escalation_once_per_round_to_the_leader_and_the_head(world):
    req = world.dispatched("起草年度安全生产检查通报", "2026-12-01T17:30:00+08:00")
    world.now("2026-12-02T10:00:00+08:00")          # overdue, not yet by a working day
    jb.run_chase(world.app)
    assert not [m for m in world.mails_to("li@t.test") if "逾期督办" in m.subject]
    world.now("2026-12-03T08:30:00+08:00")          # Wednesday 17:30 passed: the first run after it
    jb.run_chase(world.app)
    sent = [m for m in world.mails_to("li@t.test") if "逾期督办" in m.subject]
    assert len(sent) == 1 and "director@t.test" in sent[0].cc
    assert sent[0].subject.startswith(f"【{req.number}】逾期督办")
    assert "李副总：" in sent[0].text and "已催办" in sent[0].text
    assert Round.get(Round.request == req).escalated_at is not None
    world.now("2026-12-04T08:30:00+08:00")
    jb.run_chase(world.app)
    jb.run_chase(App(world.cfg))
    assert len([m for m in world.mails_to("li@t.test") if "逾期督办" in m.subject]) == 1
    assert len(lists_to(world, "zonghe@t.test")) == 3       # the 催办 goes on daily


def test_urgent_matters_are_chased_at_the_urgent_interval(world):
    world.dispatched("核对应急物资清单", "2026-12-01T17:30:00+08:00", urgency="特急")   # [reminders] 特急 = 2h
    for now in ("2026-12-02T08:30:00+08:00", "2026-12-02T09:30:00+08:00", "2026-12-02T10:31:00+08:00"):
        world.now(now)
        jb.run_chase(world.app)
    assert len(lists_to(world, "zonghe@t.test")) == 2


def test_a_lapsed_feedback_period_asks_the_lead_unit_for_progress(world):
    req = world.dispatched("起草年度安全生产检查通报", "2026-12-31T17:30:00+08:00")
    core.task_of(req).__class__.update(feedback_every="2d").execute()
    world.now("2026-12-02T09:30:00+08:00")          # two working days after dispatch on Monday 09:00
    assert jb.run_chase(world.app) == 1             # the lead unit only
    mail = world.last_to("zonghe@t.test", "【交办提醒】")
    assert "请报进展" in mail.text and "最近进展：尚未报告" in mail.text
    assert lists_to(world, "anquan@t.test") == []
    Round.update(last_progress_at=datetime.fromisoformat("2026-12-02T10:00:00+08:00")).execute()
    world.now("2026-12-03T09:30:00+08:00")
    assert jb.run_chase(world.app) == 0


def _recording_progress(monkeypatch):
    """The table with its 进展 row's handler replaced by a recorder (the handler itself is another module's)."""
    seen = []

    def record(act, word):
        seen.append(act)
        act.pipe.note(f"记录进展：{act.reply.text}", "progress", act.req, step=act.step)

    table = tuple(dataclasses.replace(r, apply=record) if r.apply is progress.progress else r for r in TABLE)
    monkeypatch.setattr(Jiaoban, "table", table)
    return seen


def test_a_reply_to_the_list_applies_to_the_item_it_names(world, monkeypatch):
    seen = _recording_progress(monkeypatch)
    a, b, c, d = four_matters(world)
    world.now("2026-12-02T08:40:00+08:00")
    jb.run_chase(world.app)
    listed = world.last_to("zonghe@t.test", "【交办提醒】")
    world.now("2026-12-02T09:00:00+08:00")
    world.reply("zonghe@t.test", listed, "2 进展：清单已核对过半。")
    assert len(seen) == 1
    act = seen[0]
    assert act.req.id == d.id and act.reply.word == Word.PROGRESS and act.reply.text == "清单已核对过半。"
    assert act.step.kind == "jb_lead" and act.step.request_id == d.id
    # by number instead of 序号
    world.reply("zonghe@t.test", listed, f"{a.number} 进展：初稿已完成。")
    assert seen[-1].req.id == a.id
    # the co-unit's list is answered on the co-unit's step
    co_list = world.last_to("anquan@t.test", "【交办提醒】")
    world.reply("anquan@t.test", co_list, "1 进展：已提供问题清单。")
    assert seen[-1].req.id == c.id and seen[-1].step.kind == "jb_co"


def test_a_reply_to_the_list_found_by_the_code_in_its_subject(world, monkeypatch):
    """A client that drops In-Reply-To and References: the list's code in the subject finds it."""
    seen = _recording_progress(monkeypatch)
    a, b, c, d = four_matters(world)
    world.now("2026-12-02T08:40:00+08:00")
    jb.run_chase(world.app)
    listed = world.last_to("zonghe@t.test", "【交办提醒】")
    world.send("zonghe@t.test", "回复：" + listed.subject, "4 进展：初稿已完成。")
    assert len(seen) == 1 and seen[0].req.id == a.id


def test_a_reply_to_the_list_without_a_number_is_asked_which(world, monkeypatch):
    seen = _recording_progress(monkeypatch)
    four_matters(world)
    world.now("2026-12-02T08:40:00+08:00")
    jb.run_chase(world.app)
    listed = world.last_to("zonghe@t.test", "【交办提醒】")
    world.reply("zonghe@t.test", listed, "进展：正在办理。")
    assert seen == []
    asked = world.last_to("zonghe@t.test", "来信所指不明")
    assert "未写明序号" in asked.text and "1. " in asked.text
    row = Mail.select().where(Mail.direction == "in").order_by(Mail.id.desc()).first()
    assert row.ignored and row.request is None
    for several in ("1、2 进展：均在办理。", "9 进展：……"):
        world.reply("zonghe@t.test", listed, several)
        assert seen == []
    # answering the question with the 序号 applies it
    world.reply("zonghe@t.test", asked, "3 进展：正在办理。")
    assert len(seen) == 1 and seen[0].reply.text == "正在办理。"


def test_a_list_of_one_item_needs_no_number(world, monkeypatch):
    seen = _recording_progress(monkeypatch)
    req = world.dispatched("起草年度安全生产检查通报", "2026-12-04T17:30:00+08:00", co_units=())
    world.now("2026-12-02T08:30:00+08:00")
    jb.run_chase(world.app)
    world.reply("zonghe@t.test", world.last_to("zonghe@t.test", "【交办提醒】"), "进展：初稿已完成。")
    assert len(seen) == 1 and seen[0].req.id == req.id


def test_office_staff_chase_a_matter_at_once(world):
    req = world.dispatched("起草年度安全生产检查通报", "2026-12-04T17:30:00+08:00")
    other = world.dispatched("整理消防设施台账", "2026-12-10T17:30:00+08:00")
    world.now("2026-12-01T10:00:00+08:00")
    code = core.active_steps(req, "jb_lead")[0].code
    world.send("clerk@t.test", f"回复：【{req.number}】交办通知单 〔流转码：{code}〕", "催办\n请抓紧。")
    mail = world.last_to("zonghe@t.test", "【交办提醒】")
    assert "clerk@t.test" in mail.cc and "办公室现对以下标“催办”" in mail.text
    assert mail.text.index(req.number) < mail.text.index(other.number)      # the other open one for context
    assert len(lists_to(world, "anquan@t.test")) == 1
    assert Round.get(Round.request == req).reminders == 1
    row = Mail.select().where(Mail.direction == "in").order_by(Mail.id.desc()).first()
    assert row.request_id == req.id and "办公室催办" in row.action


def test_an_out_of_office_reply_is_recorded_on_the_matter(world):
    req = world.dispatched("起草年度安全生产检查通报", "2026-12-01T17:30:00+08:00")
    world.now("2026-12-03T08:30:00+08:00")
    jb.run_chase(world.app)
    esc = [m for m in world.mails_to("li@t.test") if "逾期督办" in m.subject][-1]
    before = Mail.select().where(Mail.direction == "out").count()
    world.send("li@t.test", "自动回复：" + esc.subject, "本人12月3日至5日出差，邮件将延后处理。", reply_to=esc)
    row = Mail.select().where(Mail.direction == "in").order_by(Mail.id.desc()).first()
    assert row.request_id == req.id and "自动回复" in row.action and row.ignored
    assert Mail.select().where(Mail.direction == "out").count() == before      # no delegate asked, no answer
    # to a list: recorded on the step the unit holds
    listed = world.last_to("zonghe@t.test", "【交办提醒】")
    world.send("zonghe@t.test", "自动回复：" + listed.subject, "休假中。", reply_to=listed)
    assert "休假中" in Step.get((Step.request == req) & (Step.kind == "jb_lead") & (Step.state == ACTIVE)).away_note
    assert Mail.select().where(Mail.direction == "out").count() == before


def test_the_digest_has_a_jiaoban_section(world):
    from types import SimpleNamespace
    core.create(world.app, leader="li@t.test", by="li@t.test", content="研究食堂管理办法",
                mail=SimpleNamespace(text="交办：研究食堂管理办法", message_id="m1@t.test"))
    late = world.dispatched("报送上月安全检查情况", "2026-11-30T17:30:00+08:00")
    soon = world.dispatched("起草年度安全生产检查通报", "2026-12-02T17:30:00+08:00")
    later = world.dispatched("整理消防设施台账", "2026-12-31T17:30:00+08:00")
    Round.update(signed_at=datetime.fromisoformat("2026-11-30T10:00:00+08:00")).where(Round.request == later).execute()
    world.now("2026-12-01T09:30:00+08:00")
    section = chase.digest_context(world.app)["jiaoban"]
    assert [r["content"] for r in section["verifying"]] == ["研究食堂管理办法"]
    assert [r["number"] for r in section["overdue"]] == [late.number]
    assert [r["number"] for r in section["due_soon"]] == [soon.number]
    assert {r["number"] for r in section["unsigned"]} == {late.number, soon.number}
    assert all(i["number"] not in (late.number, soon.number) for i in chase.digest_context(world.app)["items"])
    assert chase.run_digest(world.app, force=True)
    digest = world.last_to("clerk@t.test", "待办汇总")
    assert "四、交办事项" in digest.text and "未签收" in digest.text and "待核定" in digest.text
    assert "交办逾期1件" in digest.subject


def test_without_leaders_the_digest_is_as_before(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-01T09:30:00+08:00")
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    w = World(tmp_path, leaders=())
    try:
        assert chase.digest_context(w.app)["jiaoban"] is None
        assert chase.run_digest(w.app, force=True)
        assert "交办" not in w.last_to("clerk@t.test", "待办汇总").text
    finally:
        models.close()


def test_the_qingshi_chase_leaves_a_jiaoban_alone(world):
    req = world.dispatched("起草年度安全生产检查通报", "2026-12-04T17:30:00+08:00")
    Step.update(next_reminder_at=datetime.fromisoformat("2026-11-30T10:00:00+08:00")).where(
        Step.request == req).execute()
    req.state = models.APPROVING            # even a 交办 row that looked like a 请示 in approval
    req.save()
    world.now("2026-12-01T10:00:00+08:00")
    assert chase.run_due(world.app) == 0

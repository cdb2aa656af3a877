"""Chasing (催办) end to end on real Dovecot + SMTP relay, time moved with OFFICEFLOW_NOW between runs:
reminders on the Chinese working calendar, 特急, deadlines, escalation (督办), staff 催办, out-of-office
replies, the daily digest and the weekly summary; restarts and two daemons never send anything twice."""

from __future__ import annotations

import re
import threading
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import make_msgid

import chinese_calendar
import pytest
from flow import GOOD_BODY, SH, Office, at, crlf, sent

from daemon import chase, models
from daemon.app import App

pytestmark = pytest.mark.mailserver


# Every calendar fact these tests rely on; checked against chinese_calendar's data below, not assumed.
WORKDAY = {
    date(2026, 9, 18): True,     # Friday
    date(2026, 9, 19): False,    # Saturday
    date(2026, 9, 20): True,     # Sunday, 调休 for 国庆
    date(2026, 9, 30): True,     # Wednesday, the last working day before 国庆
    **{date(2026, 10, d): False for d in range(1, 8)},   # 国庆 2026
    date(2026, 10, 8): True,     # Thursday
    date(2026, 10, 9): True,     # Friday
    date(2026, 10, 10): True,    # Saturday, 调休 for 国庆
    date(2026, 10, 11): False,   # Sunday
    date(2026, 10, 12): True,    # Monday
    **{date(2026, 11, d): True for d in (23, 24, 25, 26, 27, 30)},   # Monday 23rd to Friday 27th, Monday 30th
    date(2026, 11, 28): False,   # Saturday
    date(2026, 11, 29): False,   # Sunday
    **{date(2026, 12, d): True for d in (1, 2, 3)},    # Tuesday to Thursday
}

CONFIG = """
[hours]
calendar = "cn"
office = ["08:30-12:00", "13:30-17:30"]

[reminders]
first_after = "1d"
repeat_every = "1d"
escalate_after = 2
urgent = { "特急" = "2h", "加急" = "4h" }
digest_at = "23:00"
weekly_at = "09:00"
report_after = "10d"
"""


def test_the_calendar_facts_these_tests_rely_on():
    assert {d: chinese_calendar.is_workday(d) for d in WORKDAY} == WORKDAY
    assert [date(2026, 9, 20).weekday(), date(2026, 10, 10).weekday()] == [6, 5]
    assert all(chinese_calendar.get_holiday_detail(date(2026, 10, d))[1] == "National Day" for d in range(1, 8))
    assert chinese_calendar.is_in_lieu(date(2026, 9, 20)) is False      # a 调休 working day, not a day off
    assert date(2026, 12, 2).weekday() == 2


# -- the office and its clock --------------------------------------------------------------------------

@pytest.fixture
def office(mailservers, maildomain, tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    o = Office(mailservers, maildomain, tmp_path, extra=CONFIG)
    o.monkeypatch = monkeypatch
    yield o
    models.close()


def reconfigure(office: Office, **reminders: str) -> None:
    text = CONFIG
    for key, value in reminders.items():
        text = re.sub(rf"^{key} = .*$", f'{key} = "{value}"', text, flags=re.M)
    office.extra = text
    office.write_config()






def start(office: Office, when: str, accept: str = "受理\n流程：李副总", **request) -> str:
    """A 请示 arrives at `when` and office staff accept it at the same moment; returns its number."""
    office.monkeypatch.setenv("OFFICEFLOW_NOW", datetime.fromisoformat(when).replace(tzinfo=SH).isoformat())
    office.send_request(**request)
    office.run_once()
    number = re.search(r"【(.+?)】", office.last("unit1").subject).group(1)
    if accept:
        office.reply("clerk", sent(office, "clerk", "review", number)[-1], accept)
        office.run_once()
        assert step(office, number).state == "active"
    return number


def request(office: Office, number: str):
    db = office.db()
    return db.Request.get(db.Request.number == number)


def step(office: Office, number: str):
    db = office.db()
    return db.Step.select().where(db.Step.request == request(office, number)).order_by(db.Step.position).first()


def local(moment: datetime) -> str:
    return moment.astimezone(SH).strftime("%Y-%m-%d %H:%M")


# -- reminders on the working calendar -------------------------------------------------------------------

def test_a_reminder_due_on_a_weekend_moves_to_monday_morning(office):
    number = start(office, "2026-11-27 10:00")              # Friday; one day later would be Saturday
    assert local(step(office, number).next_reminder_at) == "2026-11-30 10:00"
    for when in ("2026-11-27 17:00", "2026-11-28 10:00", "2026-11-29 10:00", "2026-11-30 09:59"):
        at(office, when)
        assert sent(office, "li", "reminder") == [], when
    at(office, "2026-11-30 10:00")
    reminders = sent(office, "li", "reminder", number)
    assert len(reminders) == 1 and "催办" in reminders[0].subject and "李副总" in reminders[0].text
    assert len(sent(office, "zhao", "reminder", number)) == 1          # the delegate is copied
    at(office, "2026-11-30 10:00")                                      # a restart at the same moment
    at(office, "2026-11-30 12:30")                                      # lunch: not office hours
    assert len(sent(office, "li", "reminder", number)) == 1
    assert local(step(office, number).next_reminder_at) == "2026-12-01 10:00"


def test_a_reminder_waits_out_the_national_day_holiday_and_a_make_up_saturday_counts(office):
    number = start(office, "2026-09-30 10:00")              # the Wednesday before 国庆
    for when in ("2026-10-01 10:00", "2026-10-04 10:00", "2026-10-07 10:00", "2026-10-08 09:59"):
        at(office, when)
        assert sent(office, "li", "reminder") == [], when
    at(office, "2026-10-08 10:00")
    assert len(sent(office, "li", "reminder", number)) == 1
    at(office, "2026-10-09 10:00")
    assert len(sent(office, "li", "reminder", number)) == 2
    at(office, "2026-10-10 10:00")                          # Saturday, a 调休 working day
    assert len(sent(office, "li", "reminder", number)) == 3
    assert "第3次" in sent(office, "li", "reminder", number)[-1].subject
    at(office, "2026-10-12 08:30")                          # one working day after Saturday is Monday 10:00
    assert len(sent(office, "li", "reminder", number)) == 3
    at(office, "2026-10-12 10:00")
    assert len(sent(office, "li", "reminder", number)) == 4


def test_a_make_up_sunday_is_a_working_day(office):
    number = start(office, "2026-09-18 10:00")              # Friday; Sunday the 20th is a 调休 working day
    assert local(step(office, number).next_reminder_at) == "2026-09-20 10:00"
    at(office, "2026-09-19 10:00")
    assert sent(office, "li", "reminder") == []
    at(office, "2026-09-20 10:00")
    assert len(sent(office, "li", "reminder", number)) == 1


@pytest.mark.parametrize("subject, accept", [
    ("【特急】关于购置办公设备的请示", "受理\n流程：李副总"),
    ("关于购置办公设备的请示", "受理\n紧急：特急\n流程：李副总"),
], ids=["in the title", "in the 受理 reply"])
def test_an_urgent_request_is_chased_within_hours_and_only_in_office_hours(office, subject, accept):
    number = start(office, "2026-11-26 09:00", accept=accept, subject=subject)
    assert request(office, number).urgency == "特急"
    at(office, "2026-11-26 10:59")
    assert sent(office, "li", "reminder") == []
    at(office, "2026-11-26 12:15")                          # due at 11:00, but the lunch break is not office time
    assert sent(office, "li", "reminder") == []
    at(office, "2026-11-26 13:30")
    reminders = sent(office, "li", "reminder", number)
    assert len(reminders) == 1 and "特急" in reminders[0].subject


def test_escalation_after_the_configured_reminders_tells_the_head_and_copies_the_superior(office):
    number = start(office, "2026-11-26 09:00")              # Thursday; 李副总's superior is 王总
    for when, reminders in (("2026-11-27 09:00", 1), ("2026-11-30 09:00", 2)):
        at(office, when)
        assert len(sent(office, "li", "reminder", number)) == reminders
        assert sent(office, "director", "escalation") == [] and sent(office, "wang", "escalation") == []
    at(office, "2026-12-01 09:00")                          # two reminders went unanswered
    assert len(sent(office, "li", "reminder", number)) == 3  # reminders go on
    to_head, to_superior = sent(office, "director", "escalation", number), sent(office, "wang", "escalation", number)
    assert len(to_head) == 1 and to_head[0].message_id == to_superior[0].message_id
    assert office.addr["director"] in to_head[0].to and office.addr["wang"] in to_head[0].cc
    assert "李副总" in to_head[0].subject and "2次催办" in to_head[0].text
    at(office, "2026-12-01 09:00")                          # a restart
    at(office, "2026-12-02 09:00")
    assert len(sent(office, "li", "reminder", number)) == 4
    assert len(sent(office, "director", "escalation")) == 1 and len(sent(office, "wang", "escalation")) == 1


def test_a_deadline_brings_reminders_sooner_and_marks_the_request_overdue_after_it(office):
    reconfigure(office, first_after="5d")                   # without the deadline: Thursday 3 December
    body = GOOD_BODY.replace("妥否，请批示。", "请于12月2日前批复。妥否，请批示。")
    for number in (start(office, "2026-11-26 09:00", body=body),
                   start(office, "2026-11-26 09:00", accept="受理\n时限：12月2日\n流程：李副总")):
        assert request(office, number).deadline == date(2026, 12, 2)
        assert local(step(office, number).next_reminder_at) == "2026-12-01 08:30"
    at(office, "2026-11-30 17:00")
    assert sent(office, "li", "reminder") == []
    at(office, "2026-12-01 08:30")                          # the working day before the deadline
    at(office, "2026-12-02 08:30")                          # the deadline day
    reminders = sent(office, "li", "reminder")
    assert len(reminders) == 4 and not any("超期" in m.text or "超过办理时限" in m.text for m in reminders)
    at(office, "2026-12-03 08:30")                          # past the deadline
    late = sent(office, "li", "reminder")[4:]
    assert len(late) == 2 and all("已超期" in m.text and "超过办理时限" in m.text for m in late)


# -- people asking and people away ----------------------------------------------------------------------

def test_office_staff_replying_cuiban_sends_a_reminder_at_once(office):
    number = start(office, "2026-11-26 09:00")
    office.reply("clerk", sent(office, "clerk", "review", number)[-1], "催办")
    at(office, "2026-11-26 09:30")
    reminders = sent(office, "li", "reminder", number)
    assert len(reminders) == 1 and "李副总" in reminders[0].text
    db = office.db()
    assert "催办" in db.Mail.get((db.Mail.direction == "in") & (db.Mail.sender == office.addr["clerk"])
                                 & (db.Mail.kind == "remind")).action
    assert local(step(office, number).next_reminder_at) == "2026-11-27 09:30"   # the next one counts from now
    at(office, "2026-11-27 09:00")
    assert len(sent(office, "li", "reminder", number)) == 1
    # the approver may answer the reminder itself
    office.reply("li", reminders[0], "同意")
    at(office, "2026-11-27 10:00")
    assert request(office, number).state == "approved"


def out_of_office(office: Office, who: str, original, text: str) -> None:
    msg = EmailMessage()
    msg["From"] = office.addr[who]
    msg["To"] = office.addr["office"]
    msg["Subject"] = f"自动回复：{original.subject}"
    msg["Message-ID"] = make_msgid(domain=office.domain)
    msg["In-Reply-To"] = f"<{original.message_id}>"
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content(text, charset="utf-8")
    office.servers.send(crlf(msg), [office.addr["office"]], office.addr[who])


def test_an_out_of_office_reply_is_recorded_the_delegate_asked_and_staff_told(office):
    number = start(office, "2026-11-26 09:00")              # 李副总's delegate is 赵秘书
    approval = sent(office, "li", "approval", number)[-1]
    li_before, zhao_before = len(office.inbox("li")), len(sent(office, "zhao", "approval", number))
    out_of_office(office, "li", approval, "您好，我于11月26日至12月4日出差，期间不能及时处理邮件。")
    at(office, "2026-11-26 09:10")

    assert "出差" in step(office, number).away_note and office.addr["li"] in step(office, number).away_note
    asked = sent(office, "zhao", "approval", number)[zhao_before:]
    assert len(asked) == 1 and asked[0].to == (office.addr["zhao"],) and "代李副总" in asked[0].text
    told = sent(office, "clerk", "away_notice", number)
    assert len(told) == 1 and "出差" in told[0].text and "赵秘书" in told[0].text
    assert len(office.inbox("li")) == li_before             # nothing answered to the robot
    db = office.db()
    record = db.Mail.get((db.Mail.direction == "in") & (db.Mail.subject.startswith("自动回复")))
    assert record.ignored and "外出" in record.action

    out_of_office(office, "li", approval, "您好，我于11月26日至12月4日出差。")   # robots answer again
    at(office, "2026-11-26 09:20")
    assert step(office, number).away_note.count(office.addr["li"]) == 2
    assert len(sent(office, "zhao", "approval", number)) == zhao_before + 1
    assert len(sent(office, "clerk", "away_notice", number)) == 1
    assert len(office.inbox("li")) == li_before

    office.reply("zhao", asked[0], "同意，代李副总签。")     # the delegate decides
    at(office, "2026-11-26 10:00")
    assert request(office, number).state == "approved"
    assert "赵秘书代" in db.Opinion.get(db.Opinion.decision == "同意").name


# -- digests -------------------------------------------------------------------------------------------

def test_the_daily_digest_lists_pending_items_longest_waiting_first_with_overdue_and_ignored_mail(office):
    reconfigure(office, digest_at="08:30")
    a = start(office, "2026-11-23 09:00", accept="")        # Monday: received, accepted only on Wednesday
    b = start(office, "2026-11-24 09:00", accept="")        # Tuesday: still with the office
    office.send_request(who="stranger", subject="推广：办公用品八折")
    at(office, "2026-11-24 10:00")                          # ignored more than a day before the digest
    at(office, "2026-11-25 09:00")
    office.reply("clerk", sent(office, "clerk", "review", a)[-1], "受理\n流程：李副总")
    at(office, "2026-11-25 09:00")
    c = start(office, "2026-11-25 11:00", accept="受理\n时限：11月25日\n流程：王总")   # overdue from Thursday
    office.send_request(who="stranger", subject="关于合作的来函")
    at(office, "2026-11-26 10:00")                          # ignored within the day before the digest

    at(office, "2026-11-27 08:29")
    friday = [m for m in sent(office, "clerk", "digest") if "11月27日" in m.subject]
    assert friday == []
    at(office, "2026-11-27 08:30")
    friday = [m for m in sent(office, "clerk", "digest") if "11月27日" in m.subject]
    assert len(friday) == 1
    assert [m.message_id for m in sent(office, "director", "digest") if "11月27日" in m.subject] == [friday[0].message_id]
    pending = friday[0].text.split("一、在办请示")[1].split("二、")[0]
    entries = [e for e in re.split(r"\n(?=\d+\. )", pending) if "号" in e]
    assert [re.search(r"办请〔2026〕\d+号", e).group(0) for e in entries] == [b, a, c]   # b waits since Tuesday
    status = dict(zip((b, a, c), entries))
    assert "超期" in status[c] and "超期" not in status[a] and "超期" not in status[b], status
    assert "李副总" in status[a] and "办公室" in status[b] and "王总" in status[c]
    # every ignored mail is listed once, in the first digest after it: none is lost over a weekend
    digests = {day: [m for m in sent(office, "clerk", "digest") if day in m.subject][0].text.split("三、")[1]
               for day in ("11月25日", "11月26日", "11月27日")}
    assert "推广" in digests["11月25日"] and "关于合作的来函" not in digests["11月25日"]
    assert "关于合作的来函" in digests["11月26日"] and "推广" not in digests["11月26日"]
    assert "推广" not in digests["11月27日"] and "关于合作的来函" not in digests["11月27日"]

    at(office, "2026-11-27 08:30")                          # a restart
    at(office, "2026-11-28 09:00")                          # Saturday: no digest
    assert len([m for m in sent(office, "clerk", "digest") if "11月27日" in m.subject]) == 1
    assert not [m for m in sent(office, "clerk", "digest") if "11月28日" in m.subject]
    office.send_request(who="stranger", subject="周六来信")
    at(office, "2026-11-28 10:00")                          # ignored on Saturday ...
    at(office, "2026-11-30 08:30")                          # ... is in Monday's digest
    monday = [m for m in sent(office, "clerk", "digest") if "11月30日" in m.subject][0]
    assert "周六来信" in monday.text.split("三、")[1]


def test_the_weekly_summary_goes_to_the_head_on_the_first_working_day_of_the_week(office):
    at(office, "2026-10-05 10:00")                          # Monday in the 国庆 holiday
    assert sent(office, "director", "weekly") == []
    at(office, "2026-10-08 08:59")
    assert sent(office, "director", "weekly") == []
    at(office, "2026-10-08 09:00")                          # Thursday, the first working day of that week
    assert len(sent(office, "director", "weekly")) == 1

    # the daemon was not running on Monday 11-23: Tuesday catches up with everything since the last summary
    number = start(office, "2026-11-24 09:00")              # Tuesday of the next reported week
    weekly = sent(office, "director", "weekly")
    assert len(weekly) == 2 and "10月5日" in weekly[1].subject and "11月22日" in weekly[1].subject
    office.reply("li", sent(office, "li", "approval", number)[-1], "同意")
    at(office, "2026-11-25 10:00")
    at(office, "2026-11-30 08:59")
    assert len(sent(office, "director", "weekly")) == 2
    at(office, "2026-11-30 09:00")                          # Monday
    at(office, "2026-11-30 09:00")                          # a restart
    at(office, "2026-12-01 09:00")                          # Tuesday
    weekly = sent(office, "director", "weekly")
    assert len(weekly) == 3 and "11月23日" in weekly[2].subject
    assert "收文 1 件" in weekly[2].text and "批准 1 件" in weekly[2].text and "李副总：1件" in weekly[2].text
    assert sent(office, "clerk", "weekly") == []


# -- the 办结回告 the executing unit owes ------------------------------------------------------------------

def approved(office: Office, when: str) -> str:
    """A 请示 filed, accepted and approved by 李副总 at `when`; returns its number."""
    number = start(office, when)
    office.reply("li", sent(office, "li", "approval", number)[-1], "同意")
    at(office, when)
    assert request(office, number).state == "approved"
    return number


def test_the_executing_unit_is_asked_for_its_report_when_due_and_again_until_it_reports(office):
    reconfigure(office, report_after="2d")
    number = approved(office, "2026-11-26 10:00")           # Thursday: the report is due on Monday at 10:00
    done_code = request(office, number).done_code
    for when in ("2026-11-27 10:00", "2026-11-28 10:00", "2026-11-29 10:00", "2026-11-30 09:59"):
        at(office, when)
        assert sent(office, "zonghe", "report_reminder") == [], when
    at(office, "2026-11-30 10:00")
    at(office, "2026-11-30 10:00")                          # a restart at the same moment
    at(office, "2026-11-30 16:00")
    asked = sent(office, "zonghe", "report_reminder", number)
    assert len(asked) == 1 and asked[0].subject.startswith(f"【{number}】请报办结情况：关于购置办公设备的请示")
    assert f"〔流转码：{done_code}〕" in asked[0].subject and "尚未收到你单位的办结回告" in asked[0].text
    assert "办结：" in asked[0].text
    db = office.db()
    record = db.Mail.get(db.Mail.kind == "report_reminder")
    assert (record.action, record.code, record.rcpts) == ("催报办结情况：综合科（第1次）", done_code,
                                                          [office.addr["zonghe"]])
    assert sent(office, "unit1", "report_reminder") == [] and sent(office, "li", "report_reminder") == []
    at(office, "2026-11-30 23:00")                          # the digest still lists it, though asked today
    digest = sent(office, "clerk", "digest")[-1].text
    assert "已批准待办结回告1件" in digest and number in digest.partition("二、")[2].partition("三、")[0]

    at(office, "2026-12-01 09:59")
    assert len(sent(office, "zonghe", "report_reminder", number)) == 1
    at(office, "2026-12-01 10:00")                          # repeat_every later, firmer
    asked = sent(office, "zonghe", "report_reminder", number)
    assert len(asked) == 2 and "（第2次）" in asked[1].subject and "此前已催报1次" in asked[1].text

    office.reply("zonghe", asked[1], "办结：设备已于12月1日采购到位并登记入账。")      # answering the reminder
    at(office, "2026-12-01 10:30")
    req = request(office, number)
    assert (req.state, req.done_report) == ("done", "设备已于12月1日采购到位并登记入账。")
    at(office, "2026-12-02 10:00")
    at(office, "2026-12-03 10:00")
    assert len(sent(office, "zonghe", "report_reminder", number)) == 2


def test_two_daemons_on_one_database_ask_for_a_report_once(office, monkeypatch):
    reconfigure(office, report_after="1d")
    number = approved(office, "2026-11-26 10:00")
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-27T10:00:00+08:00")
    office.db()
    both_looked = threading.Barrier(2, timeout=60)
    find = chase._due_reports

    def found_then_wait(app, now):
        steps = find(app, now)
        both_looked.wait()              # both daemons have seen the report due before either claims it
        return steps

    monkeypatch.setattr(chase, "_due_reports", found_then_wait)
    results, errors = [], []

    def daemon():
        try:
            results.append(chase.run_due(App(office.cfg)))   # own App, own SQLite connection (per thread)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            models.db.close()

    threads = [threading.Thread(target=daemon) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(results) == [0, 1]
    monkeypatch.setattr(chase, "_due_reports", find)
    office.run_once()
    assert len(sent(office, "zonghe", "report_reminder", number)) == 1
    db = office.db()
    assert db.Step.get((db.Step.request == request(office, number)) & (db.Step.kind == "report")).reminders == 1


# -- two daemons on one database -------------------------------------------------------------------------

def test_two_daemons_on_one_database_send_one_reminder(office, monkeypatch):
    number = start(office, "2026-11-26 09:00")
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-27T09:00:00+08:00")
    office.db()
    both_looked = threading.Barrier(2, timeout=60)
    find = chase._due_steps

    def found_then_wait(now):
        steps = find(now)
        both_looked.wait()              # both daemons have seen the reminder due before either claims it
        return steps

    monkeypatch.setattr(chase, "_due_steps", found_then_wait)
    results, errors = [], []

    def daemon():
        try:
            results.append(chase.run_due(App(office.cfg)))   # own App, own SQLite connection (per thread)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            models.db.close()

    threads = [threading.Thread(target=daemon) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(results) == [0, 1]
    monkeypatch.setattr(chase, "_due_steps", find)
    office.run_once()
    assert len(sent(office, "li", "reminder", number)) == 1
    assert step(office, number).reminders == 1


@pytest.mark.parametrize("part", [None, 2])
def test_a_long_digest_lists_the_longest_waiting_and_counts_the_rest(office, monkeypatch, part):
    """Years of neglect must still make a readable mail: at most DIGEST_ROWS lines a section, all counted;
    the open requests are read a part at a time (`part` requests), and the result does not depend on it."""
    from daemon import chase, clock, limits, outbox
    from daemon.app import App
    monkeypatch.setattr(chase, "DIGEST_ROWS", 3)
    if part:
        monkeypatch.setattr(limits, "SQL_CHUNK", part)
    for n in range(5):          # one a minute: the first ones have waited longest
        monkeypatch.setenv("OFFICEFLOW_NOW", f"2026-11-26T09:0{n}:00+08:00")
        office.send_request(subject=f"关于购置办公设备的请示（{n}）", attachments=[])
        office.run_once()
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T11:00:00+08:00")
    office.db()                 # binds the database
    app = App(office.cfg)
    ctx = chase.digest_context(app)
    assert (ctx["items_total"], len(ctx["items"])) == (5, 3)
    assert [i["number"] for i in ctx["items"]] == [f"办请〔2026〕{n}号" for n in (1, 2, 3)]
    rnd = outbox.renderer_for(office.cfg.office.timezone)
    _, text, html = rnd.render("digest", {**ctx, "office": office.cfg.office, "code": "",
                                          "now": clock.now(), "tz": office.cfg.office.timezone})
    assert "在办请示5件" in text and "另有2件未列出" in text and "另有2件未列出" in html
    models.close()

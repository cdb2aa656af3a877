"""Chasing a 交办 (SPEC §6.6): 临期提醒, 催办 and 逾期督办, sent as one ordered list per unit per run; office
staff's 催办; replies to a list; out-of-office replies; the digest's 交办 section.

Due times are reckoned from the record (the round's deadline in force, its dispatch, the last 进展) on the
working calendar, so nothing needs to be stored ahead. Each due time is claimed with a Job row per (matter,
round, kind, due time), and 逾期督办 with a conditional UPDATE of the round, in the transaction that queues
its mails: a restart or a second daemon never sends one twice. Nothing here talks to IMAP or SMTP.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone


from daemon import clock, limits, outbox
from daemon.deadline import WEEKDAYS, describe, working_days_left
from daemon.jiaoban import (CHECKING, CLARIFYING, CO, COORDINATE, EXTENDING, KIND, LEAD, REASSIGN, RUNNING,
                            UNIT_STEPS, VERIFYING, core)
from daemon.jiaoban.reader import read
from daemon.models import ACTIVE, Job, Mail, Opinion, Request, Round, Step, Task, db
from daemon.workcal import Duration, parse_duration

log = logging.getLogger("officeflow.jiaoban")

REMIND, OVERDUE, PROGRESS = "临期提醒", "催办", "请报进展"
_JOB = {REMIND: "remind", OVERDUE: "overdue", PROGRESS: "progress"}
_URGENCY_ORDER = {"特急": 0, "加急": 1}
_OFFSET = re.compile(r"\s*([0-9]+)\s*([mhd])\s*", re.IGNORECASE)
LIST_ITEM = "jb_list_item"      # Mail.kind of the record of one item of a list (message_id: the list's + #序号)
MAX_ITEMS = 100                 # items a list shows; a unit with more open 交办 is told how many are left out


# -- due times (pure: the calendar and the settings come in as arguments) --------------------------------------

def _offset(text: str) -> tuple[int, str]:
    m = _OFFSET.fullmatch(text or "")
    if m is None:
        raise ValueError(f"无法识别的提前量 {text!r}：应写作 2d、0d 或 4h")
    return int(m[1]), m[2].lower()


def _wall(cal, at: datetime) -> datetime:
    return at.astimezone(cal.zone).replace(tzinfo=None) if at.tzinfo else at


def _workday_on_or_before(cal, day: date) -> date:
    for _ in range(60):
        if cal.is_workday(day):
            return day
        day -= timedelta(days=1)
    return day


def _workday_after(cal, day: date) -> date:
    day += timedelta(days=1)
    for _ in range(60):
        if cal.is_workday(day):
            return day
        day += timedelta(days=1)
    return day


def working_time_before(cal, at: datetime, amount: timedelta) -> datetime:
    """The moment `amount` of office time before `at` (the inverse of WorkCalendar.add for minutes and hours)."""
    t = _wall(cal, at)
    day = t.date()
    for _ in range(400):
        if cal.is_workday(day):
            for opens, closes in reversed(cal.office):
                o, c = datetime.combine(day, opens), datetime.combine(day, closes)
                if t <= o:
                    continue
                end = min(t, c)
                if amount <= end - o:
                    return (end - amount).replace(tzinfo=cal.zone)
                amount -= end - o
        day -= timedelta(days=1)
        t = datetime.combine(day + timedelta(days=1), time(0))
    raise ValueError("no office time within a year")


def remind_at(cal, deadline_at: datetime, offset: str, digest_at: time) -> datetime | None:
    """When the 临期提醒 of one `remind_before` offset is due. "2d": at `digest_at` on the working day two
    working days before the deadline's day ("0d": the deadline's day, or the working day before it when the
    deadline falls on a day off); "4h": that much office time before the deadline. None when that moment is not
    before the deadline."""
    amount, unit = _offset(offset)
    if unit == "d":
        day = _wall(cal, deadline_at).date()
        for _ in range(amount):
            day = _workday_on_or_before(cal, day - timedelta(days=1))
        day = _workday_on_or_before(cal, day)
        due = datetime.combine(day, digest_at, tzinfo=cal.zone)
    else:
        due = working_time_before(cal, deadline_at, timedelta(minutes=amount * (60 if unit == "h" else 1)))
    return due if due < deadline_at else None


def remind_times(cal, deadline_at: datetime, dispatched_at: datetime | None, offsets, digest_at: time
                 ) -> list[datetime]:
    """Every 临期提醒 due time of a round, earliest first; an offset falling before dispatch is skipped."""
    times = {t for o in offsets if (t := remind_at(cal, deadline_at, o, digest_at)) is not None
             and (dispatched_at is None or t >= dispatched_at)}
    return sorted(times)


def overdue_times(cal, deadline_at: datetime, repeat: str, digest_at: time, until: datetime) -> list[datetime]:
    """The 催办 due times up to `until`: at `digest_at` on the first working day after the deadline's day, then
    every `repeat` of working time."""
    first = datetime.combine(_workday_after(cal, _wall(cal, deadline_at).date()), digest_at, tzinfo=cal.zone)
    if first <= deadline_at:        # a deadline set after the opening of its own day's office hours, edge case
        first = cal.next_working_moment(deadline_at + timedelta(minutes=1))
    step = parse_duration(repeat)
    times, due = [], first
    while due <= until and len(times) < 5000:
        times.append(due)
        due = cal.next_working_moment(cal.add(due, step))
    return times


def escalate_at(cal, deadline_at: datetime, after: str) -> datetime:
    """When a round is overdue by `after` of working time ("1d": one working day of office time, so a deadline
    on Tuesday 17:30 → Wednesday 17:30); the 逾期督办 goes at the first run at or after it in office hours."""
    d = parse_duration(after)
    if d.unit == "d":
        d = Duration(int(d.amount * cal.day_length.total_seconds() // 60), "m")
    return cal.add(deadline_at, d)


def progress_times(cal, since: datetime, every: str, until: datetime) -> list[datetime]:
    """When a lead unit silent since `since` (its last 进展, or the dispatch) is asked for 进展: every `every`."""
    step = parse_duration(every)
    times, due = [], cal.next_working_moment(cal.add(since, step))
    while due <= until and len(times) < 5000:
        times.append(due)
        due = cal.next_working_moment(cal.add(due, step))
    return times


# -- what is due now ------------------------------------------------------------------------------------------

@dataclass
class Matter:
    """A dispatched 交办 being done: its request, task, current round and active unit steps."""
    req: Request
    task: Task
    rnd: Round
    steps: list[Step]
    due: list[tuple[str, datetime]] = field(default_factory=list)   # (kind, due time) claimed in this run

    @property
    def deadline(self) -> datetime | None:
        return self.rnd.deadline_at or self.task.deadline_at


def _running() -> list[Matter]:
    reqs = list(Request.select().where((Request.kind == KIND) & Request.state.in_(RUNNING)))
    if not reqs:
        return []
    tasks = {t.request_id: t for t in Task.select().where(Task.request.in_(reqs))}
    rounds = {(r.request_id, r.number): r for r in Round.select().where(Round.request.in_(reqs))}
    steps: dict[int, list[Step]] = {}
    for s in Step.select().where(Step.request.in_(reqs) & (Step.state == ACTIVE) & Step.kind.in_(UNIT_STEPS)
                                 ).order_by(Step.position):
        steps.setdefault(s.request_id, []).append(s)
    out = []
    for req in reqs:
        task = tasks.get(req.id)
        rnd = rounds.get((req.id, task.round)) if task else None
        if task is None or rnd is None:
            continue
        mine = [s for s in steps.get(req.id, []) if s.round in (None, task.round)]
        if mine:
            out.append(Matter(req, task, rnd, mine))
    return out


def _feedback_every(app, task: Task) -> str:
    return task.feedback_every or app.cfg.jiaoban.progress_every or ""


def _progress_lapsed(app, m: Matter, now: datetime) -> datetime | None:
    every = _feedback_every(app, m.task)
    since = m.rnd.last_progress_at or m.rnd.dispatched_at
    if not every or since is None:
        return None
    times = progress_times(app.calendar, since, every, now)
    return times[-1] if times else None


def dues(app, m: Matter, now: datetime) -> list[tuple[str, datetime]]:
    """What of the matter is due by `now`: the latest 临期提醒 or 催办 due time passed, and the latest 请报进展."""
    cal, cfg = app.calendar, app.cfg
    out = []
    deadline = m.deadline
    if deadline is not None:
        if now < deadline:
            past = [t for t in remind_times(cal, deadline, m.rnd.dispatched_at, cfg.jiaoban.remind_before,
                                            cfg.reminders.digest_at) if t <= now]
            if past:
                out.append((REMIND, past[-1]))
        else:
            repeat = cfg.reminders.urgent.get(m.req.urgency or "") or cfg.jiaoban.overdue_repeat
            times = overdue_times(cal, deadline, repeat, cfg.reminders.digest_at, now)
            if times:
                out.append((OVERDUE, times[-1]))
    lapsed = _progress_lapsed(app, m, now)
    if lapsed is not None:
        out.append((PROGRESS, lapsed))
    return out


def _claim(name: str) -> bool:
    """Inside the caller's transaction: True for the one daemon that records `name` first."""
    return Job.claim(name, clock.now())


def _job_name(kind: str, m: Matter, at: datetime) -> str:
    return f"jb-{_JOB[kind]}-{m.req.id}-r{m.rnd.number}-{at.astimezone(timezone.utc):%Y%m%dT%H%MZ}"


# -- the list to one unit -------------------------------------------------------------------------------------

def _item(app, m: Matter, step: Step, now: datetime, due: list[str]) -> dict:
    cal, d = app.calendar, app.directory
    deadline = m.deadline
    overdue = deadline is not None and now > deadline
    lead = step.kind == LEAD
    last = m.rnd.last_progress_at
    return {"req": m.req, "number": m.req.number, "leader": d.name_of(m.task.leader),
            "content": " ".join((m.task.content or m.req.title or "").split()), "urgency": m.req.urgency or "",
            "deadline_at": deadline, "deadline_line": describe(deadline, now, cal) if deadline else "待明确",
            "overdue": overdue, "overdue_days": -working_days_left(deadline, now, cal) if overdue else 0,
            "role": "承办" if lead else "协办", "lead_name": d.name_of(m.task.lead),
            "last_progress": last, "ask_progress": lead and _progress_lapsed(app, m, now) is not None,
            "due": due, "reminders": m.rnd.reminders, "extending": m.req.state == EXTENDING, "step": step}


def _sort(items: list[dict]) -> list[dict]:
    """Overdue first (most overdue first: the earliest deadline), then by deadline, then 特急, 加急, the rest."""
    far = datetime(9999, 1, 1, tzinfo=timezone.utc)
    return sorted(items, key=lambda i: (not i["overdue"], i["deadline_at"] or far,
                                        _URGENCY_ORDER.get(i["urgency"], 2), i["req"].id))


def _reply_by(app, now: datetime) -> str:
    """The next working day, as the 催办 asks for 进展 by it: 12月8日（周二）."""
    day = _workday_after(app.calendar, now.astimezone(app.tz).date())
    return f"{day.month}月{day.day}日（{WEEKDAYS[day.weekday()]}）"


def send_list(app, unit: str, matters: list[Matter], now: datetime, flagged: dict[int, list[str]],
              by_office: bool = False) -> Mail:
    """One list to `unit`: every running 交办 it holds a step of, those with something due flagged, ordered;
    recorded once for the list (request-less, every number named) and once per item on its matter, so that a
    reply beginning with an item's 序号 or number is applied to that matter."""
    d = app.directory
    items = []
    for m in matters:
        for step in m.steps:
            if unit in [a.lower() for a in step.approvers]:
                due = [k for k in flagged.get(m.req.id, []) if k != PROGRESS or step.kind == LEAD]
                items.append(_item(app, m, step, now, due))
                break
    items = _sort(items)
    shown, left = items[:MAX_ITEMS], max(0, len(items) - MAX_ITEMS)
    for n, i in enumerate(shown, 1):
        i["seq"] = n
    example = next((i for i in shown if i["due"]), shown[0] if shown else None)
    overdue = any(OVERDUE in i["due"] for i in shown)
    kind = OVERDUE if overdue or by_office else REMIND
    name = d.name_of(unit)
    ctx = {"req": None, "unit_name": name, "items": shown, "left": left, "kind": kind, "by_office": by_office,
           "due_total": sum(1 for i in shown if i["due"]), "reply_by": _reply_by(app, now),
           "example": example["seq"] if example else 1, "example_number": example["number"] if example else ""}
    named = "、".join(f"{i['seq']}.{i['number']}" + (f"〔{'、'.join(i['due'])}〕" if i["due"] else "") for i in shown)
    action = f"{'办公室催办' if by_office else kind}，交办提醒{name}共{len(shown)}件：{named}"
    cc = list(app.cfg.office.staff) if kind == OVERDUE else []
    mail = outbox.queue(app.cfg, "jb_list", [unit], ctx, cc=cc, action=action)
    for i in shown:
        what = "、".join(i["due"]) or "列入"
        Mail.create(direction="out", message_id=f"{mail.message_id}#{i['seq']}", request=i["req"], step=i["step"],
                    kind=LIST_ITEM, at=mail.at, sender=mail.sender, rcpts=mail.rcpts, subject=mail.subject,
                    action=f"{what}：交办提醒{name}第{i['seq']}项", code=i["step"].code)
    return mail


def _units_due(matters: list[Matter]) -> dict[str, None]:
    """The units to send a list to: every holder of an active step of a matter with something claimed (请报进展
    only to the lead unit), in order."""
    units: dict[str, None] = {}
    for m in matters:
        kinds = {k for k, _ in m.due}
        for step in m.steps:
            if kinds - {PROGRESS} or (PROGRESS in kinds and step.kind == LEAD):
                for a in step.approvers:
                    units[a.lower()] = None
    return units


# -- the periodic run -----------------------------------------------------------------------------------------

def run_chase(app) -> int:
    """The 交办 chasing due now, only in office hours on working days: one list per unit, 逾期督办 once a round,
    and 视为办结 (daemon.jiaoban.report) when that exists. Returns the mails queued."""
    now = clock.now()
    if not app.calendar.is_working_time(now):
        return 0
    sent = 0
    from daemon.jiaoban import report
    if hasattr(report, "deem_closed_due"):
        try:
            report.deem_closed_due(app)
        except Exception:  # noqa: BLE001 - 视为办结 failing must not stop the chasing
            log.exception("- 视为办结 failed")
    with db.atomic():
        matters = _running()
        for m in matters:
            try:
                m.due = [(k, at) for k, at in dues(app, m, now) if _claim(_job_name(k, m, at))]
            except Exception:  # noqa: BLE001 - one broken matter must not stop the others
                log.exception("%s due times could not be reckoned", m.req.number)
                m.due = []
            if any(k == OVERDUE for k, _ in m.due):
                Round.update(reminders=Round.reminders + 1).where(Round.id == m.rnd.id).execute()
                m.rnd.reminders += 1
        flagged = {m.req.id: [k for k, _ in m.due] for m in matters if m.due}
        for unit in _units_due(matters):
            send_list(app, unit, matters, now, flagged)
            sent += 1
        for m in matters:
            if m.due:
                log.info("%s chased: %s", m.req.number, "、".join(k for k, _ in m.due))
        sent += escalate(app, matters, now)
    return sent


def escalate(app, matters: list[Matter], now: datetime) -> int:
    """逾期督办: a round overdue by jiaoban.escalate_after, to the leader with the head copied, once a round."""
    sent = 0
    for m in matters:
        deadline = m.deadline
        if deadline is None or m.rnd.escalated_at is not None:
            continue
        if escalate_at(app.calendar, deadline, app.cfg.jiaoban.escalate_after) > now:
            continue
        claimed = Round.update(escalated_at=now).where((Round.id == m.rnd.id) & Round.escalated_at.is_null()
                                                       ).execute()
        if not claimed:
            continue
        send_escalation(app, m, now)
        sent += 1
    return sent


def send_escalation(app, m: Matter, now: datetime) -> Mail:
    d, cfg = app.directory, app.cfg
    cal = app.calendar
    lead = next((s for s in m.steps if s.kind == LEAD), None)
    co_open = [d.name_of(a) for s in m.steps if s.kind == CO for a in s.approvers]
    co_done = [o.name for o in Opinion.select().where((Opinion.request == m.req) & (Opinion.decision == "协办完毕"))]
    last = (Opinion.select().where((Opinion.request == m.req) & (Opinion.decision == "进展"))
            .order_by(Opinion.at.desc(), Opinion.id.desc()).first())
    days = -working_days_left(m.deadline, now, cal)
    to = [m.task.leader]
    cc = [cfg.office.head]
    mail = core.send(app, "jb_escalation", to, m.req, cc=cc,
                     action=f"逾期督办：逾期{days}个工作日，报{d.name_of(m.task.leader)}，抄送办公室主任",
                     overdue_days=days, reminders=m.rnd.reminders, round_number=m.rnd.number,
                     dispatched_at=m.rnd.dispatched_at, co_open=co_open, co_done=list(dict.fromkeys(co_done)),
                     last_progress=last, lead_open=lead is not None, extending=m.req.state == EXTENDING)
    log.info("%s 逾期督办 to %s (overdue %d working days)", m.req.number, m.task.leader, days)
    return mail


# -- office staff's 催办 ---------------------------------------------------------------------------------------

def remind_now(act, word) -> None:
    """Office staff replied 催办 on a mail of a 交办: its units get their list now, this matter flagged 催办
    (copied to office staff); it counts as a 催办 of the round."""
    app, req = act.app, act.req
    now = clock.now()
    matters = _running()
    this = next((m for m in matters if m.req.id == req.id), None)
    if this is None:
        act.pipe.note("催办：该交办当前无待办单位，未发出提醒", "remind", req, ignored=True)
        return
    Round.update(reminders=Round.reminders + 1).where(Round.id == this.rnd.id).execute()
    this.rnd.reminders += 1
    units = list(dict.fromkeys(a.lower() for s in this.steps for a in s.approvers))
    for unit in units:
        send_list(app, unit, matters, now, {req.id: [OVERDUE]}, by_office=True)
    names = "、".join(app.directory.name_of(u) for u in units)
    core.record(req, act.sender, app.directory.name_of(act.sender), "催办",
                f"第{this.rnd.reminders}次催办{names}" + (f"：{act.reply.text}" if act.reply.text else ""))
    act.pipe.note(f"办公室催办，已向{names}发出交办提醒（第{this.rnd.reminders}次催办）", "remind", req)


# -- a reply to a list ----------------------------------------------------------------------------------------

_SEVERAL = re.compile(r"^\s*(?:第\s*)?\d{1,3}\s*(?:项\s*)?(?:[、,，和及与/]|\s+)\s*(?:第\s*)?\d{1,3}(?!\d)")
_ONE = re.compile(r"^\s*(?:第\s*)?(\d{1,3})(?:\s*项|\s*[.．](?!\d)|\s*[、)）:：]|\s)")


def _list_of(pipe) -> Mail | None:
    """The list (or the question about one) that the mail answers: by its Message-ID in In-Reply-To or
    References, else by the code in the subject."""
    mail = pipe.mail
    ids = [i for i in dict.fromkeys((*mail.in_reply_to, *reversed(mail.references))) if i and
           len(i) <= limits.MAX_ID_LENGTH]
    found = {m.message_id: m for part in limits.chunks(ids) for m in Mail.select().where(
        (Mail.direction == "out") & Mail.message_id.in_(part) & Mail.request.is_null()
        & Mail.kind.in_(("jb_list", "jb_list_which")))} if ids else {}
    for i in ids:
        if i in found:
            return found[i]
    codes = re.findall(r"流转码[:：]?\s*([A-Z0-9]{4,8})", mail.subject or "")
    if codes:
        return (Mail.select().where((Mail.direction == "out") & (Mail.code == codes[-1]) & Mail.request.is_null()
                                    & Mail.kind.in_(("jb_list", "jb_list_which"))).order_by(Mail.id.desc()).first())
    return None


def _items_of(listed: Mail) -> list[Mail]:
    ids = [f"{listed.message_id}#{n}" for n in range(1, MAX_ITEMS + 1)]
    rows = [m for part in limits.chunks(ids) for m in Mail.select().where(
        (Mail.direction == "out") & Mail.message_id.in_(part) & (Mail.kind == LIST_ITEM))]
    return sorted(rows, key=lambda m: int(m.message_id.rpartition("#")[2]))


def item_named(app, first_line: str, items: list[Mail]) -> tuple[Mail | None, str]:
    """The item a reply's first line begins with (its 序号 or its number), or why none: "" when it names none,
    else the reason in Chinese."""
    from daemon.flows.base import number_pattern     # not at the top: daemon.flows imports this module's table
    line = (first_line or "").strip()
    pattern = number_pattern(app.cfg.jiaoban.number_format)
    if (m := pattern.match(line)) is not None:
        rest = line[m.end():]
        if pattern.match(rest.lstrip(" 、,，和及与/")):
            return None, "来信开头写了多个编号"
        hit = [i for i in items if i.request is not None and i.request.number == m.group(0)]
        return (hit[0], "") if hit else (None, f"{m.group(0)}不在该提醒所列事项之中")
    if _SEVERAL.match(line):
        return None, "来信开头写了多个序号"
    said = read(line)                   # 2进展：… (a 序号 right before a keyword)
    if said.item is not None or (m := _ONE.match(line)) is not None:
        n = said.item if said.item is not None else int(m[1])
        hit = [i for i in items if i.message_id.endswith(f"#{n}")]
        return (hit[0], "") if hit else (None, f"该提醒中没有第{n}项")
    return None, ""


def list_reply(pipe, reply) -> tuple[Request | None, Mail | None] | None:
    """A reply to a 交办提醒 list, which belongs to no single matter: (the matter, the record of its item) for
    the item whose 序号 or number begins the reply — a list of one item needs none; (None, None) when it names
    none or several (the sender is asked which); None when the mail answers no list."""
    if getattr(reply.verb, "value", "") == "查询" or pipe.asks_query(reply):
        return None                     # 查询 is answered as any 查询 is, by the number it names
    listed = _list_of(pipe)
    if listed is None:
        return None
    items = _items_of(listed)
    first = next((line for line in (reply.new_text or "").splitlines() if line.strip()), "")
    item, why = item_named(pipe.app, first, items)
    if item is None and not why and len(items) == 1:
        item = items[0]
    if item is not None:
        pipe.threaded = True
        return item.request, item
    why = why or "来信开头未写明序号或编号"
    pipe.note(f"回复交办提醒，{why}，无法确定所指事项，未处理", "ambiguous", ignored=True)
    sent = pipe.answer("jb_list_which", {"reply": reply, "why": why, "items": [
        {"seq": int(i.message_id.rpartition("#")[2]), "number": i.request.number, "content": i.request.title}
        for i in items if i.request is not None]}, action="询问所指的交办事项")
    if sent is not None:
        for i in items:
            Mail.create(direction="out", message_id=f"{sent.message_id}#{i.message_id.rpartition('#')[2]}",
                        request=i.request, step=i.step, kind=LIST_ITEM, at=sent.at, sender=sent.sender,
                        rcpts=sent.rcpts, subject=sent.subject, action="询问所指事项时列出", code=i.code)
    return None, None


# -- out-of-office replies ------------------------------------------------------------------------------------

def away(pipe, req: Request, ref: Mail | None) -> None:
    """An out-of-office reply from a unit or a leader about a 交办: recorded on the matter (and on the step the
    sender holds); nothing goes back to the robot, nobody is asked to stand in."""
    mail, d = pipe.mail, pipe.app.directory
    sender = (mail.from_addr or "").lower()
    text = (mail.text or mail.subject or "").strip()[:500]
    step = None
    if ref is not None and ref.step_id:
        step = Step.get_or_none((Step.id == ref.step_id) & (Step.state == ACTIVE))
    if step is None:
        step = next((s for s in core.active_steps(req) if sender in [a.lower() for a in s.approvers]), None)
    if step is not None:
        step.away_note = (step.away_note + "\n" if step.away_note else "") + f"{sender}：{text}"
        step.save()
    pipe.note(f"{d.name_of(sender)}自动回复（外出），已记录在该交办事项，不答复", "auto", req, ignored=True, step=step)


def away_from_list(pipe) -> bool:
    """An out-of-office reply to a 交办提醒 list: recorded on the steps the sender holds among its items; False
    when the mail answers no list."""
    listed = _list_of(pipe)
    if listed is None:
        return False
    mail, d = pipe.mail, pipe.app.directory
    sender = (mail.from_addr or "").lower()
    text = (mail.text or mail.subject or "").strip()[:500]
    numbers = []
    for item in _items_of(listed):
        step = Step.get_or_none((Step.id == item.step_id) & (Step.state == ACTIVE)) if item.step_id else None
        if step is not None and sender in [a.lower() for a in step.approvers]:
            step.away_note = (step.away_note + "\n" if step.away_note else "") + f"{sender}：{text}"
            step.save()
            numbers.append(item.request.number)
    pipe.note(f"{d.name_of(sender)}自动回复（外出），回复的是交办提醒" + (f"，已记录在{'、'.join(numbers)}"
              if numbers else "") + "，不答复", "auto", ignored=True)
    return True


# -- the digest's 交办 section --------------------------------------------------------------------------------

def digest_section(app, now: datetime | None = None) -> dict | None:
    """What office staff's daily digest lists of the 交办 (SPEC §6.6): None when nobody may 交办."""
    if not app.cfg.leaders:
        return None
    now = now or clock.now()
    cal, d = app.calendar, app.directory
    reqs = list(Request.select().where((Request.kind == KIND) & Request.state.in_(
        (VERIFYING, CLARIFYING, *RUNNING, CHECKING))).order_by(Request.id))
    tasks = {t.request_id: t for t in Task.select().where(Task.request.in_(reqs))} if reqs else {}
    rounds = {(r.request_id, r.number): r for r in Round.select().where(Round.request.in_(reqs))} if reqs else {}
    steps: dict[int, list[Step]] = {}
    for s in (Step.select().where(Step.request.in_(reqs) & (Step.state == ACTIVE)) if reqs else []):
        steps.setdefault(s.request_id, []).append(s)

    def row(req, task, since=None, note=""):
        deadline = task.deadline_at if task else None
        return {"number": req.number, "content": (task.content if task else "") or req.title,
                "leader": d.name_of(task.leader) if task else req.unit_name,
                "lead": d.name_of(task.lead) if task and task.lead else "",
                "deadline": describe(deadline, now, cal) if deadline else "待明确",
                "since": since or req.state_since, "waited": cal.format_waited(since or req.state_since, now),
                "note": note}

    out = {k: [] for k in ("verifying", "clarifying", "unsigned", "checking", "extending", "coordinate",
                           "reassign", "overdue", "due_soon")}
    overdue, soon = [], []
    for req in reqs:
        task = tasks.get(req.id)
        if task is None:
            continue
        rnd = rounds.get((req.id, task.round))
        active = steps.get(req.id, [])
        if req.state == VERIFYING:
            out["verifying"].append(row(req, task))
        elif req.state == CLARIFYING:
            out["clarifying"].append(row(req, task))
        elif req.state == CHECKING:
            out["checking"].append(row(req, task))
        if req.state == EXTENDING:
            out["extending"].append(row(req, task))
        for s in active:
            if s.kind == COORDINATE:
                out["coordinate"].append(row(req, task, s.activated_at))
            elif s.kind == REASSIGN:
                out["reassign"].append(row(req, task, s.activated_at))
        if req.state not in RUNNING or rnd is None:
            continue
        if rnd.signed_at is None and rnd.dispatched_at is not None and \
                cal.add(rnd.dispatched_at, parse_duration("1d")) <= now:
            out["unsigned"].append(row(req, task, rnd.dispatched_at, f"派发于{_short(rnd.dispatched_at, app)}"))
        deadline = rnd.deadline_at or task.deadline_at
        if deadline is None:
            continue
        if now > deadline:
            r = row(req, task, deadline, f"已催办{rnd.reminders}次" if rnd.reminders else "")
            overdue.append((deadline, r))
        elif working_days_left(deadline, now, cal) <= 2:
            soon.append((deadline, row(req, task)))
    out["overdue"] = [r for _, r in sorted(overdue, key=lambda x: x[0])]
    out["due_soon"] = [r for _, r in sorted(soon, key=lambda x: x[0])]
    sections = [{"key": k, "title": title, "rows": out[k][:MAX_ITEMS], "count": len(out[k]),
                 "more": max(0, len(out[k]) - MAX_ITEMS), "waiting": k in _WAITING}
                for k, title in DIGEST_SECTIONS if out[k]]
    return {"sections": sections, "total": sum(len(v) for v in out.values()), **out}


DIGEST_SECTIONS = (("verifying", "待核定"), ("clarifying", "待明确（已询问交办领导）"),
                   ("unsigned", "未签收（派发满一个工作日，承办单位未回复）"), ("checking", "待核报"),
                   ("extending", "延期待批"), ("coordinate", "请求协调未答复"), ("reassign", "申请改派未处理"),
                   ("overdue", "已逾期"), ("due_soon", "两个工作日内到期"))
_WAITING = ("verifying", "clarifying", "checking", "extending", "coordinate", "reassign")


def _short(at: datetime, app) -> str:
    local = at.astimezone(app.tz)
    return f"{local.month}月{local.day}日{local:%H:%M}"

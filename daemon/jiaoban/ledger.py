"""The weekly 台账 of the 交办 (SPEC §6.7): counts for a week, the tables, every change of a deadline.

Every figure comes from the record (the rounds' dates, the deadline changes, the 进展 lines), never from what a
report says. `compute` is pure: a function of matters read in a few queries (views.load); `send` queues the
mails of a week (each leader theirs, the head the whole office's) and `text` is what `officeflow ledger` prints.
Nothing here talks to IMAP or SMTP.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from daemon import clock, outbox
from daemon.deadline import format_deadline, working_days_left
from daemon.jiaoban import (CANCELLED, CHECKING, CLARIFYING, CLOSED, DOING, EXTENDING, KIND, READING, STATE_LABELS,
                            VERIFYING)
from daemon.jiaoban.core import EXTENDED, LATE, ON_TIME
from daemon.jiaoban.views import Matter, closed_at, later_changes, load, round_result
from daemon.models import Request, Task

log = logging.getLogger("officeflow.jiaoban")

TEMPLATE = "jb_ledger"


@dataclass
class Ledger:
    """One 台账: of one leader (leader_name) or of the whole office (whole)."""
    start: date                 # Monday
    end: date                   # Sunday
    at: datetime                # the figures stand as of this moment: the week's end, or now within the week
    final: bool                 # the week is over: the figures stand as of its end (Sunday 24:00)
    leader_name: str = ""
    whole: bool = False
    counts: dict = field(default_factory=dict)
    overdue: list[dict] = field(default_factory=list)      # 逾期未办结, most overdue first
    reading: list[dict] = field(default_factory=list)      # 待阅示
    running: list[dict] = field(default_factory=list)      # 在办未到期, by deadline
    closed: list[dict] = field(default_factory=list)       # 本周办结
    changes: list[dict] = field(default_factory=list)      # every other change of a deadline in the week
    units: list[dict] = field(default_factory=list)        # the head's copy: per lead unit

    @property
    def empty(self) -> bool:
        """Nothing assigned in the week and nothing open: no mail (SPEC §6.7). A matter closed in the week is not
        nothing: the 台账 is where the leader learns of a 视为办结."""
        return not self.counts.get("new") and not self.counts.get("open") and not self.counts.get("closed")


def week_of(day: date) -> tuple[date, date]:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def last_complete_week(today: date) -> date:
    """The Monday of the last week (Monday to Sunday) that has ended before `today`."""
    return week_of(today)[0] - timedelta(days=7)


def week_start(app, monday: date | None = None) -> date:
    return monday or last_complete_week(clock.now().astimezone(app.tz).date())


# -- the figures (pure) -------------------------------------------------------------------------------------

def _state_at(m: Matter, at: datetime) -> str:
    """The state of the matter at `at` as far as the record's dates tell: its state now when nothing has
    happened since; else what the current round's dates say (reported → 待核报, checked → 待阅示)."""
    end = closed_at(m)
    if end is not None and end <= at:
        return m.req.state
    rnd = m.current
    if rnd is None:
        return VERIFYING if m.req.state in (CLOSED, CANCELLED) else m.req.state
    if m.req.state in (VERIFYING, CLARIFYING, DOING, EXTENDING) and (rnd.reported_at is None or
                                                                     rnd.reported_at > at):
        return m.req.state
    for moment, state in ((rnd.checked_at, READING), (rnd.reported_at, CHECKING), (rnd.dispatched_at, DOING)):
        if moment is not None and moment <= at:
            return state
    return VERIFYING


def _overdue_days(m: Matter, at: datetime, cal) -> int | None:
    """Working days overdue at `at` (SPEC §6.5: after the deadline's day, up to and including that day; 0 on
    the deadline's own evening) when dispatched, not reported by then, its deadline in force passed; else None."""
    rnd = m.current
    if rnd is None or rnd.dispatched_at is None or rnd.deadline_at is None or rnd.dispatched_at > at:
        return None
    if m.req.state in (VERIFYING, CLARIFYING) or (rnd.reported_at is not None and rnd.reported_at <= at):
        return None
    if rnd.deadline_at >= at:
        return None
    return max(-working_days_left(rnd.deadline_at, at, cal), 0)


def compute(matters: list[Matter], start: date, at: datetime, cal, name_of, whole: bool = False,
            leader_name: str = "") -> Ledger:
    """The 台账 of `matters` for the week from Monday `start`, its figures as of `at` (the week's end, or
    earlier while the week runs). Pure: `cal` is the working calendar, `name_of` names an address."""
    tz = cal.zone
    lo = datetime.combine(start, time(0), tzinfo=tz)
    hi = lo + timedelta(days=7)
    last = hi - timedelta(microseconds=1)      # Sunday 24:00, still counted as Sunday
    final = at >= last
    at = min(at, last)
    year = at.astimezone(tz).year
    led = Ledger(start, start + timedelta(days=6), at, final, leader_name, whole)
    c = {"new": 0, "new_cancelled": 0, "closed": 0, ON_TIME: 0, EXTENDED: 0, LATE: 0, "deemed": 0, "open": 0,
         "not_due": 0, "overdue": 0, "reading": 0, "year_closed": 0, "year_on_time": 0}
    units: dict[str, dict] = {}
    for m in matters:
        req, task, rnd = m.req, m.task, m.current
        if req.received_at >= at:
            continue
        lead = name_of(task.lead) if task.lead else "（未定）"
        unit = units.setdefault(lead, {"name": lead, "open": 0, "overdue": 0, "closed": 0, "on_time": 0})
        row = {"number": req.number, "title": task.content or req.title, "lead": lead,
               "leader": name_of(task.leader), "deadline": _deadline(task.deadline_at, at, tz),
               "reminders": rnd.reminders if rnd is not None else 0}
        if lo <= req.received_at < hi:
            c["new"] += 1
            c["new_cancelled"] += req.state == CANCELLED
        end = closed_at(m)
        later = [(ch, old) for ch, old in later_changes(m) if ch.at <= at]
        if req.state == CLOSED and end is not None and end <= at:
            result = round_result(rnd)
            if end.astimezone(tz).year == year:
                c["year_closed"] += 1
                c["year_on_time"] += result == ON_TIME
                unit["closed"] += 1
                unit["on_time"] += result == ON_TIME
            if lo <= end < hi:
                c["closed"] += 1
                if result in (ON_TIME, EXTENDED, LATE):
                    c[result] += 1
                deemed = bool(rnd is not None and rnd.deemed)
                c["deemed"] += deemed
                led.closed.append({**row, "result": result or "—", "deemed": deemed,
                                   "days": f"{max(cal.working_days_between(req.received_at, end), 0):.1f}",
                                   "changes": [_change(ch, old, name_of, tz) for ch, old in later]})
        for ch, old in later:
            if lo <= ch.at < hi:
                led.changes.append({**_change(ch, old, name_of, tz), "number": req.number, "title": row["title"]})
        state = _state_at(m, at)
        if end is not None and end <= at or state in (CLOSED, CANCELLED):
            continue
        c["open"] += 1
        unit["open"] += 1
        if state == READING:
            c["reading"] += 1
            led.reading.append({**row, "reported_at": rnd.reported_at if rnd else None,
                                "checked_at": rnd.checked_at if rnd else None, "result": round_result(rnd) or "—"})
            continue
        late = _overdue_days(m, at, cal)
        if late is not None:
            c["overdue"] += 1
            unit["overdue"] += 1
            said = next((o for o in reversed(m.progress) if o.at <= at), None)
            led.overdue.append({**row, "days": late, "last_progress": _progress(said, tz), "due": task.deadline_at})
        else:
            c["not_due"] += 1
            led.running.append({**row, "state_label": STATE_LABELS.get(state, state), "due": task.deadline_at,
                                "left": (f"剩 {working_days_left(task.deadline_at, at, cal)} 个工作日"
                                         if task.deadline_at is not None and state in (DOING, EXTENDING)
                                         else "—")})
    c["rate"] = f"{100 * c['year_on_time'] / c['year_closed']:.1f}%" if c["year_closed"] else "—"
    c["year"] = year
    led.counts = c
    far = datetime.max.replace(tzinfo=tz)
    led.overdue.sort(key=lambda r: (-r["days"], r["due"] or far, r["number"]))
    led.running.sort(key=lambda r: (r["due"] or far, r["number"]))
    led.reading.sort(key=lambda r: (r["checked_at"] or far, r["number"]))
    led.closed.sort(key=lambda r: r["number"])
    led.changes.sort(key=lambda r: (r["at_sort"], r["number"]))
    if whole:
        led.units = sorted((u for u in units.values() if u["open"] or u["closed"]),
                           key=lambda u: (-u["overdue"], -u["open"], u["name"]))
    return led


def _deadline(at: datetime | None, ref: datetime, tz) -> str:
    return format_deadline(at.astimezone(tz), ref.astimezone(tz)) if at is not None else "待明确"


def _short(at: datetime | None, tz) -> str:
    """12月4日 17:30, as every 交办 mail writes a moment."""
    if not at:
        return "—"
    local = at.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _change(ch, old, name_of, tz) -> dict:
    return {"round": ch.round, "old": _short(old, tz), "new": _short(ch.new_at, tz), "how": ch.how,
            "by": name_of(ch.by) if ch.by else "—", "at": _short(ch.at, tz), "at_sort": ch.at}


def _progress(o, tz) -> str:
    if o is None:
        return "无"
    text = " ".join((o.text or "").split())
    local = o.at.astimezone(tz)
    return f"{local.month}月{local.day}日 {text[:30] + '…' if len(text) > 30 else text}"


# -- the matters of a 台账; the mails ----------------------------------------------------------------------------

def matters_of(leader: str = "") -> list[Matter]:
    """Every 交办 (of one leader when given): a few queries, whatever their number."""
    q = Request.select().where(Request.kind == KIND).order_by(Request.received_at)
    if leader:
        q = q.join(Task, on=(Task.request == Request.id)).where(Task.leader == leader)
    return load(list(q))


def ledger(app, monday: date, leader: str = "", matters: list[Matter] | None = None) -> Ledger:
    """The 台账 of the week from `monday`: of `leader`, or of the whole office (with the per-unit table)."""
    d = app.directory
    if matters is None:
        matters = matters_of(leader)
    elif leader:
        matters = [m for m in matters if m.task.leader == leader]
    return compute(matters, monday, clock.now(), app.calendar, d.name_of, whole=not leader,
                   leader_name=d.name_of(leader) if leader else "")


def context(led: Ledger) -> dict:
    return {"req": None, "ledger": led, "c": led.counts}


def text(app, monday: date, leader: str = "") -> str:
    """What `officeflow ledger` prints: the mail's subject and its plain text."""
    led = ledger(app, monday, leader)
    ctx = {**context(led), "office": app.cfg.office, "code": "", "now": clock.now(), "tz": app.cfg.office.timezone}
    subject, body, _ = outbox.renderer_for(app.cfg.office.timezone).render(TEMPLATE, ctx)
    return f"{subject}\n\n{body}".rstrip()


def send(app, monday: date) -> int:
    """The week's 台账: each leader theirs (nothing assigned in the week and nothing open: none), the head the
    whole office's. Inside the caller's transaction; returns the mails queued."""
    matters = matters_of()
    sent = 0
    for person in app.cfg.leaders:
        led = ledger(app, monday, person.email, matters)
        if led.empty:
            continue
        outbox.queue(app.cfg, TEMPLATE, [person.email], context(led), action=f"交办事项台账（{person.name}）")
        sent += 1
    led = ledger(app, monday, "", matters)
    if not led.empty and app.cfg.office.head:
        outbox.queue(app.cfg, TEMPLATE, [app.cfg.office.head], context(led), action="交办事项台账（全部）")
        sent += 1
    log.info("- 交办 台账 of the week of %s: %d mails", monday.isoformat(), sent)
    return sent

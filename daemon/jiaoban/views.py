"""What people see of a 交办: who holds it, the 查询 answer, the list line, the 交办单 of `show`, the export row.

Reads the database; changes nothing. Rows of many matters are read in a few queries (`load`), never one query
per matter; the 收发记录 rows come from the caller (daemon.records), which owns them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from daemon import clock, limits
from daemon.deadline import format_deadline, remaining_text, working_days_left
from daemon.jiaoban import (CANCELLED, CHECK, CHECKING, CLARIFY, CLARIFYING, CLOSED, EXTEND, EXTENDING, KIND,
                            OPEN_STATES, READ, READING, REASSIGN, RUNNING, STATE_LABELS, STEP_LABELS, UNIT_STEPS,
                            VERIFY, VERIFYING, core)
from daemon.jiaoban.core import result_of
from daemon.models import ACTIVE, DeadlineChange, Opinion, Request, Round, Step, Task

PROGRESS_WORDS = ("进展", "协办完毕")
HELD_BY = {VERIFYING: VERIFY, CLARIFYING: CLARIFY, EXTENDING: EXTEND, CHECKING: CHECK, READING: READ}


def holding(app, req, steps=None, task=None):
    """Who holds the 交办 now (the units while it is done, otherwise the office or the leader), since when,
    and its deadline in force while it is done (a flows.Holding); `steps` and `task` when already read."""
    # imported here: importing daemon.flows.base runs daemon.flows, whose registry imports this module
    from daemon.flows.base import Holding
    steps = core.active_steps(req) if steps is None else steps
    if not steps:
        return Holding("", None)
    d = app.directory
    # the step the state waits on (SPEC §6.3): in 待明确 the leader's 询问, though the 核定单's step stays open
    # beside it; in 延期待批 the leader's decision, though the units work on meanwhile
    held = next((s for s in steps if s.kind == HELD_BY.get(req.state)), None)
    units = [s for s in steps if s.kind in UNIT_STEPS]
    if units and held is None:
        task = task or core.task_of(req)
        return Holding("、".join(d.name_of(a) for s in units for a in s.approvers),
                       min(s.activated_at for s in units), task.deadline_at)
    step = held or steps[0]
    if step.kind in (VERIFY, REASSIGN, CHECK) and all(a in app.cfg.office.staff for a in step.approvers):
        who = "办公室"
    else:
        who = "、".join(d.name_of(a) for a in step.approvers)
    due = (task or core.task_of(req)).deadline_at if req.state in RUNNING else None
    return Holding(who, step.activated_at, due)


def query(act, word) -> None:
    """查询 of a 交办: its state and record, to those who may see it (the leader, office staff, its units).
    The engine's 查询 (daemon.records.query) answers it, as it answers a new mail 查询 督办〔2026〕3号."""
    act.pipe.query(act.req, act.verdict)


# -- the rows of many matters, read at once -----------------------------------------------------------------

@dataclass
class Matter:
    """One 交办 with everything the views show of it (a few queries for any number of them)."""
    req: Request
    task: Task
    rounds: list[Round] = field(default_factory=list)          # by number
    steps: list[Step] = field(default_factory=list)            # active ones, in order
    changes: list[DeadlineChange] = field(default_factory=list)  # oldest first
    progress: list[Opinion] = field(default_factory=list)      # 进展 and 协办完毕, oldest first

    @property
    def current(self) -> Round | None:
        return next((r for r in self.rounds if r.number == self.task.round), None)

    @property
    def first(self) -> Round | None:
        return self.rounds[0] if self.rounds else None

    @property
    def last_progress(self) -> Opinion | None:
        return self.progress[-1] if self.progress else None

    @property
    def reminders(self) -> int:
        return sum(r.reminders or 0 for r in self.rounds)


def load(reqs: list[Request]) -> list[Matter]:
    """The matters of these requests (交办 only; others are left out), with their rounds, active steps, deadline
    changes and 进展, in a few queries: chunked IN lists, whatever the number of matters."""
    reqs = [r for r in reqs if r.kind == KIND]
    by_id = {r.id: r for r in reqs}
    tasks, rounds, steps, changes, progress = {}, {}, {}, {}, {}
    for chunk in limits.chunks(list(by_id)):
        for t in Task.select().where(Task.request.in_(chunk)):
            tasks[t.request_id] = t
        for r in Round.select().where(Round.request.in_(chunk)).order_by(Round.number):
            rounds.setdefault(r.request_id, []).append(r)
        for s in Step.select().where(Step.request.in_(chunk) & (Step.state == ACTIVE)).order_by(Step.position):
            steps.setdefault(s.request_id, []).append(s)
        for c in DeadlineChange.select().where(DeadlineChange.request.in_(chunk)).order_by(DeadlineChange.at,
                                                                                           DeadlineChange.id):
            changes.setdefault(c.request_id, []).append(c)
        for o in (Opinion.select().where(Opinion.request.in_(chunk) & Opinion.decision.in_(PROGRESS_WORDS))
                  .order_by(Opinion.at, Opinion.id)):
            progress.setdefault(o.request_id, []).append(o)
    return [Matter(r, tasks[r.id], rounds.get(r.id, []), steps.get(r.id, []), changes.get(r.id, []),
                   progress.get(r.id, [])) for r in reqs if r.id in tasks]


def matter(req: Request) -> Matter:
    return load([req])[0]


# -- facts shown everywhere --------------------------------------------------------------------------------

def round_result(rnd: Round | None) -> str:
    """The round's result as recorded, else as the record's dates say."""
    if rnd is None:
        return ""
    return rnd.result or result_of(rnd.reported_at, rnd.base_deadline_at, rnd.deadline_at)


def closed_at(m: Matter) -> datetime | None:
    """When the matter was closed (the leader's 阅 or 视为办结 of its last round) or cancelled; None if open."""
    if m.req.state == CLOSED:
        rnd = m.current
        return (rnd.read_at if rnd is not None and rnd.read_at else None) or m.req.closed_at or m.req.state_since
    if m.req.state == CANCELLED:
        return m.req.closed_at or m.req.state_since
    return None


def overdue_days(app, m: Matter, now: datetime) -> int:
    """Working days the matter is overdue (dispatched, not reported, its deadline in force passed); 0 if not."""
    at = m.task.deadline_at
    if m.req.state not in RUNNING or at is None or now <= at:
        return 0
    return max(-working_days_left(at, now, app.calendar), 0)


def time_left(app, m: Matter, now: datetime) -> str:
    """剩 N 个工作日 / 逾期 N 个工作日 while it is done; the result once closed; 待核报, 待阅示 …; "-" when none."""
    if m.req.state in RUNNING and m.task.deadline_at is not None:
        return remaining_text(m.task.deadline_at, now, app.calendar)
    if m.req.state == CLOSED:
        return round_result(m.current) or "-"
    return "-"


def deadline_text(at: datetime | None, app, now: datetime | None = None, default: bool = False) -> str:
    if at is None:
        return "待明确"
    return format_deadline(at.astimezone(app.tz), (now or clock.now()).astimezone(app.tz)) + (
        "（默认时限）" if default else "")


def later_changes(m: Matter) -> list[tuple[DeadlineChange, datetime | None]]:
    """Every change of the deadline after the first 派发, each with the deadline it replaced (a new round's row
    has none of its own: the previous round's deadline is the one it replaced)."""
    rows = m.changes[1:] if m.changes and m.changes[0].old_at is None else m.changes
    before = {r.number: r.deadline_at for r in m.rounds}
    return [(c, c.old_at if c.old_at is not None else before.get(c.round - 1)) for c in rows]


def changes_text(app, m: Matter, fmt) -> list[str]:
    """Each change of the deadline after the first 派发: 第1轮 12-04 17:30 → 12-09 17:30（延期，李副总，12-03 10:00）."""
    d = app.directory
    return [f"第{c.round}轮 {fmt(old)} → {fmt(c.new_at)}（{c.how}，{d.name_of(c.by) if c.by else '-'}，{fmt(c.at)}）"
            for c, old in later_changes(m)]


def working_days_taken(app, m: Matter) -> str:
    end = closed_at(m)
    if end is None or m.req.state != CLOSED:
        return ""
    return f"{max(app.calendar.working_days_between(m.req.received_at, end), 0):.1f}"


# -- who may see it; a leader's own ---------------------------------------------------------------------------

def may_see(app, req: Request, address: str) -> bool:
    """The leader and the delegate, whoever registered it, office staff and the head, its units (of any round)."""
    d = app.directory
    if d.is_staff(address):
        return True
    task = core.task_of(req)
    me = d.principals_for(address)
    people = {task.leader, task.by, task.lead, *(task.co_units or [])}
    for s in Step.select(Step.approvers).where(Step.request == req):
        people.update(s.approvers)
    if any(p in people for p in me):
        return True
    unit = d.unit_of(address)
    return unit is not None and any(p and d.unit_of(p) == unit for p in people)


def is_leader(app, address: str) -> str:
    """The leader `address` is or acts for (a delegate), else ""."""
    leaders = {p.email for p in app.cfg.leaders}
    return next((a for a in app.directory.principals_for(address) if a in leaders), "")


def open_of_leader(app, leader: str) -> list[Matter]:
    reqs = list(Request.select().join(Task, on=(Task.request == Request.id))
                .where((Request.kind == KIND) & Request.state.in_(OPEN_STATES) & (Task.leader == leader))
                .order_by(Request.received_at))
    return load(reqs)


def open_list_rows(app, matters: list[Matter], now: datetime | None = None) -> list[dict]:
    """Rows for the 查询 answer listing open matters: overdue first, then by deadline."""
    now = now or clock.now()
    rows = []
    for m in matters:
        h = holding(app, m.req, m.steps, m.task)
        rows.append({"number": m.req.number, "title": m.task.content or m.req.title,
                     "state_label": STATE_LABELS.get(m.req.state, m.req.state), "holder": h.who,
                     "lead": app.directory.name_of(m.task.lead) if m.task.lead else "",
                     "deadline": deadline_text(m.task.deadline_at, app, now, m.task.default_deadline),
                     "left": time_left(app, m, now), "overdue": overdue_days(app, m, now),
                     "due": m.task.deadline_at})
    far = datetime.max.replace(tzinfo=now.tzinfo)
    rows.sort(key=lambda r: (-r["overdue"], r["due"] or far))
    return rows


# -- the status mail (查询) ------------------------------------------------------------------------------------

def status_ctx(app, req: Request, mails: list[dict], now: datetime | None = None) -> dict:
    """What the 查询 answer about one 交办 shows (template jb_status)."""
    now = now or clock.now()
    m = matter(req)
    h = holding(app, req, m.steps, m.task)
    d = app.directory
    opinions = [{"at": o.at, "name": o.name, "decision": o.decision, "text": o.text}
                for o in Opinion.select().where(Opinion.request == req).order_by(Opinion.at, Opinion.id)]
    fmt = _cn(app)
    return {**core.ctx(app, req, m.task), "holder": h.who, "since": h.since,
            "deadline_line": (core.deadline_line(app, m.task.deadline_at.astimezone(app.tz), now)
                              if m.req.state in RUNNING and m.task.deadline_at else
                              deadline_text(m.task.deadline_at, app, now, m.task.default_deadline)),
            "rounds": [_round_view(app, m, r) for r in m.rounds],
            "last_progress": ({"at": m.last_progress.at, "name": m.last_progress.name,
                               "decision": m.last_progress.decision, "text": m.last_progress.text}
                              if m.last_progress else None),
            "changes": changes_text(app, m, fmt), "opinions": opinions, "mails": mails,
            "co_names": [d.name_of(a) for a in m.task.co_units or []]}


def _round_view(app, m: Matter, r: Round) -> dict:
    d = app.directory
    return {"number": r.number, "dispatched_at": r.dispatched_at, "deadline_at": r.deadline_at,
            "base_deadline_at": r.base_deadline_at, "signed_at": r.signed_at, "reported_at": r.reported_at,
            "report": r.report, "checked_at": r.checked_at,
            "checked_by": d.name_of(r.checked_by) if r.checked_by else "", "check_opinion": r.check_opinion,
            "read_at": r.read_at, "instruction": r.instruction, "result": round_result(r), "deemed": r.deemed,
            "reminders": r.reminders or 0, "requirements": r.requirements}


def _cn(app):
    """12月4日 17:30, as a mail writes a time (the command line keeps 2026-12-04 17:30)."""
    def fmt(t):
        if not t:
            return "-"
        local = t.astimezone(app.tz)
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return fmt


def _fmt(app):
    return lambda t: t.astimezone(app.tz).strftime("%Y-%m-%d %H:%M") if t else "-"  # noqa: E731


# -- command line: list, show, export --------------------------------------------------------------------------

def list_line(app, m: Matter, now: datetime) -> str:
    """number, state, leader, lead unit, 内容, 时限, 剩/逾期 N 个工作日 (SPEC §6.11)."""
    d = app.directory
    t = m.task
    return "\t".join((m.req.number, STATE_LABELS.get(m.req.state, m.req.state), d.name_of(t.leader),
                      d.name_of(t.lead) if t.lead else "-", t.content or m.req.title,
                      deadline_text(t.deadline_at, app, now, t.default_deadline), time_left(app, m, now)))


def show_text(app, req: Request, mails: list[dict]) -> str:
    """The 交办单: 三要素, units, every round, 进展, deadline changes and extensions, the whole 收发记录."""
    m = matter(req)
    t = m.task
    d = app.directory
    fmt = _fmt(app)
    now = clock.now()
    h = holding(app, req, m.steps, t)
    by = f"（由{d.name_of(t.by)}代为交办）" if t.by and t.by != t.leader else ""
    out = [f"{req.number}  {t.content or req.title}",
           f"  交办领导：{d.name_of(t.leader)} <{t.leader}>{by}    来源：{t.source or '-'}",
           f"  交办时间：{fmt(req.received_at)}    状态：{STATE_LABELS.get(req.state, req.state)}"
           f"（自{fmt(req.state_since)}）    轮次：第{t.round}轮",
           f"  当前办理：{h.who or '-'}" + (f"（自{fmt(h.since)}）" if h.since else ""),
           f"  内容：{t.content or '-'}",
           f"  时限：{deadline_text(t.deadline_at, app, now, t.default_deadline)}"
           + (f"，{time_left(app, m, now)}" if req.state in RUNNING and t.deadline_at else "")
           + (f"（原文：{t.deadline_text}）" if t.deadline_text else ""),
           "  要求：" + ("\n        ".join((t.requirements or "-").splitlines()) or "-"),
           f"  承办：{d.name_of(t.lead) if t.lead else '-'}    协办：{'、'.join(d.name_of(a) for a in t.co_units) or '-'}",
           f"  紧急程度：{req.urgency or '普通'}    反馈周期：{t.feedback_every or '-'}",
           f"  附件：{'、'.join(a['name'] for a in req.attachments) or '无'}"]
    if m.steps:
        out.append("  待办环节：")
        out += [f"    {STEP_LABELS.get(s.kind, s.kind)}：{'、'.join(d.name_of(a) for a in s.approvers)}"
                f"（自{fmt(s.activated_at)}）" for s in m.steps]
    for r in m.rounds:
        v = _round_view(app, m, r)
        out.append(f"  第{r.number}轮：")
        if r.number > 1 and r.requirements:
            out.append(f"    要求：{r.requirements}")
        out.append(f"    派发：{fmt(r.dispatched_at)}    时限：{fmt(r.deadline_at)}"
                   + (f"（延期前：{fmt(r.base_deadline_at)}）" if r.base_deadline_at != r.deadline_at else ""))
        following = next((n.dispatched_at for n in m.rounds if n.number > r.number and n.dispatched_at), None)
        said = [o.at for o in m.progress if r.dispatched_at and o.at >= r.dispatched_at
                and (following is None or o.at < following)]
        out.append(f"    签收：{fmt(r.signed_at)}    最近进展：{fmt(r.last_progress_at or max(said, default=None))}"
                   f"    催办：{v['reminders']}次"
                   + (f"    逾期督办：{fmt(r.escalated_at)}" if r.escalated_at else ""))
        out.append(f"    办结报告：{fmt(r.reported_at)}" + (f"｜{_one_line(r.report)}" if r.report else ""))
        out.append(f"    核报：{fmt(r.checked_at)}" + (f"（{v['checked_by']}）" if v["checked_by"] else "")
                   + (f"｜{_one_line(r.check_opinion)}" if r.check_opinion else ""))
        out.append(f"    阅示：{fmt(r.read_at)}" + ("（视为办结，领导无新批示）" if r.deemed else "")
                   + (f"｜{_one_line(r.instruction)}" if r.instruction else ""))
        out.append(f"    结果：{v['result'] or '-'}")
    out.append("  时限变更：")
    out += [f"    {line}" for line in changes_text(app, m, fmt)] or ["    无"]
    out.append("  办理记录：")
    opinions = list(Opinion.select().where(Opinion.request == req).order_by(Opinion.at, Opinion.id))
    out += [f"    {fmt(o.at)} {o.name} {o.decision}：{_one_line(o.text)}" for o in opinions] or ["    无"]
    out.append("  收发记录：")
    for r in mails:
        out.append(f"    {fmt(r['at'])} {r['direction']} {r['who']} <{r['address']}> | {r['subject']} | {r['action']}"
                   f" | <{r['message_id']}>")
    return "\n".join(out)


def _one_line(text: str, limit: int = 0) -> str:
    s = " ".join((text or "").split())
    return s[:limit] + "…" if limit and len(s) > limit else s


CSV_HEAD = ["编号", "交办领导", "交办日期", "来源", "内容", "要求", "承办", "协办", "紧急", "原定时限", "现时限",
            "时限变更", "状态", "轮次", "签收日期", "最近进展日期", "催办次数", "办结报告日期", "核报日期", "阅示日期",
            "结果", "用时（工作日）"]


def csv_row(app, m: Matter) -> list[str]:
    """One line of the 交办台账 (SPEC §6.11)."""
    d = app.directory
    t, req = m.task, m.req
    fmt = _fmt(app)
    day = lambda x: x.astimezone(app.tz).date().isoformat() if x else ""  # noqa: E731
    first, cur = m.first, m.current
    # 原定时限: as first dispatched (the 派发 row of the deadline changes), whatever came after
    original = next((c.new_at for c in m.changes if c.old_at is None and c.new_at is not None), None) or (
        first.base_deadline_at if first is not None and first.base_deadline_at else t.deadline_at)
    progress = cur.last_progress_at if cur is not None and cur.last_progress_at else (
        m.last_progress.at if m.last_progress else None)
    leader = d.name_of(t.leader) + (f"（{d.name_of(t.by)}代）" if t.by and t.by != t.leader else "")
    return [req.number, leader, day(req.received_at), t.source, t.content or req.title, t.requirements,
            d.name_of(t.lead) if t.lead else "", "、".join(d.name_of(a) for a in t.co_units or []),
            req.urgency or "普通", fmt(original) if original else "", fmt(t.deadline_at) if t.deadline_at else "",
            "；".join(changes_text(app, m, fmt)), STATE_LABELS.get(req.state, req.state), str(t.round),
            day(cur.signed_at if cur else None), day(progress), str(m.reminders),
            day(cur.reported_at if cur else None), day(cur.checked_at if cur else None),
            day(cur.read_at if cur else None), round_result(cur) if req.state == CLOSED else "",
            working_days_taken(app, m)]


def export_csv(app, path: Path, reqs: list[Request], cell) -> int:
    """The 交办台账: one line per matter, UTF-8 with BOM for Excel; `cell` guards text against formulas."""
    matters = load(reqs)
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEAD)
        for m in matters:
            w.writerow([cell(str(x)) for x in csv_row(app, m)])
    return len(matters)

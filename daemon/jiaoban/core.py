"""What every part of the 交办 shares: its rows, its steps, its record, its mails. Runs inside intake's (or the
chase's) transaction; nothing here talks to IMAP or SMTP."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from daemon import clock, outbox
from daemon.deadline import describe
from daemon.jiaoban import KIND, STATE_LABELS, STEP_LABELS, VERIFYING
from daemon.models import ACTIVE, APPROVED_STEP, CANCELLED, DeadlineChange, Opinion, Request, Round, Step, Task

log = logging.getLogger("officeflow.jiaoban")
CODE_IN_SUBJECT = re.compile(r"流转码[:：]?\s*([A-Z0-9]{4,8})")


# a round's result (SPEC §6.7)
ON_TIME, EXTENDED, LATE = "按期", "延期后办结", "逾期办结"


def result_of(reported_at: datetime | None, base_deadline_at: datetime | None,
              deadline_at: datetime | None) -> str:
    """A round's result from the record alone (SPEC §6.7), on the arrival of its report: 按期 by the deadline
    before any extension, 延期后办结 later but within a granted extension, 逾期办结 after the deadline in force;
    "" when there is no report. Pure; the 核报单, the close of a round, the views and the 台账 all use it."""
    if reported_at is None:
        return ""
    base = base_deadline_at or deadline_at
    if base is None or reported_at <= base:
        return ON_TIME
    if deadline_at is not None and reported_at <= deadline_at:
        return EXTENDED
    return LATE


def is_jiaoban(req: Request | None) -> bool:
    return req is not None and req.kind == KIND


def same_party(directory, sender: str, address: str) -> bool:
    """The sender is `address`, its delegate, or another address of the same unit."""
    if not address:
        return False
    if address in directory.principals_for(sender):
        return True
    unit = directory.unit_of(sender)
    return unit is not None and directory.unit_of(address) == unit


def task_of(req: Request) -> Task:
    return Task.get(Task.request == req)


def round_of(req: Request, number: int) -> Round:
    return Round.get((Round.request == req) & (Round.number == number))


def set_state(req: Request, state: str) -> None:
    now = clock.now()
    if state != req.state:
        req.state = state
        req.state_since = now
    req.updated_at = now
    req.save()


def active_steps(req: Request, *kinds: str) -> list[Step]:
    """The request's active steps (of these kinds, when given), in order."""
    where = (Step.request == req) & (Step.state == ACTIVE)
    if kinds:
        where &= Step.kind.in_(kinds)
    return list(Step.select().where(where).order_by(Step.position))


def open_step(req: Request, kind: str, holders: list[str], round_number: int = 1) -> Step:
    """A new active step held by `holders` (addresses), with a code of its own for the mails that ask them."""
    last = Step.select(Step.position).where(Step.request == req).order_by(Step.position.desc()).first()
    now = clock.now()
    return Step.create(request=req, position=(last.position + 1) if last else 1, kind=kind, approvers=holders,
                       state=ACTIVE, code=outbox.new_code(), activated_at=now, round=round_number)


def close_step(step: Step, state: str, by: str = "") -> None:
    """The step is done (APPROVED_STEP for what was done, CANCELLED when it no longer matters)."""
    step.state = state
    step.decided_at = clock.now()
    step.decided_by = by
    step.next_reminder_at = None
    step.save()


def cancel_steps(req: Request, *kinds: str) -> None:
    for step in active_steps(req, *kinds):
        close_step(step, CANCELLED)


def record(req: Request, person: str, name: str, word: str, text: str, step: Step | None = None) -> Opinion:
    """One line of the 办理记录 (进展, 协办完毕, 办结, 核报, 批示 …), verbatim."""
    return Opinion.create(request=req, step=step, person=person, name=name, decision=word, text=(text or "").strip(),
                          at=clock.now())


def deadline_line(app, at: datetime | None, now: datetime | None = None) -> str:
    """12月4日（周五）17:30前，剩3个工作日 — or 待明确 when there is none."""
    if at is None:
        return "待明确"
    return describe(at.astimezone(app.tz), now or clock.now(), app.calendar)   # rows come back in UTC


def example_limit(app, now: datetime | None = None) -> str:
    """A 时限 for the examples of how to reply: a week of work ahead (12月8日前), never a day already past; with
    its year when that is next year (a 时限 without one that crosses the year is refused as a possible misreading)."""
    from daemon.workcal import parse_duration
    now = (now or clock.now()).astimezone(app.tz)
    day = app.calendar.add(now, parse_duration("5d")).astimezone(app.tz)
    return f"{f'{day.year}年' if day.year != now.year else ''}{day.month}月{day.day}日前"


def ctx(app, req: Request, task: Task | None = None, **extra) -> dict:
    """What every 交办 mail shows: the request, its task and round, the deadline as people read it."""
    task = task or task_of(req)
    d = app.directory
    return {"example_limit": example_limit(app), "req": req, "task": task, "state_label": STATE_LABELS.get(req.state, req.state),
            "leader_name": d.name_of(task.leader), "lead_name": d.name_of(task.lead) if task.lead else "",
            "co_names": [d.name_of(a) for a in task.co_units or []],
            "deadline_line": deadline_line(app, task.deadline_at), "step_labels": STEP_LABELS, **extra}


def send(app, template: str, to: list[str], req: Request, step: Step | None = None, *, cc: list[str] = (),
         action: str = "", reply_to_mail=None, attachments=(), **extra):
    """One mail about the 交办; with `step`, it carries the step's code, so that an answer to it counts (the
    templates show it in the subject when `coded`)."""
    extra.setdefault("coded", step is not None)
    return outbox.queue(app.cfg, template, to, ctx(app, req, **extra), cc=cc, request=req, step=step,
                        code=step.code if step is not None else "", attachments=attachments,
                        reply_to_mail=reply_to_mail, action=action)


def create(app, *, leader: str, by: str, mail, content: str, requirements: str = "", source: str = "邮件",
           urgency: str = "", deadline_text: str = "", deadline_at: datetime | None = None,
           default_deadline: bool = False, lead: str = "", co_units: list[str] = (), feedback_every: str = "",
           proposed: dict | None = None, attachments: list[dict] = ()) -> tuple[Request, Task]:
    """Register a 交办 (state 待核定) under the next number of its own series; `mail` is the mime.ParsedMail it
    came in (its text is the leader's, its Message-ID the thread's root)."""
    from daemon import workflow
    now = clock.now()
    local = now.astimezone(app.tz)
    seq, number = workflow.next_number(app, local.year, app.cfg.jiaoban.number_format, counter="jiaoban")
    req = Request.create(
        number=number, year=local.year, seq=seq, state=VERIFYING, kind=KIND, unit_id=None,
        unit_name=app.directory.name_of(leader), sender=leader, title=content or "（未写明内容）",
        body=mail.text if mail is not None else "", message_id=mail.message_id if mail is not None else "",
        received_at=now, updated_at=now, state_since=now, urgency=urgency,
        deadline=deadline_at.astimezone(app.tz).date() if deadline_at else None, attachments=list(attachments),
        code=outbox.new_code())
    task = Task.create(request=req, leader=leader, by=by if by != leader else "", source=source, content=content,
                       requirements=requirements, deadline_text=deadline_text, deadline_at=deadline_at,
                       default_deadline=default_deadline, lead=lead, co_units=list(co_units),
                       feedback_every=feedback_every, round=1, proposed=proposed or {})
    log.info("%s registered: 交办 of %s: %s", number, leader, content)
    return req, task


def start_round(app, req: Request, task: Task, by: str, how: str = "派发") -> list[Step]:
    """Dispatch the task's current round as its elements stand: the round's row, a step for the lead unit and
    one per co-unit (each with its own code), state 办理中, the deadline clock started. Mails are the caller's."""
    from daemon.jiaoban import CO, DOING, LEAD, UNIT_STEPS
    now = clock.now()
    rnd = Round.get_or_none((Round.request == req) & (Round.number == task.round))
    if rnd is None:
        rnd = Round(request=req, number=task.round)
    old, first = rnd.deadline_at, rnd.dispatched_at is None
    if not first:
        held = Step.select().where((Step.request == req) & (Step.kind == LEAD) & (Step.state == ACTIVE)
                                   & (Step.round == task.round)).first()
        if held is not None and held.approvers != [task.lead]:
            rnd.signed_at = None        # a new lead unit (改派): its own 签收 is awaited, not the old unit's
    rnd.requirements = task.requirements
    rnd.dispatched_at = now
    rnd.deadline_at = rnd.base_deadline_at = task.deadline_at
    rnd.save()
    # the round's first dispatch sets its deadline; a 改派 records a change only when the deadline moved
    if old != task.deadline_at or first:
        DeadlineChange.create(request=req, round=task.round, old_at=old, new_at=task.deadline_at, by=by, how=how,
                              at=now)
    for step in active_steps(req):
        if step.kind not in UNIT_STEPS:
            close_step(step, APPROVED_STEP, by)
    cancel_steps(req, *UNIT_STEPS)          # a new 派发 (改派) replaces the units of the round
    steps = [open_step(req, LEAD, [task.lead], task.round)]
    steps += [open_step(req, CO, [c], task.round) for c in task.co_units or []]
    req.deadline = task.deadline_at.astimezone(app.tz).date() if task.deadline_at else None
    set_state(req, DOING)
    return steps

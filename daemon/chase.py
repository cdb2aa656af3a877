"""Chasing (催办): reminders, escalation (督办), out-of-office handling, the daily digest and the weekly summary.

Due times live in the database; a reminder is claimed with a conditional UPDATE so that a restart or a second
daemon never sends it twice. Nothing here talks to IMAP or SMTP; mails go through daemon.outbox.
"""

from __future__ import annotations

import logging
import statistics
from datetime import datetime, time, timedelta

import peewee as pw

from daemon import clock, outbox
from daemon.app import App
from daemon.models import (ACTIVE, APPROVED, APPROVING, OPEN_STATES, STATE_LABELS, Job, Mail, Opinion,
                           Request, Step, db)
from daemon.workcal import parse_duration

log = logging.getLogger("officeflow.chase")


def _first_delay(app: App, req: Request) -> str:
    r = app.cfg.reminders
    return r.urgent.get(req.urgency) or r.first_after


def _due(app: App, req: Request, start: datetime, delay: str) -> datetime:
    cal = app.calendar
    due = cal.next_working_moment(cal.add(start, parse_duration(delay)))
    if req.deadline:
        # as the deadline nears, chase on the morning of the working day before it at the latest
        eve = cal.next_working_moment(datetime.combine(req.deadline, time(0), tzinfo=app.tz) - timedelta(days=1))
        if start < eve < due:
            due = eve
    return due


def schedule_first(app: App, req: Request, step: Step) -> None:
    step.next_reminder_at = _due(app, req, step.activated_at, _first_delay(app, req))


def _ctx(app: App, req: Request, step: Step, approver: str, count: int) -> dict:
    now = clock.now()
    return {"req": req, "form": app.form_data(req), "state_label": STATE_LABELS.get(req.state, req.state),
            "step": step, "approver": approver, "approver_name": app.directory.name_of(approver), "count": count,
            "waited": app.calendar.format_waited(step.activated_at, now),
            "overdue": bool(req.deadline and now.astimezone(app.tz).date() > req.deadline)}


def _send_reminders(app: App, req: Request, step: Step, count: int, action: str) -> int:
    d = app.directory
    sent = 0
    for approver in step.approvers:
        if approver in step.signed:
            continue
        cc = [x for x in [d.delegate_of(approver)] if x]
        outbox.queue(app.cfg, "reminder", [approver], _ctx(app, req, step, approver, count), cc=cc, request=req,
                     step=step, code=step.code, attachments=app.original_attachments(req),
                     action=f"{action}{d.name_of(approver)}（第{count}次）")
        sent += 1
        if count == app.cfg.reminders.escalate_after:
            superior = d.superior_of(approver)
            outbox.queue(app.cfg, "escalation", [app.cfg.office.head], _ctx(app, req, step, approver, count),
                         cc=[superior] if superior else [], request=req, step=step, code=req.code,
                         action=f"督办：告知办公室主任{'并抄送' + d.name_of(superior) if superior else ''}")
            step.escalated_at = clock.now()
            step.save()
            log.info("%s escalated: step %d at %s after %d reminders", req.number, step.position, approver, count)
    return sent


def run_due(app: App) -> int:
    """Send the reminders that are due now (only in office hours on working days)."""
    now = clock.now()
    if not app.calendar.is_working_time(now):
        return 0
    due = list(Step.select(Step, Request).join(Request).where(
        (Step.state == ACTIVE) & (Request.state == APPROVING) & (Step.next_reminder_at <= now)))
    sent = 0
    repeat = parse_duration(app.cfg.reminders.repeat_every)
    for step in due:
        req = step.request
        with db.atomic():
            nxt = app.calendar.next_working_moment(app.calendar.add(now, repeat))
            claimed = (Step.update(reminders=Step.reminders + 1, next_reminder_at=nxt)
                       .where((Step.id == step.id) & (Step.next_reminder_at == step.next_reminder_at)
                              & (Step.state == ACTIVE)).execute())
            if not claimed:
                continue
            step = Step.get_by_id(step.id)
            n = _send_reminders(app, req, step, step.reminders, "催办")
            log.info("%s reminder %d for step %d (%d mails)", req.number, step.reminders, step.position, n)
            sent += n
    return sent


def remind_now(app: App, req: Request, by: str) -> int:
    """Office staff replied 催办: remind the current holders at once."""
    if req.state != APPROVING:
        return 0
    step = Step.select().where((Step.request == req) & (Step.state == ACTIVE)).first()
    if step is None:
        return 0
    step.reminders += 1
    step.next_reminder_at = app.calendar.next_working_moment(
        app.calendar.add(clock.now(), parse_duration(app.cfg.reminders.repeat_every)))
    step.save()
    return _send_reminders(app, req, step, step.reminders, "办公室催办")


def away(app: App, req: Request, step: Step, mail) -> None:
    """An out-of-office answer from an approver: recorded on the step; the delegate is asked; staff told."""
    text = (mail.text or mail.subject).strip()[:500]
    step.away_note = (step.away_note + "\n" if step.away_note else "") + f"{mail.from_addr}：{text}"
    step.save()
    d = app.directory
    principal = next((a for a in step.approvers if a == mail.from_addr), None)
    delegate = d.delegate_of(principal) if principal else None
    if delegate:
        from daemon.workflow import notify_approver
        notify_approver(app, req, step, principal, extra={"transferred_by": ""})
    outbox.queue(app.cfg, "away_notice", list(app.cfg.office.staff),
                 {"req": req, "form": app.form_data(req), "state_label": STATE_LABELS.get(req.state, req.state),
                  "step": step, "approver_name": d.name_of(mail.from_addr),
                  "delegate_name": d.name_of(delegate) if delegate else "", "away_text": text},
                 cc=[delegate] if delegate else [], request=req, code=req.code, action="外出自动回复，告知办公室")


# -- once-per-period jobs ---------------------------------------------------------------------------

def _claim_job(name: str) -> bool:
    try:
        with db.atomic():
            Job.create(name=name, done_at=clock.now())
        return True
    except pw.IntegrityError:
        return False


def run_digest(app: App, force: bool = False) -> bool:
    now = clock.now()
    local = now.astimezone(app.tz)
    r = app.cfg.reminders
    if not force and (not app.calendar.is_workday(local.date()) or local.time() < r.digest_at):
        return False
    if not _claim_job(f"digest-{local.date().isoformat()}"):
        return False
    with db.atomic():
        outbox.queue(app.cfg, "digest", [*app.cfg.office.staff, app.cfg.office.head], digest_context(app),
                     action="每日待办汇总")
    log.info("- daily digest sent")
    return True


def digest_context(app: App) -> dict:
    now = clock.now()
    cal = app.calendar
    d = app.directory
    open_reqs = list(Request.select().where(Request.state.in_(OPEN_STATES)))
    active = {s.request_id: s for s in Step.select().where(
        (Step.state == ACTIVE) & Step.request.in_([r.id for r in open_reqs]))} if open_reqs else {}
    items = []
    for req in open_reqs:
        step = active.get(req.id)
        since = step.activated_at if step else req.state_since
        holder = "、".join(d.name_of(a) for a in step.approvers if a not in step.signed) if step else (
            "办公室" if req.state == "reviewing" else req.unit_name)
        items.append({"number": req.number, "title": req.title, "unit": req.unit_name,
                      "state_label": STATE_LABELS[req.state], "holder": holder, "since": since,
                      "waited": cal.format_waited(since, now),
                      "overdue": bool(req.deadline and now.astimezone(app.tz).date() > req.deadline)})
    items.sort(key=lambda i: i["since"])
    limit = parse_duration(app.cfg.reminders.report_after)
    not_reported = []
    for req in Request.select().where(Request.state == APPROVED).order_by(Request.state_since):
        if cal.add(req.state_since, limit) <= now:
            not_reported.append({"number": req.number, "title": req.title, "unit": req.unit_name,
                                 "state_label": STATE_LABELS[req.state],
                                 "holder": "、".join(d.name_of(a) for a in req.execute or []) or req.unit_name,
                                 "since": req.state_since, "waited": cal.format_waited(req.state_since, now),
                                 "overdue": True})
    ignored = [{"at": m.at, "sender": m.sender, "subject": m.subject, "reason": m.action}
               for m in Mail.select().where((Mail.direction == "in") & (Mail.ignored == True)  # noqa: E712
                                            & (Mail.at >= now - timedelta(days=1))).order_by(Mail.at)]
    cal.is_workday(now.astimezone(app.tz).date())     # fills calendar warnings for this year
    return {"req": None, "items": items, "not_reported": not_reported, "ignored": ignored,
            "warnings": list(cal.warnings), "day": now.astimezone(app.tz).date()}


def run_weekly(app: App, force: bool = False) -> bool:
    now = clock.now()
    local = now.astimezone(app.tz)
    cal = app.calendar
    monday = local.date() - timedelta(days=local.weekday())
    first_workday = next((monday + timedelta(days=i) for i in range(7) if cal.is_workday(monday + timedelta(days=i))),
                         monday)
    if not force and (local.date() != first_workday or local.time() < app.cfg.reminders.weekly_at):
        return False
    iso = local.isocalendar()
    if not _claim_job(f"weekly-{iso.year}-W{iso.week:02d}"):
        return False
    with db.atomic():
        outbox.queue(app.cfg, "weekly", [app.cfg.office.head], weekly_context(app, monday), action="每周汇总")
    log.info("- weekly summary sent")
    return True


def weekly_context(app: App, monday) -> dict:
    start = datetime.combine(monday - timedelta(days=7), time(0), tzinfo=app.tz)
    end = start + timedelta(days=7)
    reqs = Request.select().where((Request.received_at >= start) & (Request.received_at < end))
    closed = Request.select().where((Request.updated_at >= start) & (Request.updated_at < end))
    stats = {"received": reqs.count(),
             "done": closed.where(Request.state == "done").count(),
             "approved": closed.where(Request.state == APPROVED).count(),
             "rejected": closed.where(Request.state == "rejected").count(),
             "returned": Opinion.select().where((Opinion.decision == "退回") & (Opinion.at >= start)
                                                & (Opinion.at < end)).count(),
             "withdrawn": closed.where(Request.state == "withdrawn").count()}
    waits: dict[str, list[float]] = {}
    for s in Step.select().where((Step.decided_at >= start) & (Step.decided_at < end)
                                 & Step.activated_at.is_null(False)):
        hours = app.calendar.working_time_between(s.activated_at, s.decided_at).total_seconds() / 3600
        waits.setdefault(app.directory.name_of(s.decided_by or s.approvers[0]), []).append(hours)
    longest = max((max(v) for v in waits.values()), default=0) or 1
    per_approver = [{"name": k, "count": len(v), "median": f"{statistics.median(v):.1f}小时",
                     "longest": f"{max(v):.1f}小时", "bar": int(100 * max(v) / longest)}
                    for k, v in sorted(waits.items(), key=lambda kv: -max(kv[1]))]
    return {"req": None, "stats": stats, "per_approver": per_approver, "per_step": per_approver,
            "week_start": start.date(), "week_end": (end - timedelta(days=1)).date()}


def run_all(app: App) -> None:
    """Every periodic duty that may be due now; each isolated so one failure does not stop the others."""
    for job in (run_due, run_digest, run_weekly):
        try:
            job(app)
        except Exception:  # noqa: BLE001 - keep the loop alive, log with traceback
            log.exception("- periodic job %s failed", job.__name__)


def next_wakeup(app: App) -> datetime | None:
    nxt = Step.select(pw.fn.MIN(Step.next_reminder_at)).where(Step.state == ACTIVE).scalar()
    return nxt

"""Chasing (催办): reminders, escalation (督办), out-of-office handling, the daily digest and the weekly summary.

Due times live in the database; a reminder is claimed with a conditional UPDATE, a digest or summary with a
Job row, in the same transaction as the mails they queue, so a restart or a second daemon never sends one
twice and a failure leaves nothing half done. Nothing here talks to IMAP or SMTP; mails go through
daemon.outbox.
"""

from __future__ import annotations

import heapq
import logging
import statistics
from datetime import date, datetime, time, timedelta


from daemon import clock, flows, limits, outbox, records, views
from daemon import jiaoban
from daemon.app import App
from daemon.jiaoban import chase as jb_chase
from daemon.due import due_after
from daemon.models import (ACTIVE, APPROVED, APPROVING, DONE, REJECTED, REPORT, WITHDRAWN,
                           Job, Mail, Opinion, Request, Step, db)
from daemon.views import FORM_PENDING
from daemon.workcal import parse_duration

log = logging.getLogger("officeflow.chase")


# -- when to chase ----------------------------------------------------------------------------------

def _due(app: App, req: Request, start: datetime, delay: str) -> datetime:
    return due_after(app.calendar, app.tz, start, delay, req.deadline)


def _overdue(app: App, req: Request) -> bool:
    return bool(req.deadline and clock.now().astimezone(app.tz).date() > req.deadline)


# -- reminders and escalation -----------------------------------------------------------------------

def _ctx(app: App, req: Request, step: Step, approver: str, count: int) -> dict:
    from daemon.workflow import step_label
    return {"req": req, "form": views.form_data(app, req), "state_label": flows.label(req),
            "step": step, "step_label": step_label(app, step), "approver": approver,
            "approver_name": app.directory.name_of(approver), "count": count,
            "waited": app.calendar.format_waited(step.activated_at, clock.now()), "overdue": _overdue(app, req)}


def _send_reminders(app: App, req: Request, step: Step, action: str, escalate: bool) -> int:
    """One reminder to each approver who has not signed; with `escalate`, the head is told of each (督办)."""
    from daemon.workflow import signer_code
    d = app.directory
    waiting = [a for a in step.approvers if a not in step.signed]
    for approver in waiting:
        outbox.queue(app.cfg, "reminder", [approver], _ctx(app, req, step, approver, step.reminders),
                     cc=[d.delegate_of(approver) or ""], request=req, step=step, code=signer_code(step, approver),
                     action=f"{action}{d.name_of(approver)}（第{step.reminders}次）")
    if escalate and waiting:
        # one 督办 per step, naming everyone still due; every one's superior copied
        superiors = [x for x in dict.fromkeys(d.superior_of(a) for a in waiting) if x]
        names = "、".join(d.name_of(a) for a in waiting)
        ctx = {**_ctx(app, req, step, waiting[0], step.reminders - 1), "approver_name": names}
        outbox.queue(app.cfg, "escalation", [app.cfg.office.head], ctx, cc=superiors, request=req, step=step,
                     action=f"督办：{names}经{step.reminders - 1}次催办未办理，告知办公室主任"
                            + (f"并抄送{'、'.join(d.name_of(x) for x in superiors)}" if superiors else ""))
        Step.update(escalated_at=clock.now()).where(Step.id == step.id).execute()
        log.info("%s step %d escalated after %d reminders", req.number, step.position, step.reminders - 1)
    return len(waiting)


def _due_steps(now: datetime) -> list[Step]:
    return list(Step.select(Step, Request).join(Request).where(
        (Step.state == ACTIVE) & (Request.state == APPROVING) & (Step.next_reminder_at <= now)
        & (Request.kind.is_null() | (Request.kind != jiaoban.KIND)))       # a 交办 is chased by daemon.jiaoban.chase
        .order_by(Step.next_reminder_at))


def _claim_reminder(app: App, req: Request, step: Step, now: datetime) -> Step | None:
    """Inside the caller's transaction: the step with its reminder counted and its next due time set, for the
    one daemon whose UPDATE still sees the due time it found; None for any other."""
    claimed = (Step.update(reminders=Step.reminders + 1,
                           next_reminder_at=_due(app, req, now, app.cfg.reminders.repeat_every))
               .where((Step.id == step.id) & (Step.state == ACTIVE)
                      & (Step.next_reminder_at == step.next_reminder_at)).execute())
    return Step.get_by_id(step.id) if claimed else None


def run_due(app: App) -> int:
    """Send the reminders that are due now, only in office hours on working days, to approvers and to
    executing units that owe a 办结回告; returns the mails queued."""
    now = clock.now()
    if not app.calendar.is_working_time(now):
        return 0
    sent = _remind_reports(app, now)
    for step in _due_steps(now):
        req = step.request
        try:
            with db.atomic():
                step = _claim_reminder(app, req, step, now)
                if step is None:
                    continue
                escalate = step.escalated_at is None and step.reminders > app.cfg.reminders.escalate_after
                n = _send_reminders(app, req, step, "催办", escalate)
        except Exception:  # noqa: BLE001 - one broken request must not stop the reminders of the others
            log.exception("%s reminder for step %d failed", req.number, step.position)
            continue
        log.info("%s reminder %d for step %d (%d mails)", req.number, step.reminders, step.position, n)
        sent += n
    return sent


# -- the 办结回告 the executing units owe ------------------------------------------------------------------

def _report_due_from(app: App, req: Request) -> datetime:
    """When the report step of an approved request is first due: report_after from the approval."""
    return app.calendar.add(req.state_since, parse_duration(app.cfg.reminders.report_after))


def _due_reports(app: App, now: datetime) -> list[Step]:
    """Active report steps of approved requests whose due time has passed. A step made by the schema upgrade
    has no due time (the upgrade knows no calendar): it gets the one it would have had, first."""
    unset = Step.select(Step, Request).join(Request).where(
        (Step.kind == REPORT) & (Step.state == ACTIVE) & (Request.state == APPROVED) & Step.next_reminder_at.is_null())
    for step in list(unset):
        Step.update(next_reminder_at=_report_due_from(app, step.request)).where(
            (Step.id == step.id) & Step.next_reminder_at.is_null()).execute()
    return list(Step.select(Step, Request).join(Request).where(
        (Step.kind == REPORT) & (Step.state == ACTIVE) & (Request.state == APPROVED) & (Step.next_reminder_at <= now))
        .order_by(Step.next_reminder_at))


def _report_ctx(app: App, req: Request, step: Step, count: int) -> dict:
    return {"req": req, "form": views.form_data(app, req), "state_label": flows.label(req), "step": step,
            "count": count, "waited": app.calendar.format_waited(step.activated_at or req.state_since, clock.now()),
            "overdue": _overdue(app, req)}


def _remind_reports(app: App, now: datetime) -> int:
    """请报办结情况: one mail to the executing units of each approved request whose report step is due, again
    every repeat_every, claimed as approvers' reminders are. It carries the request's done_code, so answering
    it with 办结：… closes the request as answering the result mail does. A request approved without an
    executing unit has nobody who could answer it: it gets no reminder and stays in the digest."""
    sent = 0
    for step in _due_reports(app, now):
        req = step.request
        if not req.execute:
            continue
        try:
            with db.atomic():
                step = _claim_reminder(app, req, step, now)
                if step is None:
                    continue
                names = "、".join(app.directory.name_of(a) for a in req.execute)
                outbox.queue(app.cfg, "report_reminder", list(req.execute), _report_ctx(app, req, step, step.reminders),
                             request=req, code=req.done_code, action=f"催报办结情况：{names}（第{step.reminders}次）")
        except Exception:  # noqa: BLE001 - one broken request must not stop the reminders of the others
            log.exception("%s report reminder failed", req.number)
            continue
        log.info("%s report reminder %d to %s", req.number, step.reminders, ", ".join(req.execute))
        sent += 1
    return sent


def remind_now(app: App, req: Request, by: str) -> int:
    """Office staff replied 催办: remind the current holders at once (runs in the caller's transaction)."""
    step = Step.select().where((Step.request == req) & (Step.state == ACTIVE)).first()
    if req.state != APPROVING or step is None:
        return 0
    step.reminders += 1
    step.next_reminder_at = _due(app, req, clock.now(), app.cfg.reminders.repeat_every)
    step.save()
    log.info("%s reminder asked by %s", req.number, by)
    return _send_reminders(app, req, step, "办公室催办", escalate=False)


def away(app: App, req: Request, step: Step, mail) -> None:
    """An out-of-office reply from an approver: recorded on the step; the first time, the delegate is asked
    and office staff told. Nothing goes back to the robot that wrote it."""
    d = app.directory
    sender = (mail.from_addr or "").lower()
    text = (mail.text or mail.subject or "").strip()[:500]
    first = not any(line.startswith(f"{sender}：") for line in step.away_note.splitlines())
    step.away_note = (step.away_note + "\n" if step.away_note else "") + f"{sender}：{text}"
    step.save()
    if not first:
        return
    principal = sender if sender in step.approvers and sender not in step.signed else None
    delegate = d.delegate_of(principal) if principal else None
    if delegate:
        from daemon.workflow import signer_code, step_label
        outbox.queue(app.cfg, "approval", [delegate], views.mail_ctx(
            app, req, step=step, approver=principal, step_label=step_label(app, step),
            approver_name=f"{d.name_of(delegate)}（代{d.name_of(principal)}）"), request=req, step=step,
            code=signer_code(step, principal), attachments=views.original_attachments(app, req),
            action=f"{d.name_of(principal)}外出，请代理人{d.name_of(delegate)}审批")
    outbox.queue(app.cfg, "away_notice", list(app.cfg.office.staff),
                 {"req": req, "form": views.form_data(app, req), "state_label": flows.label(req),
                  "step": step, "approver_name": d.name_of(sender),
                  "delegate_name": d.name_of(delegate) if delegate else "", "away_text": text},
                 request=req, action=f"{d.name_of(sender)}外出自动回复，告知办公室")


# -- once-per-period jobs ---------------------------------------------------------------------------

def _claim_job(name: str) -> bool:
    """Inside the caller's transaction: True for the one daemon that records `name` first."""
    return Job.claim(name, clock.now())


def run_digest(app: App, force: bool = False) -> bool:
    """On working days from digest_at: the list of everything pending to office staff and the head."""
    local = clock.now().astimezone(app.tz)
    if not force and (not app.calendar.is_workday(local.date()) or local.time() < app.cfg.reminders.digest_at):
        return False
    with db.atomic():
        since = _last_job("digest-")
        if not _claim_job(f"digest-{local.date().isoformat()}"):
            return False
        outbox.queue(app.cfg, "digest", [*app.cfg.office.staff, app.cfg.office.head], digest_context(app, since),
                     action="每日待办汇总")
    log.info("- daily digest sent")
    return True


def _last_job(prefix: str) -> datetime | None:
    """When the latest job of this kind was done (the previous digest, the previous weekly summary)."""
    job = Job.select().where(Job.name.startswith(prefix)).order_by(Job.done_at.desc()).first()
    return job.done_at if job else None


DIGEST_ROWS = 100      # lines per section of the daily digest, longest-waiting first; the rest are counted


def digest_context(app: App, since: datetime | None = None) -> dict:
    """`since`: the previous digest, so mail ignored over a weekend or a holiday is listed too."""
    now = clock.now()
    window = since if since is not None and since < now else now - timedelta(days=1)
    cal = app.calendar
    counted = {"items": 0, "overdue": 0}

    def waiting():
        # thousands may be open: read a few hundred at a time and keep only the longest-waiting lines
        for part in _open_requests_in_parts():
            active = records.active_steps(part)
            for req in part:
                # waiting is counted from when the present holder got it
                holder, since = records.holder_and_since(app, req, active.get(req.id))
                overdue = _overdue(app, req)
                counted["items"] += 1
                counted["overdue"] += overdue
                yield (cal.working_time_between(since, now), since, req, holder, overdue)

    items = [{"number": req.number, "title": req.title, "unit": req.unit_name, "state_label": flows.label(req),
              "holder": holder, "since": since, "waited": cal.format_waited(since, now), "overdue": overdue,
              "waited_for": waited}
             for waited, since, req, holder, overdue in heapq.nsmallest(
                 DIGEST_ROWS, waiting(), key=lambda i: (-i[0], i[1], i[2].id))]
    limit = parse_duration(app.cfg.reminders.report_after)
    overdue_total = counted["overdue"]
    not_reported, not_reported_total = [], 0
    # the 办结回告 owed: active report steps whose due time has passed (and moved on with each reminder)
    owed = (Step.select(Step.id, Step.kind, Step.next_reminder_at, Request.id, Request.number, Request.title,
                        Request.unit_name, Request.state, Request.state_since, Request.execute, Request.kind)
            .join(Request).where((Step.kind == REPORT) & (Step.state == ACTIVE) & (Request.state == APPROVED)
                                 & ((Step.next_reminder_at <= now) | (Step.reminders > 0)
                                    | Step.next_reminder_at.is_null()))
            .order_by(Request.state_since))
    for step in owed.iterator():
        req = step.request
        if step.next_reminder_at is None and cal.add(req.state_since, limit) > now:
            continue        # made by the schema upgrade, which knows no calendar: its due time is reckoned here
        not_reported_total += 1
        if len(not_reported) < DIGEST_ROWS:
            holder = records.holding(app, req, step).who
            not_reported.append({"number": req.number, "title": req.title, "unit": req.unit_name,
                                 "state_label": flows.label(req), "holder": holder,
                                 "since": req.state_since, "waited": cal.format_waited(req.state_since, now),
                                 "overdue": True})
    ignored_mail = Mail.select().where((Mail.direction == "in") & (Mail.ignored == True)  # noqa: E712
                                       & (Mail.at > window) & (Mail.at <= now))
    ignored = [{"at": m.at, "sender": m.sender, "subject": m.subject, "reason": m.action}
               for m in ignored_mail.order_by(Mail.at).limit(DIGEST_ROWS)]
    cal.is_workday(now.astimezone(app.tz).date())     # fills calendar warnings for this year
    return {"req": None, "items": items, "items_total": counted["items"], "overdue_total": overdue_total,
            "not_reported": not_reported, "not_reported_total": not_reported_total,
            "ignored": ignored, "ignored_total": ignored_mail.count() if len(ignored) == DIGEST_ROWS else len(ignored),
            "warnings": list(cal.warnings) + _form_warnings(), "day": now.astimezone(app.tz).date(),
            "jiaoban": jb_chase.digest_section(app, now)}


def _open_requests_in_parts():
    """The open requests (a 交办 has its own section), whole rows, limits.SQL_CHUNK at a time in id order."""
    last = 0
    while True:
        part = list(Request.select().where(Request.state.in_(flows.open_states()) & (Request.id > last)
                                           & (Request.kind.is_null() | (Request.kind != jiaoban.KIND)))
                    .order_by(Request.id).limit(limits.SQL_CHUNK))
        if not part:
            return
        yield part
        last = part[-1].id


def _pending_forms() -> list[tuple[Job, Request]]:
    """Requests whose result went out without the 审批单 (it could not be rendered then), oldest first."""
    jobs = {int(j.name[len(FORM_PENDING):]): j
            for j in Job.select().where(Job.name.startswith(FORM_PENDING)).order_by(Job.done_at)}
    reqs = {r.id: r for r in Request.select().where(Request.id.in_(list(jobs)))} if jobs else {}
    return [(job, reqs[rid]) for rid, job in jobs.items() if rid in reqs]


def _form_warnings() -> list[str]:
    return [f"{req.number}《{req.title}》的审批结果已发出，但审批单未能生成、未随附；系统将自动重试补发，"
            f"也可用 officeflow form 命令生成后手工补发。" for _, req in _pending_forms()]


def resend_forms(app: App) -> int:
    """Try again to render the forms that could not be rendered with their result; send each that now renders
    to the unit and the executing units, with a copy to office staff."""
    sent = 0
    for job, req in _pending_forms():
        try:
            form = views.form_attachment(app, req)
        except Exception as e:  # noqa: BLE001 - still broken: stays listed in the digest, tried again later
            log.info("%s printable form still cannot be rendered: %s", req.number, e)
            continue
        with db.atomic():
            if Job.delete().where(Job.name == job.name).execute() != 1:
                continue            # another daemon sent it
            ctx = {"req": req, "form": views.form_data(app, req), "state_label": flows.label(req)}
            outbox.queue(app.cfg, "form_resend", [req.sender, *(req.execute or [])], ctx,
                         cc=list(app.cfg.office.staff), request=req, attachments=[form], action="补发审批单")
        log.info("%s printable form sent after the result", req.number)
        sent += 1
    return sent


def run_weekly(app: App, force: bool = False) -> bool:
    """On the first working day of the week from weekly_at: last week's summary to the head."""
    local = clock.now().astimezone(app.tz)
    cal = app.calendar
    monday = local.date() - timedelta(days=local.weekday())
    first = next((monday + timedelta(days=i) for i in range(7) if cal.is_workday(monday + timedelta(days=i))),
                 None)
    on_time = first is not None and local.date() == first and local.time() >= app.cfg.reminders.weekly_at
    # later in the week only to catch up on a summary the daemon missed, not on its very first day
    late = first is not None and local.date() > first and _last_job("weekly-") is not None
    due = on_time or late
    if not force and not due:
        return False      # a week without a working day (春节) sends nothing; the next summary covers it
    iso = local.isocalendar()
    with db.atomic():
        since = _last_job("weekly-")
        if not _claim_job(f"weekly-{iso.year}-W{iso.week:02d}"):
            return False
        outbox.queue(app.cfg, "weekly", [app.cfg.office.head], weekly_context(app, monday, since),
                     action="每周汇总")
    log.info("- weekly summary sent")
    return True


def run_jb_ledger(app: App, force: bool = False) -> bool:
    """At jiaoban.weekly_report: last week's 交办 台账 to each leader and the head, once a week (SPEC §6.7)."""
    from daemon.jiaoban import ledger
    local = clock.now().astimezone(app.tz)
    weekday, at = app.cfg.jiaoban.weekly_report
    # later in the week only to catch up on a 台账 the daemon missed, not on its very first day
    due = (local.weekday(), local.time()) >= (weekday, at) and (
        local.weekday() == weekday or _last_job("jb-ledger-") is not None)
    if not app.cfg.leaders or not (force or due):
        return False
    iso = local.isocalendar()
    with db.atomic():
        if not _claim_job(f"jb-ledger-{iso.year}-W{iso.week:02d}"):
            return False
        ledger.send(app, ledger.last_complete_week(local.date()))
    return True


def weekly_context(app: App, monday: date, since: datetime | None = None) -> dict:
    """Last week; or, when a summary was skipped (a week without a working day), everything since the last one."""
    from daemon.workflow import step_label
    cal = app.calendar
    end = datetime.combine(monday, time(0), tzinfo=app.tz)
    start = end - timedelta(days=7)
    if since is not None:
        last_monday = since.astimezone(app.tz).date() - timedelta(days=since.astimezone(app.tz).weekday())
        start = min(start, datetime.combine(last_monday, time(0), tzinfo=app.tz))

    # the 请示 only: a leader's 交办 have their own weekly 台账 (SPEC §6.7) and must not swell these figures
    qingshi = Request.kind.is_null() | (Request.kind != jiaoban.KIND)
    of_qingshi = Request.select(Request.id).where(qingshi)

    def closed(state: str) -> int:
        return Request.select().where(qingshi & (Request.state == state) & (Request.closed_at >= start)
                                      & (Request.closed_at < end)).count()

    stats = {"received": Request.select().where(qingshi & (Request.received_at >= start)
                                                & (Request.received_at < end)).count(),
             "done": closed(DONE), "rejected": closed(REJECTED), "withdrawn": closed(WITHDRAWN),
             "approved": Request.select().where(qingshi & Request.state.in_((APPROVED, DONE))
                                                & (Request.state_since >= start) & (Request.state_since < end)).count(),
             "returned": Opinion.select().where((Opinion.decision == "退回") & (Opinion.at >= start)
                                                & (Opinion.at < end) & Opinion.request.in_(of_qingshi)).count()}
    per_approver: dict[str, list[timedelta]] = {}
    per_step: dict[str, list[timedelta]] = {}
    for r in Request.select().where(qingshi & (Request.proposal_at >= start) & (Request.proposal_at < end)):
        per_step.setdefault("办公室审核", []).append(cal.working_time_between(r.received_at, r.proposal_at))
    steps = {s.id: s for s in Step.select().where((Step.decided_at >= start) & (Step.decided_at < end)
                                                  & Step.activated_at.is_null(False) & (Step.kind != REPORT)
                                                  & Step.request.in_(of_qingshi))}
    for s in steps.values():
        per_step.setdefault(step_label(app, s), []).append(cal.working_time_between(s.activated_at, s.decided_at))
    # per approver: each one's own opinion on the step, so every signer of a 会签 counts, not only the last
    for o in Opinion.select().where(Opinion.step.in_(list(steps)) & Opinion.decision.in_(
            ("同意", "原则同意", "不同意", "退回"))) if steps else []:
        s = steps[o.step_id]
        per_approver.setdefault(app.directory.name_of(o.person), []).append(
            cal.working_time_between(s.activated_at, min(o.at, s.decided_at)))

    def rows(groups: dict[str, list[timedelta]]) -> list[dict]:
        longest = max((max(v) for v in groups.values()), default=timedelta(0)) or timedelta(seconds=1)
        return [{"name": k, "count": len(v), "median": _span(cal, statistics.median(v)),
                 "longest": _span(cal, max(v)), "bar": max(1, int(100 * max(v) / longest))}
                for k, v in sorted(groups.items(), key=lambda kv: -max(kv[1]))]

    return {"req": None, "stats": stats, "per_approver": rows(per_approver), "per_step": rows(per_step),
            "week_start": start.date(), "week_end": (end - timedelta(days=1)).date()}


def _span(cal, amount: timedelta) -> str:
    """Working time in Chinese, as in the reminders: "1个工作日2小时"."""
    days, rest = divmod(amount, cal.day_length)
    hours, rest = divmod(rest, timedelta(hours=1))
    minutes = rest // timedelta(minutes=1)
    text = (f"{days}个工作日" if days else "") + (f"{hours}小时" if hours else "") + (f"{minutes}分钟" if minutes else "")
    return text or "0分钟"


COMPACT_BATCH = 20      # closed requests packed at one go (~0.1 s each): a backlog goes over many rounds


def run_storage(app: App) -> bool:
    """The stored sent mail of closed requests packed (records.compact), a batch a round until none is left for
    the day; and once a day, when `[archive] keep` is set, that of requests closed longer ago removed with what
    nothing else refers to (records.prune)."""
    day = clock.now().astimezone(app.tz).date().isoformat()
    ran = False
    if not Job.select().where(Job.name == f"compact-{day}").exists():
        ran = True
        packed, saved, more = records.compact(app, limit=COMPACT_BATCH)
        if packed:
            log.info("- stored sent mail of %d closed requests packed, %.1f MB saved", packed, saved / 1e6)
        if not more:
            _claim_job(f"compact-{day}")
    before = records.keep_before(app)
    if before is not None:
        with db.atomic():       # the claim goes with the work: a prune that fails is tried again
            if not _claim_job(f"prune-{day}"):
                return ran
            done = records.prune(app, before, apply=True)
        ran = True
        if done.mails:
            log.info("- removed %d stored copies of sent mail and %d attachments (%.1f MB) of %d requests closed "
                     "before %s", done.mails, done.attachments, done.size / 1e6, done.requests, before)
    return ran


def run_all(app: App) -> None:
    """Every periodic duty that may be due now; each isolated so one failure does not stop the others."""
    for job in (run_due, jb_chase.run_chase, run_digest, run_weekly, run_jb_ledger, resend_forms, run_storage):
        try:
            job(app)
        except Exception:  # noqa: BLE001 - keep the loop alive, log with traceback
            log.exception("- periodic job %s failed", job.__name__)

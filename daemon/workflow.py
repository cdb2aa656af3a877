"""What happens to a request: register, accept, return, approve, reject, transfer, add a signer, withdraw, finish.

Each function runs inside the caller's transaction and queues its mails through daemon.outbox, so a state
change, its record and its mails commit together. Nothing here talks to IMAP or SMTP.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

import peewee as pw

from daemon import clock, limits, outbox, views
from daemon.app import App
from daemon.directory import RouteError
from daemon.due import first_reminder
from daemon.models import (ACTIVE, APPROVED, APPROVED_STEP, APPROVING, CANCELLED, DONE, OPEN_STATES,
                           PENDING, REJECTED, REJECTED_STEP, REPORT, RETURNED, RETURNED_STEP, REVIEWING,
                           STATE_LABELS, WITHDRAWN, Counter, Mail, Opinion, Request, SignerCode, Statement, Step)
from daemon.replies import Verb
from daemon.workcal import parse_duration

log = logging.getLogger("officeflow.workflow")


class Refused(Exception):
    """A decision that cannot be applied; the message (Chinese) goes back to the sender."""


# -- numbering -------------------------------------------------------------------------------------

_bump = Statement(lambda name: Counter.insert(name=name, value=pw.SQL("1")).on_conflict(
    conflict_target=[Counter.name], update={Counter.value: Counter.value + pw.SQL("1")}))
_counter_value = Statement(lambda name: Counter.select(Counter.value).where(Counter.name == name))


def next_number(app: App, year: int, fmt: str | None = None, counter: str = "request") -> tuple[int, str]:
    """The next number of a kind of work (by default the 请示's, office.number_format), inside the caller's
    transaction; `counter` names its sequence."""
    fmt = fmt or app.cfg.office.number_format
    name = f"{counter}-{year}" if "{year}" in fmt else counter
    _bump.cursor(name)
    seq = _counter_value.scalar(name)
    return seq, fmt.format(year=year, seq=seq)


# -- helpers ---------------------------------------------------------------------------------------

def _touch(req: Request, state: str | None = None) -> None:
    now = clock.now()
    if state and state != req.state:
        req.state = state
        req.state_since = now
    req.updated_at = now
    req.save()


def active_step(req: Request) -> Step | None:
    return Step.select().where((Step.request == req) & (Step.state == ACTIVE)).order_by(Step.position).first()


def signer_code(step: Step, address: str) -> str:
    """The code that `address`'s mails about `step` carry, in the step's current generation (made on first use).

    Every signer of a step has their own, so a mail sent to one signer can never decide for another.
    """
    row = SignerCode.select().where((SignerCode.step == step) & (SignerCode.address == address)
                                   & (SignerCode.generation == step.code)).first()
    if row is None:
        row = SignerCode.create(step=step, address=address, generation=step.code, code=outbox.new_code())
    return row.code


def signer_of(step: Step, code: str) -> str | None:
    """The signer whose current code on `step` is `code`; None for any other code (another step's, a retired
    generation's, a request's)."""
    row = SignerCode.select().where((SignerCode.step == step) & (SignerCode.generation == step.code)
                                   & (SignerCode.code == code)).first()
    return row.address if row is not None else None


def holders(req: Request) -> list[str]:
    """Who holds the request now: the active step's approvers who have not signed; [] when no step is active."""
    step = active_step(req) if req.state == APPROVING else None
    if step:
        return [a for a in step.approvers if a not in step.signed]
    return []


def opinion(req: Request, person: str, name: str, decision: str, text: str, step: Step | None = None) -> Opinion:
    return Opinion.create(request=req, step=step, person=person, name=name, decision=decision,
                          text=text.strip(), at=clock.now())


def _first_reminder(app: App, req: Request, step: Step):
    return first_reminder(app.calendar, app.tz, app.cfg.reminders, req.urgency, req.deadline, step.activated_at)


def _staff(app: App) -> list[str]:
    return list(app.cfg.office.staff)


# -- registration ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Incoming:
    """What intake learnt about a request mail before it reaches the workflow."""
    mail: object          # mime.ParsedMail
    record: Mail          # the 收发记录 row of this mail
    archive: str          # archive path of the raw mail
    check: object = None  # the format check, when intake already ran it


def _attachments(inc: Incoming) -> list[dict]:
    return [{"name": a.filename, "content_type": a.content_type, "size": len(a.data), "source": inc.archive,
             "index": i} for i, a in enumerate(inc.mail.attachments)]


def register(app: App, inc: Incoming, unit) -> Request:
    mail = inc.mail
    now = clock.now()
    local = now.astimezone(app.tz)
    seq, number = next_number(app, local.year)
    check = inc.check or no_check()
    title = limits.clip(check.title or _title_from_subject(mail.subject) or "（无标题）", limits.MAX_TITLE)
    req = Request.create(
        number=number, year=local.year, seq=seq, state=REVIEWING, unit_id=unit.id if unit else None,
        unit_name=unit.name if unit else (mail.from_name or mail.from_addr), sender=mail.from_addr, title=title,
        body=mail.text, message_id=mail.message_id, received_at=now, updated_at=now, state_since=now,
        urgency=check.urgency, deadline=check.deadline, attachments=_attachments(inc),
        findings=[f.__dict__ for f in check.findings], code=outbox.new_code())
    inc.record.request = req
    inc.record.action = f"登记为{number}"
    inc.record.save()
    log.info("%s registered from %s: %s", number, mail.from_addr, title)
    form = views.form_data(app, req, new=True)        # the receipt and the review show the same form
    outbox.queue(app.cfg, "receipt", [mail.from_addr], views.mail_ctx(app, req, form), request=req,
                 reply_to_mail=(mail.message_id, list(mail.references)), action="回执")
    _after_check(app, req, check, resubmitted=False, inc=inc, form=form)
    return req


def no_check():
    """What registration uses when the format check itself broke (logged by intake): no findings."""
    from daemon.checks import CheckResult
    return CheckResult(findings=(), title=None, source="正文", urgency="", deadline=None, classification="",
                       must_return=False)


def _title_from_subject(subject: str) -> str:
    from daemon.mime import strip_subject_prefixes
    return strip_subject_prefixes(subject).strip()


def _after_check(app: App, req: Request, check, resubmitted: bool, inc: Incoming | None = None,
                 form=None) -> None:
    if app.cfg.review.auto_return and check.must_return:
        guidance = "经办公室按请示行文规范审核，该请示存在须修改后再报的问题，现予退回。"
        return_to_unit(app, req, app.cfg.office.address, "办公室（自动审核）", guidance, auto=True)
        return
    send_review(app, req, reason="resubmitted" if resubmitted else "new",
                parsed={inc.archive: inc.mail} if inc is not None else None, form=form)


def send_review(app: App, req: Request, reason: str, note: str = "", parsed: dict | None = None,
                form=None) -> None:
    """To office staff for review; `parsed`: the request mail as intake parsed it (see original_attachments),
    `form`: its 审批单 data when the caller has it."""
    req.code = outbox.new_code()
    req.save(only=req.dirty_fields)     # the new code, and whatever else a caller changed: not the whole row
    route = app.directory.route_for(req.title, req.body)
    outbox.queue(app.cfg, "review", _staff(app), views.mail_ctx(app, req, form, reason=reason, note=note, route=route),
                 request=req, code=req.code, attachments=views.original_attachments(app, req, parsed),
                 action="送办公室审核" if reason != "returned_by_approver" else "领导退回，送办公室处理")


def resubmit(app: App, req: Request, inc: Incoming) -> None:
    mail = inc.mail
    check = inc.check or no_check()
    req.title = limits.clip(check.title, limits.MAX_TITLE) if check.title else req.title
    req.body = mail.text
    req.message_id = mail.message_id
    if mail.attachments:
        req.attachments = _attachments(inc)
    req.findings = [f.__dict__ for f in check.findings]
    req.urgency = check.urgency or req.urgency
    req.deadline = check.deadline or req.deadline
    _touch(req, REVIEWING)
    opinion(req, mail.from_addr, req.unit_name, "重报", "修改后重新报送")
    inc.record.request = req
    inc.record.kind = "request"
    inc.record.action = "单位修改后重新报送"
    inc.record.save()
    log.info("%s resubmitted by %s", req.number, mail.from_addr)
    outbox.queue(app.cfg, "receipt", [mail.from_addr], views.mail_ctx(app, req, resubmitted=True), request=req,
                 reply_to_mail=(mail.message_id, list(mail.references)), action="回执（重报）")
    _after_check(app, req, check, resubmitted=True, inc=inc)


# -- office review ---------------------------------------------------------------------------------

def accept(app: App, req: Request, sender: str, fields: dict[str, str]) -> None:
    if req.state != REVIEWING:
        raise Refused(f"该请示当前状态为“{STATE_LABELS[req.state]}”，不能受理。")
    d = app.directory
    default = d.route_for(req.title, req.body)
    try:
        route_text = fields.get("流程") or (default.steps if default else "")
        specs = d.parse_route(route_text) if route_text else []
        execute = d.parse_list(fields["执行"]) if fields.get("执行") else (
            d.parse_list(default.execute) if default and default.execute else [])
        copies = d.parse_list(fields["抄送"]) if fields.get("抄送") else (
            d.parse_list("，".join(default.copy)) if default and default.copy else [])
    except RouteError as e:
        raise Refused(f"未找到“{e.token}”：请使用配置中的部门、领导或单位的名称、编号或邮箱地址。") from None
    if not specs:
        raise Refused("未写明审批流程，且没有适用的默认流程。请在“流程：”一行写明，例如：流程：财务科，李副总")
    urgency = (fields.get("紧急") or "").strip()
    if urgency:
        urgency = "特急" if "特急" in urgency else "加急" if ("加急" in urgency or "急" in urgency) else ""
        req.urgency = req.urgency or urgency
    if fields.get("时限"):
        deadline = parse_deadline(fields["时限"], clock.now().astimezone(app.tz).date())
        if deadline is None:
            raise Refused(f"时限“{fields['时限']}”无法识别，请写成“时限：12月5日”或“时限：2026年12月5日”。")
        req.deadline = deadline
    Step.update(state=CANCELLED).where((Step.request == req) & (Step.state.in_((PENDING, ACTIVE)))).execute()
    base = (Step.select(pw.fn.MAX(Step.position)).where(Step.request == req).scalar() or 0) + 1
    for n, spec in enumerate(specs):
        Step.create(request=req, position=base + n, kind=spec.kind, approvers=list(spec.approvers),
                    code=outbox.new_code())
    req.proposal = (fields.get("拟办意见") or "").strip() or "请审批。"
    req.proposal_by = d.name_of(sender) if not d.is_staff(sender) else staff_name(app, sender)
    req.proposal_at = clock.now()
    req.route = d.describe_steps(specs)
    req.execute, req.copies = execute, copies
    _touch(req, APPROVING)
    opinion(req, sender, req.proposal_by, "拟办", req.proposal)
    log.info("%s accepted by %s, route %s", req.number, sender, req.route)
    outbox.queue(app.cfg, "accepted", [req.sender], views.mail_ctx(app, req), request=req,
                 action="告知单位已受理")
    _activate_next(app, req)


def staff_name(app: App, address: str) -> str:
    p = app.directory.person(address)
    if p:
        return p.name
    return "办公室主任" if address == app.cfg.office.head else "办公室"


def parse_deadline(text: str, today: date) -> date | None:
    m = re.search(r"(?:(\d{4})\s*[年/.-]\s*)?(\d{1,2})\s*[月/.-]\s*(\d{1,2})", text)
    if not m:
        return None
    year = int(m[1]) if m[1] else today.year
    try:
        d = date(year, int(m[2]), int(m[3]))
    except ValueError:
        return None
    if not m[1] and (today - d).days > 180:     # "1月10日" written in December means next year
        d = date(year + 1, d.month, d.day)
    return d


def return_to_unit(app: App, req: Request, sender: str, name: str, guidance: str, auto: bool = False) -> None:
    if req.state != REVIEWING:
        raise Refused(f"该请示当前状态为“{STATE_LABELS[req.state]}”，不能退回。")
    req.code = outbox.new_code()
    _touch(req, RETURNED)
    req.result = "退回"
    req.save()
    opinion(req, sender, name, "退回", guidance)
    log.info("%s returned to %s%s", req.number, req.sender, " (auto)" if auto else "")
    outbox.queue(app.cfg, "returned", [req.sender], views.mail_ctx(app, req, guidance=guidance, auto=auto,
                 model=views.model_guide() if auto else ""), cc=_staff(app) if auto else [],
                 request=req, action="退回单位修改" + ("（自动审核）" if auto else ""))


# -- approval --------------------------------------------------------------------------------------

def _activate_next(app: App, req: Request) -> None:
    step = Step.select().where((Step.request == req) & (Step.state == PENDING)).order_by(Step.position).first()
    if step is None:
        finish(app, req)
        return
    step.state = ACTIVE
    step.activated_at = clock.now()
    step.code = outbox.new_code()
    step.reminders = 0
    step.save()
    step.next_reminder_at = _first_reminder(app, req, step)
    step.save()
    for approver in step.approvers:
        notify_approver(app, req, step, approver)


def notify_approver(app: App, req: Request, step: Step, approver: str, template: str = "approval",
                    extra: dict | None = None) -> None:
    d = app.directory
    cc = [x for x in [d.delegate_of(approver)] if x]
    outbox.queue(app.cfg, template, [approver], views.mail_ctx(app, req, step=step, approver=approver,
                 approver_name=d.name_of(approver), step_label=step_label(app, step), **(extra or {})),
                 cc=cc, request=req, step=step, code=signer_code(step, approver),
                 attachments=views.original_attachments(app, req), action=f"送{d.name_of(approver)}审批")


def step_label(app: App, step: Step) -> str:
    joiner = "、" if step.kind == "all" else "/"
    return joiner.join(app.directory.name_of(a) for a in step.approvers)


def decide(app: App, req: Request, step: Step, principal: str, sender: str, verb: Verb, text: str,
           target: str = "") -> str:
    """Apply an approver's decision on the active step; returns a short description for the record."""
    d = app.directory
    name = d.name_of(principal) + (f"（{d.name_of(sender)}代）" if sender != principal else "")
    now = clock.now()
    if verb in (Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS):
        opinion(req, principal, name, verb.value, text, step)
        signed = list(step.signed) + [principal]
        step.signed = signed
        if step.kind == "all" and set(step.approvers) - set(signed):
            step.save()
            log.info("%s step %d signed by %s (%d/%d)", req.number, step.position, principal, len(signed),
                     len(step.approvers))
            return f"{name}会签同意（{len(signed)}/{len(step.approvers)}）"
        step.state, step.decided_at, step.decided_by, step.next_reminder_at = APPROVED_STEP, now, principal, None
        step.save()
        _touch(req)
        log.info("%s step %d approved by %s", req.number, step.position, principal)
        _activate_next(app, req)
        return f"{name}{verb.value}"
    if verb == Verb.REJECT:
        opinion(req, principal, name, verb.value, text, step)
        step.state, step.decided_at, step.decided_by, step.next_reminder_at = REJECTED_STEP, now, principal, None
        step.save()
        Step.update(state=CANCELLED).where((Step.request == req) & (Step.state == PENDING)).execute()
        req.result, req.closed_at = "不同意", now
        _touch(req, REJECTED)
        log.info("%s rejected by %s", req.number, principal)
        outbox.queue(app.cfg, "rejected", [req.sender], views.mail_ctx(app, req, by=name, reason=text),
                     cc=_staff(app), request=req, action="告知单位未获批准",
                     attachments=views.form_attachments(app, req))
        return f"{name}不同意"
    if verb == Verb.RETURN:
        opinion(req, principal, name, "退回", text, step)
        step.state, step.decided_at, step.decided_by, step.next_reminder_at = RETURNED_STEP, now, principal, None
        step.save()
        Step.update(state=CANCELLED).where((Step.request == req) & (Step.state == PENDING)).execute()
        _touch(req, REVIEWING)
        log.info("%s returned to the office by %s", req.number, principal)
        send_review(app, req, reason="returned_by_approver", note=f"{name}退回：{text}" if text else f"{name}退回")
        return f"{name}退回办公室"
    if verb in (Verb.TRANSFER, Verb.ADD_SIGNER):
        party = d.resolve(target) if target else None
        if party is None:
            raise Refused(f"未找到“{target}”：请写明配置中的部门或领导的名称、编号或邮箱，例如“转：王总”。"
                          if target else "请写明转交或加签的对象，例如“转：王总”或“加签：审计科”。")
        if d.person(party.address) is None:
            raise Refused(f"“{target}”不是配置中的部门或领导，不能{verb.value}给其审批；如需增加审批人，请与办公室联系。")
        if party.address == principal or party.address in step.approvers:
            raise Refused(f"{party.name}已是本环节的审批人。")
        later = Step.select().where((Step.request == req) & (Step.state == PENDING) & (Step.position > step.position))
        if any(party.address in s.approvers for s in later):
            raise Refused(f"{party.name}已在后续审批环节中，无需{verb.value}。")
        if verb == Verb.TRANSFER:
            approvers = [party.address if a == principal else a for a in step.approvers]
            step.approvers = approvers
            step.code = outbox.new_code()        # the old notification no longer decides anything
            step.reminders, step.escalated_at, step.activated_at = 0, None, clock.now()
            step.next_reminder_at = _first_reminder(app, req, step)  # the new approver's clock starts now
            step.save()
            opinion(req, principal, name, "转交", f"转{party.name}办理。{text}".strip(), step)
            log.info("%s step %d transferred by %s to %s", req.number, step.position, principal, party.address)
            for approver in step.approvers:
                if approver not in step.signed:
                    notify_approver(app, req, step, approver, extra={"transferred_by": name})
            return f"{name}转交{party.name}"
        # 加签: a step for the named person right after this one, then this one is approved
        Step.update(position=Step.position + 1).where(
            (Step.request == req) & (Step.position > step.position)).execute()
        Step.create(request=req, position=step.position + 1, kind="one", approvers=[party.address],
                    code=outbox.new_code())
        opinion(req, principal, name, "加签", f"加签{party.name}。", step)
        return decide(app, req, step, principal, sender, Verb.APPROVE, text) + f"，加签{party.name}"
    raise Refused("无法识别的审批意见。")


def finish(app: App, req: Request) -> None:
    conditional = Opinion.select().where((Opinion.request == req) & (Opinion.decision == "原则同意")).exists()
    req.result = "原则同意" if conditional else "同意"
    req.done_code = outbox.new_code()       # only the executing unit's result mail carries it (办结)
    _touch(req, APPROVED)
    log.info("%s approved; result to %s", req.number, ", ".join(req.execute) or req.sender)
    # what the executing units owe: the 办结回告, due after reminders.report_after (listed in the digest then)
    since = req.state_since
    Step.create(request=req, position=(Step.select(pw.fn.MAX(Step.position)).where(Step.request == req).scalar()
                                       or 0) + 1, kind=REPORT, approvers=list(req.execute or []), state=ACTIVE,
                code=outbox.new_code(), activated_at=since,
                next_reminder_at=app.calendar.add(since, parse_duration(app.cfg.reminders.report_after)))
    form = views.form_attachments(app, req)
    files = views.original_attachments(app, req) + form
    if req.execute:
        outbox.queue(app.cfg, "result_execute", req.execute, views.mail_ctx(app, req), request=req, code=req.done_code,
                     attachments=files, action="审批结果送执行部门（原件）")
    if req.copies:
        outbox.queue(app.cfg, "result_copy", req.copies, views.mail_ctx(app, req), request=req,
                     attachments=files, action="审批结果抄送有关单位")
    outbox.queue(app.cfg, "result_unit", [req.sender], views.mail_ctx(app, req), request=req,
                 attachments=form, action="告知单位审批结果")


def withdraw(app: App, req: Request, sender: str) -> None:
    if req.state not in OPEN_STATES:
        raise Refused(f"该请示当前状态为“{STATE_LABELS[req.state]}”，不能撤回。")
    step = active_step(req) if req.state == APPROVING else None
    held = list(step.approvers) if step else []      # signed or not, everyone on the step is told
    Step.update(state=CANCELLED, next_reminder_at=None).where(
        (Step.request == req) & (Step.state.in_((PENDING, ACTIVE)))).execute()
    req.result, req.closed_at = "撤回", clock.now()
    _touch(req, WITHDRAWN)
    opinion(req, sender, req.unit_name, "撤回", "单位撤回")
    log.info("%s withdrawn by %s", req.number, sender)
    outbox.queue(app.cfg, "withdrawn", [req.sender], views.mail_ctx(app, req), cc=_staff(app) + held, request=req,
                 action="撤回确认")


def report_done(app: App, req: Request, sender: str, text: str) -> None:
    if req.state != APPROVED:
        raise Refused(f"该请示当前状态为“{STATE_LABELS[req.state]}”，不能办结。")
    req.done_report, req.closed_at = text.strip(), clock.now()
    Step.update(state=APPROVED_STEP, decided_at=req.closed_at, decided_by=sender, next_reminder_at=None).where(
        (Step.request == req) & (Step.kind == REPORT) & (Step.state == ACTIVE)).execute()
    _touch(req, DONE)
    opinion(req, sender, app.directory.name_of(sender), "办结", text)
    log.info("%s reported done by %s", req.number, sender)
    outbox.queue(app.cfg, "done", [req.sender], views.mail_ctx(app, req, by=app.directory.name_of(sender)),
                 cc=_staff(app), request=req, action="办结回告")


def pass_on(app: App, req: Request, inc: Incoming) -> None:
    """补充材料 or a correction from the requesting unit: recorded and passed to whoever holds it now."""
    from daemon.replies import new_text
    mail = inc.mail
    text = new_text(mail).strip()           # what the unit wrote, not the mail it quoted
    opinion(req, mail.from_addr, req.unit_name, "补充", text[:2000])
    targets = holders(req)
    step = active_step(req) if targets else None
    files = [outbox.Attach(a.filename, a.content_type, a.data) for a in mail.attachments]
    ctx = views.mail_ctx(app, req, text=text, names=[f.name for f in files])
    # each holder their own copy with their own code: answering it decides as answering the notification
    for to in [[t] for t in targets] or [_staff(app)]:
        outbox.queue(app.cfg, "supplement", to, ctx, request=req, step=step,
                     code=signer_code(step, to[0]) if step is not None else req.code, attachments=files,
                     action="补充材料转" + "、".join(app.directory.name_of(t) for t in to))
    targets = targets or _staff(app)
    log.info("%s supplement from %s passed to %s", req.number, mail.from_addr, ", ".join(targets))

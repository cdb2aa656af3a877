"""核定 and 派发 (SPEC §6.2 steps 3–4): office staff confirm the 三要素 and dispatch, ask the leader, or void.

Handlers take (act, word) — daemon.jiaoban.table.Act and the reader's Word — and run in intake's transaction.
`send_notices` is public: a new round and a 改派 send the 交办通知单 with it too.
"""

from __future__ import annotations

from daemon import clock
from daemon.deadline import format_deadline
from daemon.jiaoban import CANCELLED, CLARIFY, CLARIFYING, LEAD, UNIT_STEPS, VERIFY, VERIFYING, core, elements
from daemon.jiaoban.elements import Elements, unit_list
from daemon.models import APPROVED_STEP
from daemon.models import CANCELLED as STEP_CANCELLED
from daemon.workflow import Refused


def _now(app):
    return clock.now().astimezone(app.tz)


def current(app, req, task) -> Elements:
    """The elements as they stand now (as proposed, or as the leader's answer to 询问 filled them)."""
    proposed = task.proposed or {}
    at = task.deadline_at.astimezone(app.tz) if task.deadline_at else None
    return Elements(content=task.content, deadline_text=task.deadline_text, deadline_at=at,
                    deadline_open="" if at else proposed.get("deadline_open", ""),
                    deadline_flags=tuple(proposed.get("deadline_flags") or ()) if at else (),
                    requirements=task.requirements, lead=task.lead, co_units=list(task.co_units or []),
                    units_suggested=bool(proposed.get("units_suggested")) and task.lead == proposed.get("lead"),
                    urgency=req.urgency, feedback_every=task.feedback_every, source=task.source,
                    default_deadline=task.default_deadline)


def _apply(req, task, e: Elements) -> None:
    task.content, task.requirements = e.content, e.requirements
    task.deadline_text, task.deadline_at, task.default_deadline = e.deadline_text, e.deadline_at, e.default_deadline
    task.lead, task.co_units, task.feedback_every = e.lead, list(e.co_units), e.feedback_every
    task.save()
    req.title = e.content or req.title
    req.urgency = e.urgency
    req.deadline = e.deadline_at.date() if e.deadline_at else None
    req.save()


def _refuse(act, e: Elements, what: str = "派发") -> None:
    """派发 not done (§6.9): the sender told exactly what is wrong (and which units there are), on the same step,
    so that answering this mail with a corrected 派发 counts."""
    app, mail = act.app, act.pipe.mail
    core.send(app, "jb_dispatch_refused", [act.sender], act.req, step=act.step, action=f"{what}未执行，告知原因",
              reply_to_mail=(mail.message_id, list(mail.references)), problems=e.problems,
              units=unit_list(app.cfg), what=what,
              unknown=bool(e.unknown_units) or any("承办" in p for p in e.problems))
    act.pipe.note(f"{what}未执行：{'；'.join(e.problems)}", "refused", act.req, ignored=True, step=act.step)


def dispatch(act, word) -> None:
    """派发 + element lines on the 核定单: refused (6.9) while 时限 or 承办 is missing or unreadable; else the lead
    unit and co-units get the 交办通知单 (each its own step and code), the leader 已派发, office staff the echo."""
    app, req, task = act.app, act.req, act.task
    d = app.directory
    e = elements.confirm(current(app, req, task), act.reply.fields, _now(app), d, app.calendar, act.sender,
                         app.cfg.jiaoban.default_deadline)
    if e.problems:
        return _refuse(act, e)
    _apply(req, task, e)
    name = d.name_of(act.sender)
    core.record(req, act.sender, name, "派发", _summary(app, task), step=act.step)
    steps = core.start_round(app, req, task, by=act.sender)
    # a later round (继续办理 without a 时限, 核定 by the office) is told as such: the units had this number before
    send_notices(app, req, task, steps, how="继续办理" if task.round > 1 else "派发")
    _tell_dispatched(app, req, task, act, e, how="派发")
    act.pipe.note(f"{name}核定派发：{_summary(app, task)}", "decision", req, step=act.step)


def _summary(app, task) -> str:
    d = app.directory
    co = "、".join(d.name_of(a) for a in task.co_units or [])
    at = format_deadline(task.deadline_at.astimezone(app.tz), _now(app)) if task.deadline_at else "待明确"
    return f"承办：{d.name_of(task.lead)}" + (f"；协办：{co}" if co else "") + f"；时限：{at}" + \
        ("（默认时限）" if task.default_deadline else "")


def send_notices(app, req, task, steps, how: str = "派发") -> None:
    """The 交办通知单 to the lead unit and its 协办 variant to each co-unit, each with its own step's code and the
    交办材料 attached. `how`: 派发, 改派, or 继续办理 (a new round)."""
    from daemon import views
    material = views.original_attachments(app, req)
    due = format_deadline(task.deadline_at.astimezone(app.tz), _now(app)) if task.deadline_at else "待明确"
    for step in steps:
        if step.kind not in UNIT_STEPS:
            continue
        role = "lead" if step.kind == LEAD else "co"
        unit = step.approvers[0]
        core.send(app, "jb_notice", list(step.approvers), req, step=step, attachments=material, role=role, how=how,
                  due=due, unit_name=app.directory.name_of(unit), round_number=task.round,
                  feedback=task.feedback_every or app.cfg.jiaoban.progress_every,
                  action=f"交办通知单（{'承办' if role == 'lead' else '协办'}，{how}）")


def _tell_dispatched(app, req, task, act, e: Elements, how: str) -> None:
    """已派发 to the leader (to whom, by when), and the echo of what was sent to office staff."""
    d = app.directory
    leader = [task.leader]
    delegate = d.delegate_of(task.leader)
    core.send(app, "jb_dispatched", leader, req, cc=[delegate] if delegate else [], audience="leader", how=how,
              action=f"告知交办领导已{how}")
    written = (act.reply.fields.get("时限") or [""])[-1]
    core.send(app, "jb_dispatched", list(app.cfg.office.staff), req, audience="staff", how=how,
              written=written, findings=e.findings, by_name=d.name_of(act.sender),
              reply_to_mail=(act.pipe.mail.message_id, list(act.pipe.mail.references)),
              action=f"{how}回执（办公室）")


def redispatch(act, word) -> None:
    """派发 again, with new 承办/协办 lines, on a lead unit's 申请改派 forwarded to office staff. The new units get
    the 交办通知单; units no longer on the matter are told; the deadline stays unless a 时限： line is given."""
    app, req, task = act.app, act.req, act.task
    d = app.directory
    fields = act.reply.fields
    e = elements.confirm(current(app, req, task), fields, _now(app), d, app.calendar, act.sender,
                         app.cfg.jiaoban.default_deadline)
    if "承办" not in fields and "协办" not in fields:
        e.problems.insert(0, "改派请写明新的承办单位，如“承办：综合科”（协办单位有变化的，另写“协办：……”）")
    if e.problems:
        return _refuse(act, e, "改派")
    before = [task.lead, *(task.co_units or [])]
    _apply(req, task, e)
    name = d.name_of(act.sender)
    core.record(req, act.sender, name, "改派", _summary(app, task), step=act.step)
    steps = core.start_round(app, req, task, by=act.sender, how="改派")
    send_notices(app, req, task, steps, how="改派")
    now_on = [task.lead, *(task.co_units or [])]
    for unit in [u for u in before if u and u not in now_on]:
        core.send(app, "jb_notice", [unit], req, role="replaced", how="改派", unit_name=d.name_of(unit),
                  due="", round_number=task.round, feedback="", action="告知原单位已改派")
    _tell_dispatched(app, req, task, act, e, how="改派")
    act.pipe.note(f"{name}改派：{_summary(app, task)}", "decision", req, step=act.step)


def ask(act, word) -> None:
    """询问：<question> — the leader gets the question (state 待明确), with a step of the leader's own."""
    app, req, task = act.app, act.req, act.task
    question = act.reply.text.strip()
    if not question:
        raise Refused("请在“询问：”后写明需请交办领导明确的问题，如“询问：通报是否印发各分公司？”")
    d = app.directory
    name = d.name_of(act.sender)
    # the 核定单's step stays open: 作废 on it while the leader is asked (§6.3), 派发 on it after the answer (§6.4)
    core.record(req, act.sender, name, "询问", question, step=act.step)
    core.set_state(req, CLARIFYING)
    step = core.open_step(req, CLARIFY, [task.leader], task.round)
    delegate = d.delegate_of(task.leader)
    core.send(app, "jb_ask", [task.leader], req, step=step, cc=[delegate] if delegate else [], question=question,
              asker=name, action="询问交办领导")
    act.pipe.note(f"{name}询问交办领导：{question}", "decision", req, step=act.step)


def answer(act, word) -> None:
    """The leader's answer to 询问: recorded, passed to office staff with a VERIFY step of its own (the 核定单's
    stays open too, so that 派发 on either counts); its 时限/承办/要求 lines fill those elements."""
    app, req, task = act.app, act.req, act.task
    d = app.directory
    said = act.reply
    text = said.new_text.strip()
    name = d.name_of(act.sender)
    core.record(req, act.sender, name, "答复", text, step=act.step)
    core.close_step(act.step, APPROVED_STEP, act.sender)
    filled, problems = [], []
    fields = {k: v for k, v in said.fields.items() if k in ("时限", "承办", "协办", "要求", "内容")}
    if fields:
        e = elements.confirm(current(app, req, task), fields, _now(app), d, app.calendar, app.cfg.office.staff[0])
        problems = [p for p in e.problems if any(k in p for k in fields) or "单位名单" in p]
        if "时限" in fields and e.deadline_at is not None and not any("时限" in p for p in problems):
            task.deadline_text, task.deadline_at, task.default_deadline = e.deadline_text, e.deadline_at, False
            filled.append(f"时限：{format_deadline(e.deadline_at, _now(app))}（原文“{e.deadline_text}”）")
        if "承办" in fields and e.lead and not e.unknown_units:
            task.lead = e.lead
            filled.append(f"承办：{d.name_of(e.lead)}")
        if "协办" in fields and not e.unknown_units:
            task.co_units = [a for a in e.co_units if a != task.lead]
            filled.append(f"协办：{'、'.join(d.name_of(a) for a in task.co_units) or '无'}")
        if "要求" in fields:
            task.requirements = e.requirements
            filled.append(f"要求：{e.requirements}")
        if "内容" in fields and e.content:
            task.content = req.title = e.content
            filled.append(f"内容：{e.content}")
        task.save()
        req.deadline = task.deadline_at.astimezone(app.tz).date() if task.deadline_at else None
        req.save()
    core.set_state(req, VERIFYING)
    step = core.open_step(req, VERIFY, list(app.cfg.office.staff), task.round)
    from daemon import views
    # the delegate's answer is shown as such: 赵秘书（代李副总）
    by = name if act.sender == task.leader else f"{name}（代{d.name_of(task.leader)}）"
    core.send(app, "jb_answered", list(app.cfg.office.staff), req, step=step, answer=text, filled=filled,
              answered_by=by,
              problems=problems, units=unit_list(app.cfg), attachments=views.original_attachments(app, req),
              action="领导答复询问，转办公室核定")
    act.pipe.note(f"{name}答复询问" + (f"，已更新{'、'.join(f.split('：')[0] for f in filled)}" if filled else ""),
                  "decision", req, step=act.step)


def void(act, word) -> None:
    """作废：<reason> — cancelled, the leader told why."""
    app, req, task = act.app, act.req, act.task
    reason = act.reply.text.strip()
    if not reason:
        raise Refused("请在“作废：”后写明理由，如“作废：与督办〔2026〕2号重复”，以便告知交办领导")
    d = app.directory
    name = d.name_of(act.sender)
    core.record(req, act.sender, name, "作废", reason, step=act.step)
    for step in core.active_steps(req):
        core.close_step(step, STEP_CANCELLED, act.sender)
    core.set_state(req, CANCELLED)
    delegate = d.delegate_of(task.leader)
    core.send(app, "jb_void", [task.leader], req, cc=[delegate] if delegate else [], reason=reason, by_name=name,
              action="作废，告知交办领导")
    act.pipe.note(f"{name}作废：{reason}", "decision", req, step=act.step)


"""撤销 and 更正 (SPEC §6.2 step 9): on any mail of the matter before it is closed.

Handlers take (act, word) — daemon.jiaoban.table.Act and the reader's Word — and run in intake's transaction.
After dispatch the deadline changes here only by 更正, recorded with who made it. Nothing here talks to IMAP
or SMTP.
"""

from __future__ import annotations

import re

from daemon import clock, workflow
from daemon.jiaoban import (CANCELLED, CHECKING, CLARIFYING, CO, LEAD, READING, STATE_LABELS, UNIT_STEPS, VERIFY,
                            VERIFYING, core, report)
from daemon.models import ACTIVE, DeadlineChange, Round, Step
from daemon.models import CANCELLED as STEP_CANCELLED
from daemon.workcal import parse_duration

ELEMENTS = ("内容", "时限", "要求", "承办", "协办", "紧急", "反馈周期")
URGENCIES = {"特急": "特急", "加急": "加急", "平急": "", "一般": "", "无": "", "不急": ""}


def _dispatched(req) -> bool:
    """Units have had the matter (any round was dispatched)."""
    return Round.select().where((Round.request == req) & Round.dispatched_at.is_null(False)).exists()


def _units(task) -> list[str]:
    return [a for a in [task.lead, *(task.co_units or [])] if a]


# ---- 撤销 ---------------------------------------------------------------------------------------------------

def withdraw(act, word) -> None:
    """撤销：<reason> from the leader: 已撤销, every step cancelled, the units (once dispatched) and office staff
    told, the leader copied."""
    app, req, task, pipe = act.app, act.req, act.task, act.pipe
    reason = act.reply.text
    told_units = _dispatched(req)
    state_before = STATE_LABELS.get(req.state, req.state)
    core.cancel_steps(req)
    core.record(req, act.sender, report.leader_name(app, act.sender, task), "撤销", reason)
    req.closed_at = clock.now()
    req.result = "撤销"
    core.set_state(req, CANCELLED)
    staff = list(app.cfg.office.staff)
    units = _units(task) if told_units else []
    if units:
        core.send(app, "jb_withdrawn", units, req, cc=[*staff, task.leader], action="撤销，告知各单位",
                  reason=reason, audience="units", state_before=state_before)
    else:
        core.send(app, "jb_withdrawn", staff, req, cc=[task.leader], action="撤销，告知办公室", reason=reason,
                  audience="staff", state_before=state_before)
    pipe.note(f"{report.leader_name(app, act.sender, task)}撤销交办" + (f"：{reason}" if reason else ""), "decision", req)


# ---- 更正 ---------------------------------------------------------------------------------------------------

def _address(app, name: str, sender: str) -> str:
    name = name.strip().strip("。")
    if name == "办公室":
        return sender if app.directory.is_staff(sender) else app.cfg.office.staff[0]
    party = app.directory.resolve(name)
    if party is None:
        known = "、".join([p.name for p in app.cfg.people if not p.leader] + [u.name for u in app.cfg.units])
        raise workflow.Refused(f"“{name}”不是已登记的单位或人员，未作更正。可填写：{known}，或“办公室”。")
    return party.address


def _names(app, addresses) -> str:
    return "、".join(app.directory.name_of(a) for a in addresses) or "无"


def correct(act, word) -> None:
    """更正： + element lines from the leader or office staff: applied; the units get a 交办事项变更 notice
    (old → new); free text goes to office staff. A 时限 after dispatch is a change of the round's deadline by 更正,
    the base 按期 is judged on."""
    app, req, task, pipe = act.app, act.req, act.task, act.pipe
    said = act.reply
    # 要求 may run over several lines (as in a 派发); every other element has one value (the reader asks when two differ)
    lines = {k: "\n".join(said.fields[k]) if k == "要求" else said.fields[k][-1] for k in ELEMENTS if said.fields.get(k)}
    free = said.text
    if not lines and not free:
        raise workflow.Refused("请在“更正：”后逐行写明要更正的要素，如“时限：12月8日前”“承办：综合科”。")
    now = clock.now()
    dispatched = req.state not in (VERIFYING, CLARIFYING)
    reported = req.state in (CHECKING, READING)
    if reported and ("承办" in lines or "协办" in lines):
        raise workflow.Refused("承办单位已报送办结报告，不能再更正承办、协办单位；如需另行办理，请由领导批示继续办理。")
    changes: list[tuple[str, str, str]] = []
    rnd = Round.get_or_none((Round.request == req) & (Round.number == task.round))

    # read and check every line before changing anything: a refusal leaves the matter as it was
    new_at = report.read_time_limit(app, lines["时限"], now) if "时限" in lines else None
    lead = _address(app, lines["承办"], act.sender) if "承办" in lines else task.lead
    if "协办" in lines:
        text = lines["协办"].strip().strip("。")
        co = [] if text in ("", "无", "-") else list(dict.fromkeys(
            _address(app, n, act.sender) for n in _split(text)))
        co = [c for c in co if c != lead]
    else:
        co = [c for c in task.co_units or [] if c != lead]
    if "紧急" in lines and lines["紧急"] not in URGENCIES:
        raise workflow.Refused(f"紧急程度“{lines['紧急']}”无法识别，请写“特急”“加急”或“平急”。")
    if "反馈周期" in lines:
        try:
            parse_duration(lines["反馈周期"])
        except ValueError:
            raise workflow.Refused(f"反馈周期“{lines['反馈周期']}”无法识别，请写如“5d”（5个工作日）。") from None

    if "内容" in lines and lines["内容"] != task.content:
        changes.append(("内容", task.content, lines["内容"]))
        task.content = req.title = lines["内容"]
    if "要求" in lines and lines["要求"] != task.requirements:
        changes.append(("要求", task.requirements or "无", lines["要求"]))
        task.requirements = lines["要求"]
        if rnd is not None and dispatched:
            rnd.requirements = lines["要求"]
    if new_at is not None and new_at != task.deadline_at:
        changes.append(("时限", report.shown(app, task.deadline_at), report.shown(app, new_at)))
        if dispatched and rnd is not None:
            DeadlineChange.create(request=req, round=task.round, old_at=rnd.deadline_at, new_at=new_at,
                                  by=act.sender, how="更正", at=now)
            rnd.deadline_at = rnd.base_deadline_at = new_at
        report.set_deadline(app, req, task, new_at, lines["时限"])
    if "紧急" in lines and URGENCIES[lines["紧急"]] != (req.urgency or ""):
        changes.append(("紧急", req.urgency or "平急", lines["紧急"]))
        req.urgency = URGENCIES[lines["紧急"]]
    if "反馈周期" in lines and lines["反馈周期"] != task.feedback_every:
        changes.append(("反馈周期", task.feedback_every or "未设", lines["反馈周期"]))
        task.feedback_every = lines["反馈周期"]
    removed: list[str] = []
    new_steps: list[Step] = []
    if lead != task.lead:
        changes.append(("承办", _names(app, [task.lead]) if task.lead else "待明确", _names(app, [lead])))
    if co != list(task.co_units or []):
        changes.append(("协办", _names(app, task.co_units or []), _names(app, co)))
    if not changes and not free:
        raise workflow.Refused("所写要素与现有内容相同，未作更正。")
    if lead != task.lead or co != list(task.co_units or []):
        if dispatched:
            removed, new_steps = _reassign(req, task, lead, co, act.sender)
            if lead != task.lead and rnd is not None:
                rnd.signed_at = None    # the new lead unit's own 签收 is awaited
        task.lead, task.co_units = lead, co
    if rnd is not None:
        rnd.save()
    task.save()
    req.updated_at = now
    req.save()

    d = app.directory
    by = report.who(app, act.sender) if d.is_staff(act.sender) or act.sender == app.cfg.office.head \
        else report.leader_name(app, act.sender, task)
    core.record(req, act.sender, by, "更正", said.new_text.strip())
    _notify(act, changes, free, dispatched, removed, new_steps)
    what = "；".join(f"{label}：{old} → {new}" for label, old, new in changes) or "无要素变更"
    pipe.note(f"{by}更正：{what}" +
              (f"；另附意见：{free}" if free else ""), "decision", req)


def _split(text: str) -> list[str]:
    return [n for n in re.split(r"[，,、;；\s]+", text) if n]


def _reassign(req, task, lead: str, co: list[str], by: str) -> tuple[list[str], list[Step]]:
    """Units changed after dispatch: the steps of units no longer on the matter cancelled, new ones opened for
    the units added (they get the 交办通知单 from dispatch.send_notices)."""
    before = {a: s for s in core.active_steps(req, *UNIT_STEPS) for a in s.approvers}
    removed = [a for a in [task.lead, *(task.co_units or [])] if a and a not in [lead, *co]]
    new_steps = []
    for address, kind in [(lead, LEAD), *[(c, CO) for c in co]]:
        step = before.get(address)
        if step is not None and step.kind == kind:
            continue
        if step is not None:
            core.close_step(step, STEP_CANCELLED, by)
        new_steps.append(core.open_step(req, kind, [address], task.round))
    for address in removed:
        if (step := before.get(address)) is not None and step.state == ACTIVE:
            core.close_step(step, STEP_CANCELLED, by)
    return removed, new_steps


def _notify(act, changes, free, dispatched, removed, new_steps) -> None:
    app, req, task = act.app, act.req, act.task
    d = app.directory
    staff = list(app.cfg.office.staff)
    from_leader = not d.is_staff(act.sender) and act.sender != app.cfg.office.head
    by = d.name_of(task.leader) if from_leader else "办公室"
    common = {"changes": changes, "free": free, "by_name": by}
    if dispatched and changes:
        fresh = {a for s in new_steps for a in s.approvers}
        for step in core.active_steps(req, *UNIT_STEPS):
            if step.approvers[0] in fresh:
                continue
            core.send(app, "jb_changed", step.approvers, req, step, action="交办事项变更，告知单位", audience="unit",
                      unit_name=d.name_of(step.approvers[0]), co=step.kind == CO, coded=True, **common)
        if req.state in (CHECKING, READING):
            core.send(app, "jb_changed", _units(task), req, action="交办事项变更，告知单位", audience="unit",
                      unit_name="、".join(d.name_of(a) for a in _units(task)), reported=True, **common)
        if removed:
            core.send(app, "jb_changed", removed, req, action="告知不再承办或协办", audience="removed",
                      unit_name="、".join(d.name_of(a) for a in removed), **common)
        if new_steps:
            from daemon.jiaoban import dispatch
            dispatch.send_notices(app, req, task, new_steps, how="改派")
    verify = next(iter(core.active_steps(req, VERIFY)), None)
    if from_leader:
        # office staff always see what the leader changed or wrote (on a VERIFY step: the 派发 answers it)
        core.send(app, "jb_changed", staff, req, verify, action="领导更正，告知办公室", audience="staff",
                  unit_name="办公室", coded=verify is not None, **common)
    elif changes:
        core.send(app, "jb_changed", [task.leader], req, action="办公室更正，告知交办领导", audience="leader",
                  unit_name=d.name_of(task.leader), **common)

"""复命, 核报 and 阅示 (SPEC §6.2 steps 6–8): the lead unit's report, the office's check, the leader's close or
next round, and 视为办结 when the leader leaves a report unanswered.

Handlers take (act, word) — daemon.jiaoban.table.Act and the reader's Word — and run in intake's transaction;
`deem_closed_due` is the timer's and takes its own. Judging what a report says is left to people: every figure
here comes from the record (dates and replies). Nothing here talks to IMAP or SMTP.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from daemon import clock, mime, models, outbox, workflow
from daemon.deadline import read as read_deadline
from daemon.deadline import format_deadline, working_days_left
from daemon.jiaoban import CHECK, CHECKING, CLOSED, CO, DOING, LEAD, READ, READING, VERIFY, VERIFYING, core
from daemon.jiaoban.core import EXTENDED, LATE, ON_TIME, result_of, same_party
from daemon.models import ACTIVE, APPROVED_STEP, CANCELLED, DeadlineChange, Mail, Opinion, Request, Round, Step
from daemon.workcal import parse_duration

log = logging.getLogger("officeflow.jiaoban")

DEEMED = "视为办结（领导无新批示）"
TAKEN = "该环节已由他人办理，本邮件未改变办理结果。"
REPORT_KIND = "jb_report"       # Mail.kind of a report received: its attachments are read again for 阅示

# 复命三注意 and 三原则 (seed §二): for the reader to confirm; officeflow judges none of them
CHECKLIST = (
    ("不失真", "完成情况是否如实，问题和缺陷是否写明、有无隐匿。"),
    ("不吹嘘", "有无借机表功、诉苦。"),
    ("不邀利", "有无借机提出不合理的利益要求。"),
    ("质量", "是否达到要求，有无潜在问题和漏洞。"),
    ("速度", "是否超过时限。"),
    ("影响", "对单位、职工有无不良影响。"),
)

# 「阅，但请补充……」: closing words followed by a request for more work could mean either; asked, never guessed
_DOUBT = re.compile(r"但|不过|然而|补充|完善|修改|重新|重报|补报|再报|返工|重做|继续办理|不同意|不予")
# names of files a report says it attaches: 附件：问题清单.xlsx、附件2 …
_FILE_NAME = re.compile(r"[《“\"]?([^\s《》“”\"、，,；;：:（）()]{1,60}"
                        r"\.(?:docx?|xlsx?|pptx?|pdf|wps|et|ofd|zip|rar|jpe?g|png|txt|csv))", re.IGNORECASE)
_NUMBERED = re.compile(r"附件\s*([0-9０-９一二三四五六七八九十]{1,3})")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九", 0)}


# ---- pure rules ------------------------------------------------------------------------------------------

def doubtful(text: str) -> bool:
    """A closing word whose 批示 asks for more work (阅，但请补充……) could also mean 继续办理."""
    return bool(_DOUBT.search(text or ""))


def _number(text: str) -> int:
    text = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _CN_DIGITS.get(text[1:], 0)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return _CN_DIGITS.get(tens, 0) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
    return _CN_DIGITS.get(text, 0)


def missing_attachments(text: str, names: list[str]) -> list[str]:
    """What the report says it attaches but the mail does not carry: files named in the text and absent, the
    附件N beyond those attached, or any 附件 at all when nothing is attached. Pure."""
    text = text or ""
    have = [n.lower() for n in names]
    missing = []
    for m in _FILE_NAME.finditer(text):
        name = m.group(1)
        stem = name.rsplit(".", 1)[0].lower()
        if not any(name.lower() == h or stem == h.rsplit(".", 1)[0] for h in have) and name not in missing:
            missing.append(name)
    numbers = sorted({n for m in _NUMBERED.finditer(text) if (n := _number(m.group(1))) > len(names)})
    missing += [f"附件{n}" for n in numbers if f"附件{n}" not in missing]
    if not names and not missing and "附件" in text:
        missing.append("报告提及的附件")
    return missing


def requirement_lines(text: str) -> list[str]:
    """The 要求 one item a line: the lines as written, a line of several sentences split at 。；."""
    out = []
    for line in (text or "").splitlines():
        parts = [p.strip() for p in re.split(r"(?<=[。；;])", line) if p.strip()]
        out += parts
    return out


# ---- reading the record ----------------------------------------------------------------------------------

def when(app, at: datetime | None) -> str:
    """12月4日 16:40 in the office's time zone."""
    if at is None:
        return ""
    local = at.astimezone(app.tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def who(app, address: str) -> str:
    if not address:
        return "系统"
    d = app.directory
    return workflow.staff_name(app, address) if d.is_staff(address) or address == app.cfg.office.head \
        else d.name_of(address)


def leader_name(app, sender: str, task) -> str:
    """李副总, or 赵秘书（代李副总） when the leader's delegate wrote."""
    d = app.directory
    if sender == task.leader or not task.leader:
        return d.name_of(sender)
    return f"{d.name_of(sender)}（代{d.name_of(task.leader)}）"


def timing(app, rnd: Round) -> str:
    """按期 / 延期后办结 / 逾期 N 个工作日, with the deadline in force, as the 核报单 shows it."""
    result = result_of(rnd.reported_at, rnd.base_deadline_at, rnd.deadline_at)
    if not result:
        return "尚未报送"
    if result == LATE:
        n = -working_days_left(rnd.deadline_at, rnd.reported_at, app.calendar)
        return f"逾期 {n} 个工作日" if n > 0 else "逾期（时限当日超时报送）"
    if result == EXTENDED:
        return f"延期后办结（原定时限{shown(app, rnd.base_deadline_at)}）"
    return ON_TIME


def shown(app, at: datetime | None) -> str:
    """12月4日（周五）17:30前: a deadline as every mail writes it, without the days left."""
    if at is None:
        return "待明确"
    return format_deadline(at.astimezone(app.tz), clock.now().astimezone(app.tz))


def _of_round(field, rnd: Round):
    """Rows of the round: since its dispatch (all of them when it has none yet)."""
    return field >= rnd.dispatched_at if rnd.dispatched_at is not None else field.is_null(False)


def co_status(app, req: Request, task, rnd: Round) -> list[tuple[str, str]]:
    """Each co-unit with or without 协办完毕 this round: (name, 已报协办完毕（日期）/ 未报协办完毕)."""
    d = app.directory
    done = {}
    for op in Opinion.select().where((Opinion.request == req) & (Opinion.decision == "协办完毕")
                                     & _of_round(Opinion.at, rnd)).order_by(Opinion.at):
        for c in task.co_units or []:
            if c not in done and same_party(d, op.person, c):
                done[c] = op.at
    for s in Step.select().where((Step.request == req) & (Step.kind == CO) & (Step.round == rnd.number)
                                 & (Step.state == APPROVED_STEP)):
        for c in s.approvers:
            done.setdefault(c, s.decided_at)
    return [(d.name_of(c), f"已报协办完毕（{when(app, done[c])}）" if c in done else "未报协办完毕")
            for c in task.co_units or []]


def last_progress(app, req: Request, rnd: Round, before: datetime | None = None) -> str:
    """The last 进展 of the round before the report: who, when, what."""
    where = (Opinion.request == req) & (Opinion.decision == "进展") & _of_round(Opinion.at, rnd)
    if before is not None:
        where &= Opinion.at <= before
    op = Opinion.select().where(where).order_by(Opinion.at.desc(), Opinion.id.desc()).first()
    if op is None:
        return "无"
    return f"{when(app, op.at)} {op.name}：{op.text or '（无文字）'}"


def deadline_changes(app, req: Request) -> list[str]:
    """Every change of 时限, with who made it: 12月1日 10:20 派发（办公室）：— → 12月4日（周五）17:30前."""
    rows = list(DeadlineChange.select().where(DeadlineChange.request == req).order_by(DeadlineChange.at,
                                                                                      DeadlineChange.id))
    rounds = {r.round for r in rows}
    out = []
    for c in rows:
        old = shown(app, c.old_at) if c.old_at else "—"
        new = shown(app, c.new_at) if c.new_at else "—"
        label = f"第{c.round}轮 " if len(rounds) > 1 else ""
        out.append(f"{when(app, c.at)} {label}{c.how}（{who(app, c.by)}）：{old} → {new}")
    return out


def facts(app, req: Request, task, rnd: Round, files: list | None = None) -> dict:
    """What the 核报单 and the 请阅示 show beside the report, all from the record (SPEC §6.2 step 7); `files`: the
    report's attachments when in hand, else read again from its archived mail."""
    files = report_files(app, req) if files is None else files
    names = [a.name for a in files]
    return {
        "round": rnd, "timing": timing(app, rnd), "reported_when": when(app, rnd.reported_at),
        "result": result_of(rnd.reported_at, rnd.base_deadline_at, rnd.deadline_at),
        "deadline_in_force": shown(app, rnd.deadline_at),
        "requirements": requirement_lines(rnd.requirements or task.requirements) or ["（未提具体要求）"],
        "attachment_names": names,
        "missing": missing_attachments(rnd.report, names),
        "co_status": co_status(app, req, task, rnd),
        "last_progress": last_progress(app, req, rnd, rnd.reported_at),
        "changes": deadline_changes(app, req),
        "checklist": CHECKLIST,
    }


def report_files(app, req: Request) -> list:
    """The attachments of the last report received, byte for byte, out of its archived mail."""
    row = (Mail.select().where((Mail.request == req) & (Mail.direction == "in") & (Mail.kind == REPORT_KIND))
           .order_by(Mail.id.desc()).first())
    if row is None or not row.archive:
        return []
    try:
        parsed = mime.parse((app.archive_root() / row.archive).read_bytes())
    except (OSError, mime.MailParseError) as e:
        log.error("%s cannot read the archived report %s: %s", req.number, row.archive, e)
        return []
    return [outbox.Attach(a.filename, a.content_type, a.data) for a in parsed.attachments]


def checkers(app, task) -> list[str]:
    """Who checks the report: office staff, or the head when the office itself is the lead unit."""
    office = app.cfg.office
    if task.lead in office.staff and office.head:
        return [office.head]
    return list(office.staff)


# ---- step 6: the lead unit's report ---------------------------------------------------------------------

def report(act, word) -> None:
    """办结：/复命：<report> from the lead unit: recorded, the round's unit steps closed, the 核报单 to the office."""
    app, req, task, pipe = act.app, act.req, act.task, act.pipe
    text = act.reply.text
    files = [outbox.Attach(a.filename, a.content_type, a.data) for a in pipe.mail.attachments]
    if not text and not files:
        raise workflow.Refused("办结报告未写明办理情况。请在“办结：”后写明完成情况、存在的问题和后续工作意见，"
                               "或附上办结报告。")
    if act.step.kind == LEAD and not claim(act.step, act.sender):
        raise workflow.Refused(TAKEN)
    now = clock.now()
    rnd = core.round_of(req, task.round)
    rnd.report = text
    rnd.reported_at = now
    rnd.save()
    core.record(req, act.sender, app.directory.name_of(act.sender), "办结", text, step=act.step)
    for step in core.active_steps(req):
        core.close_step(step, CANCELLED)           # co-units, 请求协调, a pending extension: overtaken
    core.set_state(req, CHECKING)
    holders = checkers(app, task)
    check = core.open_step(req, CHECK, holders, task.round)
    pipe.note(f"{app.directory.name_of(act.sender)}报送办结报告，送{who(app, holders[0])}核报", REPORT_KIND, req,
              step=act.step)
    core.send(app, "jb_check", holders, req, check, attachments=files, action="办结报告送核报",
              round=rnd, facts=facts(app, req, task, rnd, files), head=holders == [app.cfg.office.head])


# ---- step 7: the office's check -------------------------------------------------------------------------

def checked(act, word) -> None:
    """核报 [+ 核报意见：] on the 核报单: the report before the leader (待阅示)."""
    app, req, task = act.app, act.req, act.task
    opinion = "\n".join(act.reply.fields.get("核报意见", [])) or act.reply.text
    if not claim(act.step, act.sender):
        raise workflow.Refused(TAKEN)
    rnd = core.round_of(req, task.round)
    rnd.checked_at = clock.now()
    rnd.checked_by = act.sender
    rnd.check_opinion = opinion
    rnd.save()
    core.record(req, act.sender, who(app, act.sender), "核报", opinion, step=act.step)
    core.set_state(req, READING)
    read = core.open_step(req, READ, [task.leader], task.round)
    act.pipe.note(f"{who(app, act.sender)}核报，送{app.directory.name_of(task.leader)}阅示", "decision", req,
                  step=act.step)
    delegate = app.directory.delegate_of(task.leader)
    files = report_files(app, req)
    core.send(app, "jb_read", [task.leader], req, read, cc=[delegate] if delegate else [], attachments=files,
              action="请领导阅示", round=rnd, facts=facts(app, req, task, rnd, files))


def _reopen_units(app, req: Request, task, rnd: Round) -> list[Step]:
    """The round's units again (same round, same deadline): the lead unit, and each co-unit that has not
    reported 协办完毕."""
    done = {name for name, status in co_status(app, req, task, rnd) if status.startswith("已报")}
    steps = [core.open_step(req, LEAD, [task.lead], task.round)]
    steps += [core.open_step(req, CO, [c], task.round) for c in task.co_units or []
              if app.directory.name_of(c) not in done]
    core.set_state(req, DOING)
    return steps


def send_back(act, word) -> None:
    """退回：<guidance> [时限：…] on the 核报单: back to the lead unit, the same round; a 时限 line changes the
    deadline (by office staff, how 退回) and becomes the base 按期 is judged on."""
    app, req, task = act.app, act.req, act.task
    guidance = act.reply.text
    if not guidance:
        raise workflow.Refused("退回须写明理由和修改要求，如“退回：请补充问题整改的具体措施后重报”。")
    rnd = core.round_of(req, task.round)
    now = clock.now()
    new_at = None
    if act.reply.fields.get("时限"):
        new_at = read_time_limit(app, act.reply.fields["时限"][-1], now)
    if not claim(act.step, act.sender):
        raise workflow.Refused(TAKEN)
    core.record(req, act.sender, who(app, act.sender), "退回", guidance, step=act.step)
    if new_at is not None and new_at != rnd.deadline_at:
        DeadlineChange.create(request=req, round=task.round, old_at=rnd.deadline_at, new_at=new_at, by=act.sender,
                              how="退回", at=now)
        rnd.deadline_at = rnd.base_deadline_at = new_at
        rnd.save()
        set_deadline(app, req, task, new_at, act.reply.fields["时限"][-1])
    steps = _reopen_units(app, req, task, rnd)
    act.pipe.note(f"{who(app, act.sender)}退回{app.directory.name_of(task.lead)}" +
                  (f"，时限改为{shown(app, new_at)}" if new_at else ""), "decision", req,
                  step=act.step)
    lead = steps[0]
    core.send(app, "jb_sent_back", [task.lead], req, lead, cc=[a for s in steps[1:] for a in s.approvers],
              action="退回承办单位", round=rnd, guidance=guidance, new_deadline=new_at is not None)


def read_time_limit(app, text: str, reference: datetime) -> datetime:
    """A 时限 line read against the day of the mail (SPEC §6.5); refused when unreadable or already past."""
    found = read_deadline(text, reference, app.calendar)
    if not found.ok:
        raise workflow.Refused(found.reason)
    if found.cross_year:
        raise workflow.Refused(f"时限“{text}”将理解为{found.at.year}年{found.at.month}月{found.at.day}日（跨年），"
                               f"为防误读，未作处理。如确是{found.at.year}年，请写明年份，如“时限：{found.at.year}年"
                               f"{found.at.month}月{found.at.day}日前”。")
    if found.at <= reference:
        raise workflow.Refused(f"时限“{text}”（{shown(app, found.at)}）已过，"
                               f"请写明今后的日期，如“时限：{core.example_limit(app, reference)}”。")
    return found.at


def set_deadline(app, req: Request, task, at: datetime | None, text: str = "") -> None:
    task.deadline_at = at
    if text:
        task.deadline_text = text
    task.default_deadline = False
    task.save()
    req.deadline = at.astimezone(app.tz).date() if at else None
    req.save()


# ---- step 8: the leader's 阅示 ---------------------------------------------------------------------------

def close(act, word) -> None:
    """阅/已阅/同意/办结/可以 on the 请阅示: 已办结, the rest of the text the 批示. A repeated 阅 on a closed matter
    changes nothing and says so; 「阅，但请补充……」 is asked about."""
    app, req, task, pipe = act.app, act.req, act.task, act.pipe
    text = act.reply.text
    if req.state == READING and not doubtful(text) and not claim(act.step, act.sender):
        req = act.req = Request.get_by_id(req.id)       # closed meanwhile (视为办结 by the timer)
    if req.state == CLOSED:
        rnd = core.round_of(req, task.round)
        pipe.note(f"本件已于{when(app, rnd.read_at)}办结，再次“{word.value}”未改变任何状态", "late", req,
                  ignored=True, step=act.step)
        pipe.answer("jb_explain", {"reply": act.reply, "why": f"本件已于{when(app, rnd.read_at)}办结，"
                                   f"您此次回复的“{word.value}”未改变办理结果。",
                                   "hints": ["如需继续办理，请回复请阅示邮件：“继续办理：要求”，可另起一行写“时限：……”。"],
                                   **core.ctx(app, req, task)}, req, action="告知本件已办结")
        return
    if doubtful(text):
        pipe.note(f"领导批示“{word.value}，{text[:40]}”，既可理解为办结也可理解为继续办理，已请领导明确", "unclear", req,
                  step=act.step)
        pipe.answer("jb_read_help", {"reply": act.reply, "reason": "both", "asks": True,
                                     **core.ctx(app, req, task)}, req,
                    action="请领导明确批示", step=act.step, code=act.step.code)
        return
    rnd = close_round(app, req, task, act.sender, text)
    pipe.note(f"{leader_name(app, act.sender, task)}阅示，已办结（{rnd.result}）" + (f"：{text}" if text else ""),
              "decision", req, step=act.step)


def claim(step: Step, by: str) -> bool:
    """Take the active step for this decision with a conditional UPDATE, so that the timer's 视为办结 and the
    leader's 阅 never both close one round (a second daemon sees the step taken)."""
    now = clock.now()
    taken = (Step.update(state=APPROVED_STEP, decided_at=now, decided_by=by)
             .where((Step.id == step.id) & (Step.state == ACTIVE)).execute()) == 1
    if taken:
        step.state, step.decided_at, step.decided_by = APPROVED_STEP, now, by
    return taken


def close_round(app, req: Request, task, by: str, instruction: str, deemed: bool = False) -> Round:
    """Close the current round (已办结) with the leader's 批示, or as 视为办结 (deemed, by the timer); its result
    from the record; the lead unit, the co-units and office staff told."""
    now = clock.now()
    rnd = core.round_of(req, task.round)
    rnd.read_at = now
    rnd.instruction = instruction
    rnd.deemed = deemed
    rnd.result = result_of(rnd.reported_at, rnd.base_deadline_at, rnd.deadline_at)
    rnd.save()
    for step in core.active_steps(req):
        core.close_step(step, APPROVED_STEP if step.kind == READ else CANCELLED, by)
    if deemed:
        core.record(req, "", "系统", "阅示", DEEMED)
    else:
        core.record(req, by, leader_name(app, by, task), "阅示", instruction)
    req.closed_at = now
    req.result = rnd.result
    core.set_state(req, CLOSED)
    log.info("%s closed%s: %s", req.number, " (deemed)" if deemed else "", rnd.result)
    units = [task.lead, *(task.co_units or [])]
    core.send(app, "jb_closed", [task.lead], req, cc=[*units[1:], *app.cfg.office.staff],
              action="视为办结，告知各单位" if deemed else "办结告知各单位", round=rnd, deemed=deemed)
    return rnd


def reopen(act, word) -> None:
    """继续办理：/不同意：/重办：<requirements> on the 请阅示 (also after closure): the next round with the new 要求;
    with a 时限 line it is dispatched at once, without one it goes back to office staff to 核定."""
    app, req, task, pipe = act.app, act.req, act.task, act.pipe
    said = act.reply
    requirements = "\n".join(x for x in [said.text, *said.fields.get("要求", [])] if x).strip()
    if not requirements:
        pipe.note(f"领导批示“{word.value}”未写明要求，未开始新一轮，已请领导写明", "unclear", req, step=act.step)
        pipe.answer("jb_read_help", {"reply": said, "reason": "empty", "asks": act.step.state == ACTIVE,
                                                **core.ctx(app, req, task)}, req,
                    action="请领导写明继续办理的要求", step=act.step if act.step.state == ACTIVE else None,
                    code=act.step.code if act.step.state == ACTIVE else "")
        return
    now = clock.now()
    new_at = None
    limit_text = said.fields.get("时限", [""])[-1]
    if limit_text:
        new_at = read_time_limit(app, limit_text, now)
    old = core.round_of(req, task.round)
    if req.state == READING:
        old.instruction = requirements     # the 批示 on its report; not closed (read_at stays empty), no result
        old.save()
    core.record(req, act.sender, leader_name(app, act.sender, task), word.value,
                requirements + (f"\n时限：{limit_text}" if limit_text else ""), step=act.step)
    for step in core.active_steps(req):
        core.close_step(step, APPROVED_STEP if step.kind == READ else CANCELLED, act.sender)
    req.closed_at = None
    req.result = ""
    req.save()
    task.round += 1
    task.requirements = requirements
    Round.create(request=req, number=task.round, requirements=requirements)
    number = task.round
    if new_at is not None:
        set_deadline(app, req, task, new_at, limit_text)
        steps = core.start_round(app, req, task, act.sender, how="新一轮")
        from daemon.jiaoban import dispatch
        dispatch.send_notices(app, req, task, steps, how="继续办理")
        pipe.note(f"{app.directory.name_of(act.sender)}批示继续办理，第{number}轮已派发，时限"
                  f"{shown(app, new_at)}", "decision", req, step=act.step)
        return
    set_deadline(app, req, task, None)
    core.set_state(req, VERIFYING)
    verify = core.open_step(req, VERIFY, list(app.cfg.office.staff), number)
    pipe.note(f"{app.directory.name_of(act.sender)}批示继续办理（第{number}轮），未写时限，转办公室核定", "decision", req,
              step=act.step)
    core.send(app, "jb_next_round", list(app.cfg.office.staff), req, verify, action="第%d轮送办公室核定" % number,
              audience="staff", number=number, said=requirements)
    units = [task.lead, *(task.co_units or [])]
    core.send(app, "jb_next_round", units[:1], req, cc=units[1:], action="告知各单位继续办理",
              audience="units", number=number, said=requirements)


def unclear(act, word) -> None:
    """Any other reply to the 请阅示: nothing changes; the leader told in one short mail what to write."""
    app, req, task = act.app, act.req, act.task
    act.pipe.note("领导回复未含“阅”或“继续办理”等批示用语，未改变状态，已告知批示写法", "unclear", req, step=act.step)
    act.pipe.answer("jb_read_help", {"reply": act.reply, "reason": "other", "asks": True,
                                     **core.ctx(app, req, task)}, req,
                    action="告知领导批示写法", step=act.step, code=act.step.code)


# ---- the timer: 视为办结 ---------------------------------------------------------------------------------

def deem_closed_due(app) -> int:
    """Close as 视为办结（领导无新批示） every 待阅示 matter whose 请阅示 has waited `jiaoban.deem_closed_after` of
    working time. Each is claimed by a conditional UPDATE of its READ step, so two daemons never close one twice;
    returns how many were closed."""
    after = app.cfg.jiaoban.deem_closed_after
    if not after:
        return 0
    duration = parse_duration(after)
    now = clock.now()
    due = [s for s in Step.select().join(Request).where((Step.kind == READ) & (Step.state == ACTIVE)
                                                        & (Request.state == READING))
           if s.activated_at is not None and app.calendar.add(s.activated_at, duration) <= now]
    closed = 0
    for step in due:
        try:
            with models.db.atomic():
                if not claim(step, ""):
                    continue            # answered meanwhile, or closed by the other daemon
                req = Request.get_by_id(step.request_id)
                close_round(app, req, core.task_of(req), "", "", deemed=True)
        except Exception:  # noqa: BLE001 - one broken matter must not keep the others open
            log.exception("%s could not be closed as 视为办结", step.request_id)
            continue
        closed += 1
    return closed

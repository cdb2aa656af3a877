"""While a 交办 is done (SPEC §6.2 step 5): 进展, 签收, 请求协调, 协办完毕, 申请延期 and its decision, 申请改派.

Handlers take (act, word) — daemon.jiaoban.table.Act and the reader's Word — and run in intake's transaction:
each records what was said verbatim (an Opinion), changes the rows it owns, queues its mails (every mail that
expects an answer with the step it belongs to, so that the answer carries the code) and notes the mail once.
Nothing here talks to IMAP or SMTP.
"""

from __future__ import annotations

import re

from daemon import clock, outbox
from daemon.deadline import Deadline, format_deadline
from daemon.deadline import read as read_deadline
from daemon.jiaoban import CO, COORDINATE, DOING, EXTEND, EXTENDING, LEAD, REASSIGN, UNIT_STEPS, core
from daemon.jiaoban.reader import Word, fields_of
from daemon.models import APPROVED_STEP, REJECTED_STEP, DeadlineChange, Mail, Opinion, Step
from daemon.replies import Verb
from daemon.workflow import Refused

OVERDUE = "已逾期，请报告进展并说明未按期办结原因"
# the words a reply may start with, as the reader knows them, for the text that follows the word
_ALIASES = {Word.SIGN: ("签收", "收到"), Word.REPORT: ("办结", "复命")}
_AFTER = " \t:：,，。.;；!！、﹕"
# 申请延期：12月8日前，因……  — the expression ends at the first comma, semicolon, full stop or line end
_CLAUSE = re.compile(r"[，,；;。\n]")
# what may stand beside the expression before that comma: 延至12月9日前
_FILLER = re.compile(r"(?:申请)?(?:延期至|延长至|延至|推迟至|推迟到|延到|顺延至|至|到)?")


# -- what every handler shares ----------------------------------------------------------------------------

def verbatim(said) -> str:
    """What the sender wrote after the keyword, every line as written (element lines included)."""
    text = (said.new_text or "").strip()
    if said.word == Word.TEXT:
        return text
    first, _, rest = text.partition("\n")
    for alias in _ALIASES.get(said.word, (said.word.value,)):
        pos = first.find(alias)
        if pos >= 0:
            first = first[pos + len(alias):].lstrip(_AFTER)
            break
    return "\n".join(part for part in (first.strip(), rest.strip()) if part)


def _name(act, address: str) -> str:
    return act.app.directory.name_of(address)


def _unit_name(act) -> str:
    """The unit the sender writes for: the holder of its step (another address of the unit writes for it)."""
    return _name(act, act.step.approvers[0] if act.step is not None else act.sender)


def _is_lead(act) -> bool:
    return core.same_party(act.app.directory, act.sender, act.task.lead)


def _round(act):
    return core.round_of(act.req, act.task.round)


def _signed(act) -> None:
    """Any reply of the lead unit counts as 签收 (SPEC §6.2 step 4): the first one dates it."""
    if _is_lead(act):
        rnd = _round(act)
        if rnd.signed_at is None:
            rnd.signed_at = clock.now()
            rnd.save()


def _unit_step(act, address: str, kinds=UNIT_STEPS) -> Step | None:
    """The active step of the current round that `address` (or its unit) holds."""
    d = act.app.directory
    for step in core.active_steps(act.req, *kinds):
        if step.round == act.task.round and any(core.same_party(d, address, a) for a in step.approvers):
            return step
    return None


def _lead_step(act) -> Step | None:
    steps = [s for s in core.active_steps(act.req, LEAD) if s.round == act.task.round]
    return steps[0] if steps else None


def _files(act) -> list:
    return [outbox.Attach(a.filename, a.content_type, a.data) for a in act.pipe.mail.attachments]


def _file_names(act) -> list[str]:
    return [a.filename for a in act.pipe.mail.attachments]


def _attached(act) -> str:
    names = _file_names(act)
    return f"（见附件：{'；'.join(names)}）" if names else ""


def _reply_to(act) -> tuple[str, list[str]]:
    mail = act.pipe.mail
    return mail.message_id, list(mail.references)


def _staff(act) -> list[str]:
    return list(act.app.cfg.office.staff)


def _fmt(act, at) -> str:
    """12月4日（周五）17:30前, in the office's time zone (rows come back in UTC)."""
    return format_deadline(at.astimezone(act.app.tz), clock.now())


def _deadline_line(act, at) -> str:
    return core.deadline_line(act.app, at)


def _pass_to_lead(act, kind: str, text: str) -> None:
    """A co-unit's 进展 or 协办完毕 passed to the lead unit, with its attachments; it carries the lead unit's code."""
    lead = _lead_step(act)
    to = lead.approvers if lead is not None else [act.task.lead]
    core.send(act.app, "jb_passed", to, act.req, lead, action=f"{_unit_name(act)}{kind}转承办单位",
              attachments=_files(act), coded=lead is not None, kind=kind, unit_name=_unit_name(act), text=text,
              file_names=_file_names(act), at=clock.now())


# -- 进展, 签收, anything else -------------------------------------------------------------------------------

def progress(act, word) -> None:
    """进展：<text> — recorded on the unit's step and dated; a co-unit's is passed to the lead unit."""
    text = verbatim(act.reply)
    if not text and not act.pipe.mail.attachments:
        raise Refused("“进展：”后未写内容，请写明目前办理进展，如“进展：初稿已完成，正在征求意见”。")
    _progress(act, text)
    act.pipe.note(f"{_unit_name(act)}报送进展", "progress", act.req, step=act.step)


def _progress(act, text: str) -> None:
    _signed(act)
    core.record(act.req, act.sender, _unit_name(act), "进展", text or _attached(act), act.step)
    rnd = _round(act)
    rnd.last_progress_at = clock.now()
    rnd.save()
    if act.step.kind == CO:
        _pass_to_lead(act, "进展", text)


def sign(act, word) -> None:
    """签收 / 收到: recorded; the lead unit's first reply dates the round's 签收."""
    _signed(act)
    core.record(act.req, act.sender, _unit_name(act), "签收", verbatim(act.reply), act.step)
    act.pipe.note(f"{_unit_name(act)}签收", "progress", act.req, step=act.step)


def other(act, word) -> None:
    """Any other text from an assigned unit: recorded as 进展; the sender told once a step that only 办结： reports
    completion (and how to write it)."""
    text = verbatim(act.reply)
    if not text and not act.pipe.mail.attachments:
        # nothing written (a bare reply): it says the mail arrived, and reports nothing
        _signed(act)
        core.record(act.req, act.sender, _unit_name(act), "签收", "", act.step)
        return act.pipe.note(f"{_unit_name(act)}回复无正文，记为签收", "progress", act.req, step=act.step)
    _progress(act, text)
    told = _told_only_report(act)
    if not told:
        _only_report(act, co=False)
    act.pipe.note(f"{_unit_name(act)}来信（未以关键词开头），记为进展" + ("" if told else "，并告知办结须以“办结：”报告"),
                  "progress", act.req, step=act.step)


def _told_only_report(act) -> bool:
    since = act.step.activated_at
    sent = Mail.select(Mail.rcpts).where((Mail.direction == "out") & (Mail.kind == "jb_only_report")
                                         & (Mail.request == act.req) & (Mail.at >= since))
    return any(act.sender in m.rcpts for m in sent)


def _only_report(act, co: bool) -> None:
    step = None if co else act.step         # a co-unit's step is closed by then: its answer carries no code
    act.pipe.answer("jb_only_report", core.ctx(act.app, act.req, act.task, co=co, unit_name=_unit_name(act),
                                               coded=step is not None),
                    act.req, action="告知办结须由承办单位以“办结：”报告" if co else "告知办结须以“办结：”报告",
                    step=step, code=step.code if step is not None else "")


# -- 协办完毕 -------------------------------------------------------------------------------------------------

def co_done(act, word) -> None:
    """协办完毕：<text> (a co-unit's 办结 likewise): recorded, passed to the lead unit, the co-unit's step closed, so
    it is no longer chased; after a 办结 the co-unit is told that only the lead unit's report closes the matter."""
    text = verbatim(act.reply)
    step = act.step
    core.record(act.req, act.sender, _unit_name(act), "协办完毕", text or _attached(act), step)
    core.close_step(step, APPROVED_STEP, act.sender)
    _pass_to_lead(act, "协办完毕", text)
    if word == Word.REPORT:
        _only_report(act, co=True)
    act.pipe.note(f"{_unit_name(act)}协办完毕" + ("（来信写“办结”，记为协办完毕）" if word == Word.REPORT else "")
                  + "，已转承办单位", "progress", act.req, step=step)


# -- 请求协调 -------------------------------------------------------------------------------------------------

def coordinate(act, word) -> None:
    """请求协调：<text> — to office staff with a step of its own, listed in the digest until answered."""
    text = verbatim(act.reply)
    if not text:
        raise Refused("“请求协调：”后未写内容，请写明需要协调的事项，如“请求协调：需财务科提供2025年度数据”。")
    _signed(act)
    unit = _unit_name(act)
    step = core.open_step(act.req, COORDINATE, _staff(act), act.task.round)
    core.record(act.req, act.sender, unit, "请求协调", text, step)
    core.send(act.app, "jb_coordinate", _staff(act), act.req, step, action=f"{unit}请求协调，转办公室",
              attachments=_files(act), coded=True, unit_name=unit, text=text, file_names=_file_names(act))
    act.pipe.note(f"{unit}请求协调，已转办公室", "progress", act.req, step=act.step)


def answer_coordination(act, word) -> None:
    """Office staff's answer on a 请求协调 forward: passed to the unit that asked, the step closed."""
    text = (act.reply.new_text or "").strip()
    if not text:
        raise Refused("未写协调意见。请直接回复请求协调邮件，写明协调意见，即转告该单位。")
    step = act.step
    asked = (Opinion.select().where((Opinion.step == step) & (Opinion.decision == "请求协调"))
             .order_by(Opinion.id).first())
    staff = _name(act, act.sender)
    core.record(act.req, act.sender, staff, "答复", text, step)
    core.close_step(step, APPROVED_STEP, act.sender)
    to = asked.person if asked is not None else act.task.lead
    unit_step = _unit_step(act, to)
    core.send(act.app, "jb_coordinate_answer", unit_step.approvers if unit_step else [to], act.req, unit_step,
              action=f"协调意见转告{_name(act, to)}", attachments=_files(act), coded=unit_step is not None,
              unit_name=asked.name if asked is not None else _name(act, to), asked=asked.text if asked else "",
              text=text, file_names=_file_names(act))
    act.pipe.note(f"{staff}答复协调请求，已转告{_name(act, to)}", "decision", act.req, step=step)


# -- 申请延期 and the leader's decision -----------------------------------------------------------------------

def asked_deadline(text: str, at, app) -> Deadline | None:
    """The deadline a 申请延期 asks for (`text`: what follows the word, as recorded), read against the day of the
    mail (`at`), so that reading it again later gives the same moment: a 时限： line; else the words before the
    first comma when they are only the expression (12月9日前, 延至12月9日前); else the whole text when it holds
    one deadline and no other date. None when none of these reads: the unit is asked to write it plainly."""
    lines = (text or "").split("\n")
    fields, rest = fields_of(lines)
    if fields.get("时限"):
        found = read_deadline(fields["时限"][0], at, app.calendar)
        return found if isinstance(found, Deadline) else None
    body = "\n".join(rest).strip()
    head = _CLAUSE.split(body, 1)[0].strip()
    found = read_deadline(head, at, app.calendar) if head else None
    if isinstance(found, Deadline) and _FILLER.fullmatch(head.replace(found.text, "", 1).strip()):
        return found
    found = read_deadline(body, at, app.calendar) if body else None
    return found if isinstance(found, Deadline) else None


def _reason(text: str, asked: Deadline) -> str:
    """The reason of 申请延期：<deadline>，<reason>: the text without the 时限 line or the leading expression."""
    fields, rest = fields_of((text or "").split("\n"))
    body = "\n".join(rest).strip()
    parts = _CLAUSE.split(body, 1)
    if asked.text and asked.text in parts[0] and _FILLER.fullmatch(parts[0].replace(asked.text, "", 1).strip()):
        return parts[1].strip(_AFTER) if len(parts) == 2 else ""
    return body.strip(_AFTER)


def extend(act, word) -> None:
    """申请延期：<deadline>，<reason> — only the lead unit (the table), only before the deadline in force; the
    leader decides on it as on a 请示 step (state 延期待批, an EXTEND step), office staff get a copy."""
    app, req, task = act.app, act.req, act.task
    _signed(act)
    text = verbatim(act.reply)
    now = clock.now()
    unit = _unit_name(act)
    if task.deadline_at is not None and now > task.deadline_at:
        core.send(app, "jb_extend", _staff(act), req, action=f"{unit}逾期后申请延期，未受理，告知办公室",
                  mode="late", unit_name=unit, text=text, old_line=_deadline_line(act, task.deadline_at))
        raise Refused(OVERDUE)
    asked = asked_deadline(text, now, app)
    if asked is None:
        raise Refused("未能确定申请延至何时。请写明日期，如“申请延期：12月5日前，因……”。")
    if task.deadline_at is not None and asked.at <= task.deadline_at:
        raise Refused(f"申请延至的{_fmt(act, asked.at)}不晚于现时限"
                      f"{_fmt(act, task.deadline_at)}，无需延期。")
    core.cancel_steps(req, EXTEND)
    step = core.open_step(req, EXTEND, [task.leader], task.round)
    core.record(req, act.sender, unit, "申请延期", text, step)
    core.set_state(req, EXTENDING)
    info = dict(unit_name=unit, text=text, reason=_reason(text, asked),
                old_line=_deadline_line(act, task.deadline_at), new_line=_deadline_line(act, asked.at))
    core.send(app, "jb_extend", [task.leader], req, step, action=f"{unit}申请延期，报{_name(act, task.leader)}审批",
              attachments=_files(act), coded=True, mode="ask", **info)
    core.send(app, "jb_extend", _staff(act), req, action=f"{unit}申请延期（抄送办公室）", mode="copy", **info)
    act.pipe.note(f"{unit}申请延期至{_fmt(act, asked.at)}，已报{_name(act, task.leader)}审批", "progress",
                  req, step=act.step)


def decide_extension(act, word) -> None:
    """The leader's reply on the 延期申请, read as a 请示 decision (act.verdict): 同意 grants the date asked, or the
    date of a 时限： line in it; 不同意 refuses with the opinion; anything else is asked about, never guessed."""
    app, req, task, step = act.app, act.req, act.task, act.step
    asked_op = (Opinion.select().where((Opinion.step == step) & (Opinion.decision == "申请延期"))
                .order_by(Opinion.id).first())
    verdict = act.verdict.verb if act.verdict is not None else None
    leader = _name(act, act.sender)
    text = (act.reply.new_text or "").strip()
    asked = asked_deadline(asked_op.text, asked_op.at, app) if asked_op is not None else None
    if act.reply.word == Word.READ and verdict != Verb.APPROVE:
        return _ask_leader(act, "“阅”不是对延期申请的批复")
    if verdict == Verb.APPROVE:
        granted, why = _granted(act, asked)
        if granted is None:
            return _ask_leader(act, why)
        old = task.deadline_at
        rnd = _round(act)
        task.deadline_at = rnd.deadline_at = granted
        task.save()
        rnd.save()
        req.deadline = granted.astimezone(app.tz).date()
        DeadlineChange.create(request=req, round=task.round, old_at=old, new_at=granted, by=act.sender, how="延期",
                              at=clock.now())
        core.record(req, act.sender, leader, "同意", text, step)
        core.close_step(step, APPROVED_STEP, act.sender)
        core.set_state(req, DOING)
        info = dict(granted=True, leader_said=text, old_line=_fmt(act, old) if old else "",
                    new_line=_deadline_line(act, granted), asked_line=_fmt(act, asked.at) if asked else "")
        for unit_step in [s for s in core.active_steps(req, *UNIT_STEPS) if s.round == task.round]:
            core.send(app, "jb_extend_result", unit_step.approvers, req, unit_step, coded=True,
                      action=f"延期获批，新时限告知{_name(act, unit_step.approvers[0])}",
                      unit_name=_name(act, unit_step.approvers[0]), co=unit_step.kind == CO, **info)
        core.send(app, "jb_extend_result", _staff(act), req, action="延期获批（告知办公室）",
                  unit_name="办公室", staff=True, **info)
        return act.pipe.note(f"{leader}同意延期，时限改为{_fmt(act, granted)}", "decision", req,
                             step=step)
    if verdict == Verb.REJECT and act.reply.fields.get("时限"):
        return _ask_leader(act, "批复为不同意，却写有时限")
    if verdict == Verb.REJECT:
        core.record(req, act.sender, leader, "不同意", text, step)
        core.close_step(step, REJECTED_STEP, act.sender)
        core.set_state(req, DOING)
        info = dict(granted=False, leader_said=text, old_line=_deadline_line(act, task.deadline_at),
                    asked_line=_fmt(act, asked.at) if asked else "")
        lead = _lead_step(act)
        core.send(app, "jb_extend_result", lead.approvers if lead else [task.lead], req, lead, coded=lead is not None,
                  action="延期未获同意，告知承办单位", unit_name=_name(act, task.lead), **info)
        core.send(app, "jb_extend_result", _staff(act), req, action="延期未获同意（告知办公室）", unit_name="办公室",
                  staff=True, **info)
        return act.pipe.note(f"{leader}不同意延期" + (f"：{act.verdict.opinion}" if act.verdict.opinion else ""),
                             "decision", req, step=step)
    return _ask_leader(act, "未能确定是否同意延期")


def _granted(act, asked: Deadline | None):
    """The deadline a 同意 grants, or (None, why) when it is in doubt."""
    now = clock.now()
    task = act.task
    lines = act.reply.fields.get("时限", [])
    if lines:
        found = read_deadline(lines[0], now, act.app.calendar)
        if not isinstance(found, Deadline):
            return None, f"批复中的时限未能确定：{found.reason}"
        at = found.at
    else:
        if asked is None:
            return None, "未能确定申请延至的日期"
        at = asked.at
        # a date in the opinion that differs from the one asked: which one is meant?
        opinion = act.verdict.opinion if act.verdict is not None else ""
        said = read_deadline(opinion, now, act.app.calendar) if opinion else None
        if said is not None and not isinstance(said, Deadline) and said.reason.startswith("含两个不同的时限"):
            return None, f"批复中{said.reason.removeprefix('含')}"
        if isinstance(said, Deadline) and said.at != asked.at:
            return None, (f"批复中提到{_fmt(act, said.at)}，与申请的{_fmt(act, asked.at)}不一致；"
                          "如同意延至该日期，请另起一行写“时限：……”")
    if at <= now:
        return None, f"批准的时限{_fmt(act, at)}已过"
    if task.deadline_at is not None and at <= task.deadline_at:
        return None, f"批准的时限{_fmt(act, at)}不晚于现时限{_fmt(act, task.deadline_at)}"
    return at, ""


def _ask_leader(act, why: str) -> None:
    """The leader's reply is not applied: they are asked what they mean, on the same step (its code)."""
    app, req, task, step = act.app, act.req, act.task, act.step
    asked_op = (Opinion.select().where((Opinion.step == step) & (Opinion.decision == "申请延期"))
                .order_by(Opinion.id).first())
    asked = asked_deadline(asked_op.text, asked_op.at, app) if asked_op is not None else None
    core.send(app, "jb_extend", [act.sender], req, step, action="延期批复意思不明，询问领导", coded=True,
              reply_to_mail=_reply_to(act), mode="question", why=why, leader_said=(act.reply.new_text or "").strip(),
              unit_name=asked_op.name if asked_op is not None else _name(act, task.lead),
              text=asked_op.text if asked_op is not None else "", reason=_reason(asked_op.text, asked)
              if asked_op is not None and asked is not None else "",
              old_line=_deadline_line(act, task.deadline_at), new_line=_deadline_line(act, asked.at) if asked else "")
    act.pipe.note(f"延期批复未能确定（{why}），未作处理，已询问{_name(act, act.sender)}", "not_understood", req,
                  ignored=True, step=step)


# -- 申请改派 and 维持 ----------------------------------------------------------------------------------------

def reassign(act, word) -> None:
    """申请改派：<reason> — to office staff with a REASSIGN step: they answer 派发 with new 承办/协办 lines
    (dispatch.redispatch) or 维持：<text> (keep)."""
    text = verbatim(act.reply)
    if not text:
        raise Refused("申请改派须说明理由，如“申请改派：该事项属财务科职责，建议由财务科承办”。")
    _signed(act)
    unit = _unit_name(act)
    core.cancel_steps(act.req, REASSIGN)
    step = core.open_step(act.req, REASSIGN, _staff(act), act.task.round)
    core.record(act.req, act.sender, unit, "申请改派", text, step)
    core.send(act.app, "jb_reassign", _staff(act), act.req, step, action=f"{unit}申请改派，转办公室",
              attachments=_files(act), coded=True, unit_name=unit, text=text, file_names=_file_names(act))
    act.pipe.note(f"{unit}申请改派，已转办公室", "progress", act.req, step=act.step)


def keep(act, word) -> None:
    """维持：<text> on the 申请改派 forward: passed back to the lead unit, the REASSIGN step closed."""
    text = verbatim(act.reply)
    step = act.step
    staff = _name(act, act.sender)
    core.record(act.req, act.sender, staff, "维持", text, step)
    core.close_step(step, APPROVED_STEP, act.sender)
    asked = (Opinion.select().where((Opinion.step == step) & (Opinion.decision == "申请改派"))
             .order_by(Opinion.id).first())
    lead = _lead_step(act)
    core.send(act.app, "jb_keep", lead.approvers if lead else [act.task.lead], act.req, lead, coded=lead is not None,
              action="维持原承办，转告承办单位", unit_name=_name(act, act.task.lead), text=text,
              asked=asked.text if asked is not None else "")
    act.pipe.note(f"{staff}维持原承办，已转告{_name(act, act.task.lead)}", "decision", act.req, step=step)


# -- a mail of an earlier round ------------------------------------------------------------------------------

def earlier_round(act) -> bool:
    """A unit answering a mail of an earlier round (its step's round < the task's): answered 「该事项已进入第N轮，
    请回复最新通知」 and noted; True when so (for explain to call before anything else)."""
    if not any(r.name in ("LEAD", "CO") for r in act.roles) or act.task.round <= 1:
        return False
    rounds = []
    if act.ref is not None and act.ref.step_id:
        step = Step.get_or_none(Step.id == act.ref.step_id)
        if step is not None:
            rounds.append(step.round)
    codes = core.CODE_IN_SUBJECT.findall(act.pipe.mail.subject)
    if codes:
        code = codes[-1]
        step = Step.get_or_none((Step.request == act.req) & (Step.code == code))
        if step is not None:
            rounds.append(step.round)
    if not rounds or not all(r is not None and r < act.task.round for r in rounds):
        return False
    why = f"该事项已进入第{act.task.round}轮，请回复最新通知"
    act.pipe.note(f"回复的是第{max(rounds)}轮的邮件，未处理（{why}）", "refused", act.req, ignored=True)
    act.pipe.answer("refused_action", {"reason": why + "。", "reply": act.verdict}, act.req,
                    action="告知已进入新一轮，请回复最新通知")
    return True


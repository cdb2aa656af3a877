"""Mail about a 交办 that no row of the table applied: why nothing was done, told to the sender; a stranger's
decision is a suspected forgery, told to office staff (SPEC §6.9, §6.4).

Runs in intake's transaction. Every such mail is recorded as ignored (pipe.note(..., ignored=True)) and
answered once; nothing here changes the matter.
"""

from __future__ import annotations

from daemon import outbox
from daemon.jiaoban import (CHECK, CHECKING, CLARIFY, CO, COORDINATE, EXTEND, READ, READING, REASSIGN, STATE_LABELS,
                            STEP_LABELS, UNIT_STEPS, VERIFY, core, report)
from daemon.jiaoban.reader import Word
from daemon.models import ACTIVE, Step
from daemon.models import CANCELLED as STEP_CANCELLED

# what a row lets a person write, as the explanation words it (by the handler's name)
_HINTS = {
    "query": "“查询”：了解办理情况",
    "withdraw": "“撤销：理由”：撤销本交办事项",
    "correct": "“更正：”，另起一行写要更正的要素，如“时限：12月8日前”",
    "remind_now": "“催办”：立即向承办、协办单位催办",
    "dispatch": "回复核定单：“派发”，其后逐行写明要素",
    "ask": "回复核定单：“询问：问题”，向交办领导询问",
    "void": "回复核定单：“作废：理由”",
    "answer": "回复办公室的询问邮件，写明答复",
    "progress": "“进展：办理情况”",
    "sign": "“签收”",
    "coordinate": "“请求协调：需协调的事项”",
    "co_done": "“协办完毕：协办情况”（协办单位）",
    "extend": "“申请延期：新的时限，理由”（承办单位，时限届满前）",
    "reassign": "“申请改派：理由”（承办单位）",
    "report": "“办结：办理情况”，附件随邮件发送（承办单位）",
    "decide_extension": "回复延期申请邮件：“同意”或“不同意：意见”",
    "redispatch": "回复申请改派邮件：“派发”，另起一行写“承办：……”",
    "keep": "回复申请改派邮件：“维持：意见”",
    "answer_coordination": "回复请求协调邮件，写明协调意见",
    "other": "其他办理情况，按进展记录",
    "checked": "回复核报单：“核报”，可另起一行写“核报意见：……”",
    "send_back": "回复核报单：“退回：修改要求”",
    "close": "回复请阅示邮件：“阅”，批示写在其后",
    "reopen": "回复请阅示邮件：“继续办理：要求”，可另起一行写“时限：……”",
    "unclear": "",          # the two above say it
}


def hints(act) -> list[str]:
    """What the sender may write about the matter in its present state, one line each, in table order: rows
    that answer a step's mail only while such a step is open (a 申请改派 forward only while one waits)."""
    from daemon.jiaoban import table
    waiting = {table.VERIFY_CODE: VERIFY, table.CLARIFY_CODE: CLARIFY, table.EXTEND_CODE: EXTEND,
               table.REASSIGN_CODE: REASSIGN, table.COORDINATE_CODE: COORDINATE, table.CHECK_CODE: CHECK}
    open_kinds = {s.kind for s in core.active_steps(act.req)}
    out = []
    for row in table.TABLE:
        if row.states is not None and act.req.state not in row.states:
            continue
        if row.roles is not None and not any(r in row.roles for r in act.roles):
            continue
        if row.needs in waiting and waiting[row.needs] not in open_kinds:
            continue
        name = row.apply.__name__
        hint = _HINTS[name] if name in _HINTS else "、".join(f"“{w.value}”" for w in row.verbs or ())
        if hint and hint not in out:
            out.append(hint)
    return out


def _ref_step(act) -> Step | None:
    """The step of the mail answered, or of the code in the subject."""
    from daemon.jiaoban.table import subject_code
    if act.ref is not None and act.ref.step_id:
        return Step.get_or_none(Step.id == act.ref.step_id)
    code = subject_code(act)
    if code:
        return Step.select().where((Step.request == act.req) & (Step.code == code)).first()
    return None


def _earlier_round(act, step: Step | None) -> bool:
    """The mail answers a mail of an earlier round than the matter's."""
    task = act.task
    if task.round <= 1:
        return False
    if step is not None:
        return (step.round or 1) < task.round
    ref = act.ref
    if ref is None or ref.request_id != act.req.id:
        return False
    first = (Step.select(Step.activated_at).where((Step.request == act.req) & (Step.round == task.round))
             .order_by(Step.activated_at).first())
    return first is not None and first.activated_at is not None and ref.at < first.activated_at


def _held(act) -> Step | None:
    """An active step of the matter the sender holds (or acts for): the one the word they wrote is for when
    they hold several (核报 → the 核报单 rather than a 请求协调), else the first."""
    from daemon.jiaoban import table
    d = act.app.directory
    held = [s for s in core.active_steps(act.req) if any(core.same_party(d, act.sender, a) for a in s.approvers)]
    steps_of = {table.VERIFY_CODE: (VERIFY,), table.CLARIFY_CODE: (CLARIFY,), table.EXTEND_CODE: (EXTEND,),
                table.REASSIGN_CODE: (REASSIGN,), table.COORDINATE_CODE: (COORDINATE,), table.CHECK_CODE: (CHECK,),
                table.READ_CODE: (READ,), table.ROUND_MAIL: UNIT_STEPS}
    fitting = {k for row in table.TABLE if row.fits(act.req.state, act.roles, act.reply.word)
               for k in steps_of.get(row.needs, ())}
    return next((s for s in held if s.kind in fitting), held[0] if held else None)


def _tell(act, why: str, lines: list[str], action: str, step: Step | None = None, refused: bool = False) -> None:
    """`refused`: a decision from someone not entitled to it (said so in the subject: 来信未予采用)."""
    app, req = act.app, act.req
    ctx = {"reply": act.reply, "why": why, "hints": lines, "asks": step is not None, "refused": refused,
           **core.ctx(app, req, act.task)}
    act.pipe.answer("jb_explain", ctx, req, action=action, step=step, code=step.code if step is not None else "")


def explain(act) -> None:
    """Why the mail did nothing, to its sender; office staff alerted when a stranger sent a decision."""
    from daemon.jiaoban.table import Role
    app, req, pipe = act.app, act.req, act.pipe
    d = app.directory
    word = act.reply.word
    sender = act.sender
    state = STATE_LABELS.get(req.state, req.state)

    if act.roles == (Role.STRANGER,):
        if word not in (Word.TEXT, Word.QUERY, Word.DOUBT):
            # in the 交办's own words (a 请示's 审批环节 and 审批通知 mean nothing here); a unit taken off the matter
            # by 更正 or 改派 is told so
            removed = _was_on(act)
            pipe.note(f"“{word.value}”来自与该交办无关的{sender}，未处理（疑似冒用）", "forgery", req, ignored=True)
            why = ("你单位已不再承办或协办该事项，" if removed else "您（你单位）不是该事项的交办领导、承办单位或协办单位，") + \
                f"来信中的“{word.value}”未予采用，本件办理结果未作改变。"
            _tell(act, why, [], "告知无权处理", refused=True)
            return _alert(act, "已不再承办或协办该事项" if removed else
                          "不是该事项的交办领导、办公室人员或承办、协办单位")
        pipe.note(f"{d.name_of(sender)}不是该交办的交办领导、承办或协办单位，来信未处理", "not_entitled", req,
                  ignored=True)
        return _tell(act, "您（你单位）不是该事项的交办领导、承办单位或协办单位，来信已记录，未作处理。", [],
                     "告知不是该事项的办理单位")

    from daemon.jiaoban.table import other_matter
    elsewhere = other_matter(act)
    if elsewhere:
        pipe.note(f"所指事项不一致（{elsewhere}），未处理", "ambiguous", req, ignored=True)
        return _tell(act, f"{elsewhere}，无法确定所指的是哪一件；为防误办，各件办理情况均未改变。"
                          "请找到要办理的那一件的邮件直接回复，不要改动主题中的编号和流转码。", [],
                     "询问所指的交办事项")

    if word == Word.DOUBT:
        said = act.reply
        label = said.doubted.value if said.doubted is not None else ""
        pipe.note(f"来信{said.doubt}，意思不明，未处理，已请其明确", "unclear", req, ignored=True)
        if said.doubted in (Word.READ, Word.APPROVE):
            how = "如同意办结，请直接回复本邮件“阅”，批示写在其后；如需继续办理，请回复“继续办理：要求”"
        elif said.doubt_in_lines:
            how = f"请直接回复本邮件，首行写“{label}”，其下每个要素只写一行、写明确定的内容"
        else:
            how = f"如确需“{label}”，请直接回复本邮件，首行写“{label}：”及具体内容"
        return _tell(act, f"来信{said.doubt}。为防误办，请予明确：{how}。",
                     hints(act), "请来信人明确意思", step=_held(act))

    step = _ref_step(act)
    if (word in OFFICE_WORDS and not any(r in (Role.STAFF, Role.HEAD) for r in act.roles) and step is not None
            and step.kind in (VERIFY, CHECK, REASSIGN, COORDINATE)):
        # a unit (or the leader) answering the office's own 核定单 or 核报单, which was never sent to it, with the
        # office's decision: a suspected forgery (SPEC §3, §6.9)
        pipe.note(f"“{word.value}”须由办公室办理，来自{d.name_of(sender)}，未处理（疑似冒用）", "forgery", req,
                  ignored=True)
        _tell(act, f"“{word.value}”须由{app.cfg.office.name}工作人员办理，来信中的“{word.value}”未予采用，"
                   "本件办理结果未作改变。", hints(act), "告知无权处理", refused=True)
        return _alert(act, f"无权办理“{word.value}”（须由办公室工作人员办理）")

    if _earlier_round(act, step):
        why = f"该事项已进入第{act.task.round}轮，请回复最新通知。"
        pipe.note(f"回复的是第{step.round if step is not None and step.round else 1}轮的邮件，"
                  f"该事项已进入第{act.task.round}轮，未处理", "old_round", req, ignored=True)
        held = _held(act)
        return _tell(act, why, [] if held is None else ["也可直接回复本邮件（已带本轮流转码）。"], "告知已进入新一轮",
                     step=held)

    if step is not None and step.state != ACTIVE and any(core.same_party(d, sender, a) for a in step.approvers):
        label = STEP_LABELS.get(step.kind, step.kind)
        when = step.decided_at.astimezone(app.tz) if step.decided_at else None
        done = f"已于{when.month}月{when.day}日 {when:%H:%M}" if when else "已"
        if step.state == STEP_CANCELLED:
            done += "结束"
        else:
            done += (f"由{d.name_of(step.decided_by)}" if step.decided_by else "") + "办理"
        pipe.note(f"该环节（{label}）{done}，本邮件未改变任何状态", "late", req, ignored=True, step=step)
        if step.kind == EXTEND and step.state == STEP_CANCELLED and req.state in (CHECKING, READING):
            done += f"：{d.name_of(act.task.lead)}已报送办结报告，延期申请无需再批复"
        return _tell(act, f"您回复的{label}环节{done}，本次来信未改变办理结果。", hints(act), "告知该环节已办理")

    held = _held(act)
    if held is not None and _answers(act, held):
        # the right mail, the right person, a word their role may not write: say that, not "no code"
        label = STEP_LABELS.get(held.kind, held.kind)
        lead = d.name_of(act.task.lead)
        if held.kind == CO and word in (Word.EXTEND, Word.REASSIGN):
            why = (f"你单位为协办单位，“{word.value}”须由承办单位{lead}提出。如有困难，请与{lead}商定，"
                   f"由其{word.value}；也可回复“请求协调：……”请办公室协调。")
        else:
            typed = getattr(act.reply, "written", "") or word.value      # as written: 收到, not 签收
            why = f"来信中的“{typed}”不是{label}环节在“{state}”状态下可以办理的事项。"
        pipe.note(f"“{word.value}”不是{label}环节可办理的事项，未处理", "not_understood", req, ignored=True, step=held)
        return _tell(act, why, hints(act), "说明可回复的内容")

    if held is not None:
        label = STEP_LABELS.get(held.kind, held.kind)
        pipe.note(f"“{word.value}”未回复本人{label}环节的邮件（无流转码），未处理", "not_entitled", req, ignored=True,
                  step=held)
        return _tell(act, f"来信不是对发给您的{label}邮件的回复（主题中无该环节流转码），为防误办，未予采用。"
                          "如意见不变，请直接回复本邮件。", hints(act), "告知回复对应邮件", step=held)

    if Role.LEAD in act.roles and word == Word.REPORT and req.state in (CHECKING, READING):
        rnd = core.round_of(req, act.task.round)
        where = "正由办公室核报" if req.state == CHECKING else f"已呈{d.name_of(act.task.leader)}阅示"
        pipe.note(f"办结报告已报送、{where}，再次“办结”未处理", "late", req, ignored=True)
        return _tell(act, f"你单位的办结报告已于{report.when(app, rnd.reported_at)}报送，{where}，本次来信未作为新的报告。"
                          "如需补充或更换，请与办公室联系；报告被退回后，可重新报送。", [], "告知办结报告已在办")

    pipe.note(f"“{word.value}”在“{state}”状态下不能办理，已告知可回复的内容", "not_understood", req, ignored=True)
    shown = "来信" if word == Word.TEXT else f"来信中的“{getattr(act.reply, 'written', '') or word.value}”"
    return _tell(act, f"本件当前状态为“{state}”，{shown}在此状态下无法办理。", hints(act), "说明可回复的内容")


# what only office staff (or the head) decide: 核定, 核报, 改派, 催办
OFFICE_WORDS = (Word.DISPATCH, Word.ASK, Word.VOID, Word.KEEP, Word.CHECKED, Word.SEND_BACK, Word.REMIND)


def _alert(act, reason: str) -> None:
    """Office staff told of a suspected forgery: a decision on the 交办 from someone not entitled to it."""
    app, d = act.app, act.app.directory
    outbox.queue(app.cfg, "jb_forgery_alert", list(app.cfg.office.staff),
                 {"req": act.req, "mail": act.pipe.shown(), "reply": act.reply, "reason": reason,
                  "sender_name": d.name_of(act.sender), "leader_name": d.name_of(act.task.leader)},
                 request=act.req, action="可疑交办邮件提醒办公室")


def _answers(act, step: Step) -> bool:
    """The mail answers `step`'s mail, or, for a unit, any mail of the current round sent to it."""
    from daemon.jiaoban import table
    if table.answers(act, step):
        return True
    if step.kind not in UNIT_STEPS:
        return False
    kept = act.step
    found = table.ROUND_MAIL.test(act)
    act.step = kept
    return bool(found)


def _was_on(act) -> bool:
    """The sender held a unit step of the matter once (a unit taken off it by 更正 or 改派)."""
    d = act.app.directory
    steps = Step.select().where((Step.request == act.req) & Step.kind.in_(UNIT_STEPS))
    return any(core.same_party(d, act.sender, a) for s in steps for a in s.approvers)

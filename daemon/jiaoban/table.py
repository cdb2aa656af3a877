"""Who may do what to a 交办, in which state, with which code (SPEC §6.4) — the 交办's decision table.

Rows are daemon.rules.Transition rows, tried in order by daemon.rules.apply: the first row that fits (state,
roles, word) and whose check passes is applied; no row is an explanation to the sender, never a crash.
`role_of` is pure. Handlers live in the modules of their step (dispatch, progress, report, change, chase).
Every check that lets a word be applied first asks `other_matter`: a mail whose text or subject names another
matter (its number or 流转码) applies nothing, and is explained. A doubted word (reader.Word.DOUBT) fits no row
but those that take any text (an answer passed on); it is explained, never applied.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from daemon import mime
from daemon.jiaoban import (CHECK, CHECKING, CLARIFY, CLARIFYING, CLOSED, COORDINATE, DOING, EXTEND, EXTENDING,
                            OPEN_STATES, READ, READING, REASSIGN, RUNNING, UNIT_STEPS, VERIFY, VERIFYING)
from daemon.jiaoban import change, chase, dispatch, progress, report, views
from daemon.jiaoban.core import CODE_IN_SUBJECT as _CODE_IN_SUBJECT
from daemon.jiaoban.core import same_party
from daemon.jiaoban.reader import Word
from daemon.models import ACTIVE, Mail, Request, Step
from daemon.rules import ANY, Check, Transition


class Role(enum.Enum):
    LEADER = "交办领导（或其代理人）"
    STAFF = "办公室工作人员"
    HEAD = "办公室主任"
    LEAD = "承办单位"
    CO = "协办单位"
    STRANGER = "其他人"


def role_of(directory, sender: str, task) -> tuple[Role, ...]:
    """What the sender is to the 交办 `task`, strongest first; (STRANGER,) when nothing. Pure."""
    office = directory.cfg.office
    a = sender.lower()
    roles = []
    if task.leader in directory.principals_for(sender):
        roles.append(Role.LEADER)
    if a in office.staff:
        roles.append(Role.STAFF)
    if a == office.head:
        roles.append(Role.HEAD)
    if same_party(directory, sender, task.lead):
        roles.append(Role.LEAD)
    if any(same_party(directory, sender, c) for c in task.co_units or []):
        roles.append(Role.CO)
    return tuple(roles) or (Role.STRANGER,)


@dataclass
class Act:
    """One mail about one 交办, as the checks and handlers see it."""
    pipe: object            # intake.Pipeline: the app, the mail, note/answer and the records
    req: object
    task: object
    ref: object             # the mail of ours it answers, or None
    reply: object           # reader.Said
    roles: tuple = ()
    step: object = None     # the step the mail answers (set by the checks)
    verdict: object = None  # the 请示 reader's reading (replies.Reply): 同意/不同意 on an extension

    @property
    def sender(self) -> str:
        return self.pipe.mail.from_addr

    @property
    def app(self):
        return self.pipe.app


def subject_code(act: Act) -> str:
    found = _CODE_IN_SUBJECT.findall(act.pipe.mail.subject)
    return found[-1] if found else ""


def answers(act: Act, step: Step) -> bool:
    """The mail answers `step`'s mail: the mail answered carries its code, or the subject does (SPEC §3)."""
    if act.ref is not None and act.ref.step_id == step.id and act.ref.code == step.code:
        return True
    return subject_code(act) == step.code


MAX_SUBJECT_CODES = 10      # codes of a subject looked up (a hostile subject may carry thousands)


def other_matter(act: Act) -> str:
    """Why the mail may be about another matter than the one whose mail it answers: a number of ours at the head
    of its text (督办〔2026〕7号 办结：…) or in its subject, or a 流转码 in its subject, that belongs to another
    matter; "" when nothing points elsewhere. Nothing is applied then (SPEC §3: when in doubt, ask)."""
    req = act.req
    number = getattr(act.reply, "number", "")
    if number and number != req.number:
        return f"来信开头写的是{number}，所回复的却是{req.number}的邮件"
    why = act.pipe.disagreement(req, act.ref) if hasattr(act.pipe, "disagreement") else ""
    if why:
        return why
    subject = act.pipe.mail.subject or ""
    from daemon.flows.base import number_pattern       # not at the top: daemon.flows imports this table
    numbers = list(dict.fromkeys(number_pattern(act.app.cfg.jiaoban.number_format).findall(subject)))
    others = [n for n in numbers[:MAX_SUBJECT_CODES] if n != req.number]
    if others and Request.select().where(Request.number.in_(others)).exists():
        return f"所回复的是{req.number}的邮件，主题中又写了{'、'.join(others[:3])}"
    codes = list(dict.fromkeys(_CODE_IN_SUBJECT.findall(subject)))
    if len(codes) > 1:
        if len(codes) > MAX_SUBJECT_CODES:
            return "主题中的流转码过多"
        owners = {m.request_id for m in Mail.select(Mail.request).where(
            (Mail.direction == "out") & Mail.code.in_(codes) & Mail.request.is_null(False))}
        owners |= {s.request_id for s in Step.select(Step.request).where(Step.code.in_(codes))}
        if owners - {req.id}:
            return "主题中有多个流转码，分属不同事项"
    return ""


def _one_matter(test):
    """`test`, only for a mail that points at no other matter."""
    def guarded(act: Act) -> bool:
        return not other_matter(act) and test(act)
    guarded.__name__ = getattr(test, "__name__", "check")
    guarded.__doc__ = test.__doc__
    return guarded


def _holds(act: Act, step: Step) -> bool:
    d = act.app.directory
    return any(same_party(d, act.sender, a) for a in step.approvers)


def _answers_step(*kinds: str):
    """The mail answers the active step of one of `kinds` that the sender holds (or a delegate of its holder)."""
    def test(act: Act) -> bool:
        steps = Step.select().where((Step.request == act.req) & (Step.state == ACTIVE) & Step.kind.in_(kinds))
        for step in steps.order_by(Step.position):
            if _holds(act, step) and answers(act, step):
                act.step = step
                return True
        return False
    return test


def _answers_read(act: Act) -> bool:
    """The leader answers the current round's 请阅示: its active step, or, once the matter is closed, the step it
    closed (继续办理 then is a new decision; a repeated 阅 changes nothing)."""
    if _answers_step(READ)(act):
        return True
    if act.req.state != CLOSED:
        return False
    step = (Step.select().where((Step.request == act.req) & (Step.kind == READ) & (Step.round == act.task.round))
            .order_by(Step.position.desc()).first())
    if step is not None and _holds(act, step) and answers(act, step):
        act.step = step
        return True
    return False


def _round_mail(act: Act) -> bool:
    """The mail answers any mail of the current round sent to the sender's unit, or carries the code of its
    unit step (SPEC §6.4: 进展, 请求协调 and 签收 are accepted on any of them)."""
    steps = Step.select().where((Step.request == act.req) & (Step.state == ACTIVE) & Step.kind.in_(UNIT_STEPS)
                                & (Step.round == act.task.round))
    mine = [s for s in steps if _holds(act, s)]
    if not mine:
        return False
    act.step = mine[0]
    if any(answers(act, s) for s in mine):
        return True
    ref = act.ref
    if ref is None or ref.request_id != act.req.id:
        return False
    d = act.app.directory
    sent_here = any(same_party(d, act.sender, r) for r in ref.rcpts or [])
    ref_round = Step.get_or_none(Step.id == ref.step_id).round if ref.step_id else None
    return sent_here and (ref_round is None or ref_round == act.task.round)


def _any_mail(act: Act) -> bool:
    return (act.ref is not None and act.ref.request_id == act.req.id) or bool(subject_code(act)) and any(
        s.code == subject_code(act) for s in Step.select(Step.code).where(Step.request == act.req))


NONE = Check("—", lambda act: True)
def _asks_query(act: Act) -> bool:
    """查询 first in the text, or first in the subject of a mail whose text holds no keyword (查询 督办〔2026〕3号,
    perhaps with a signature); a text that merely begins with the word (查询了相关资料……) is no 查询."""
    if act.reply.word == Word.QUERY:
        return True
    subject = mime.strip_subject_prefixes(act.pipe.mail.subject or "")
    return act.reply.word == Word.TEXT and subject.startswith("查询")


QUERY = Check("主题或首行为“查询”", _asks_query)
ANY_MAIL = Check("回复本件任一邮件（或带本件流转码）", _one_matter(_any_mail),
                 refusal="请直接回复该交办事项的任一往来邮件，以免误处理其他事项。")
VERIFY_CODE = Check("核定单（或派发前发给办公室的本件邮件）的流转码", _one_matter(_answers_step(VERIFY)))
CLARIFY_CODE = Check("办公室询问邮件的流转码", _one_matter(_answers_step(CLARIFY)))
ROUND_MAIL = Check("本轮发给该单位的任一通知（或其流转码）", _one_matter(_round_mail))
EXTEND_CODE = Check("延期申请邮件的流转码", _one_matter(_answers_step(EXTEND)))
REASSIGN_CODE = Check("申请改派转办邮件的流转码", _one_matter(_answers_step(REASSIGN)))
COORDINATE_CODE = Check("请求协调转办邮件的流转码", _one_matter(_answers_step(COORDINATE)))
CHECK_CODE = Check("核报单的流转码", _one_matter(_answers_step(CHECK)))
READ_CODE = Check("请阅示邮件的流转码", _one_matter(_answers_read))

OFFICE = (Role.STAFF, Role.HEAD)
UNITS = (Role.LEAD, Role.CO)

TABLE: tuple[Transition, ...] = (
    # any word: a 查询 in the subject alone (查询 督办〔2026〕3号, an empty text) is one too; the check decides
    Transition(ANY, ANY, ANY, QUERY, views.query, "答复办理情况（按查看权限）"),
    Transition(OPEN_STATES, (Role.LEADER,), (Word.WITHDRAW,), ANY_MAIL, change.withdraw, "撤销，告知各单位"),
    Transition(OPEN_STATES, (Role.LEADER, *OFFICE), (Word.CORRECT,), ANY_MAIL, change.correct,
               "更正要素，向各单位发变更通知"),
    Transition(RUNNING, OFFICE, (Word.REMIND,), ANY_MAIL, chase.remind_now, "立即催办"),
    # 核定 (step 3)
    Transition((VERIFYING,), OFFICE, (Word.DISPATCH,), VERIFY_CODE, dispatch.dispatch, "派发（时限、承办须明确）"),
    Transition((VERIFYING,), OFFICE, (Word.ASK,), VERIFY_CODE, dispatch.ask, "询问交办领导"),
    Transition((VERIFYING, CLARIFYING), OFFICE, (Word.VOID,), VERIFY_CODE, dispatch.void, "作废，告知交办领导"),
    Transition((CLARIFYING,), (Role.LEADER,), ANY, CLARIFY_CODE, dispatch.answer, "领导答复询问，转办公室核定"),
    # 办理 (step 5)
    Transition(RUNNING, UNITS, (Word.PROGRESS,), ROUND_MAIL, progress.progress, "记录进展（协办单位的转承办单位）"),
    Transition(RUNNING, UNITS, (Word.SIGN,), ROUND_MAIL, progress.sign, "记录签收"),
    Transition(RUNNING, UNITS, (Word.COORDINATE,), ROUND_MAIL, progress.coordinate, "请求协调，转办公室"),
    Transition(RUNNING, (Role.CO,), (Word.CO_DONE, Word.REPORT), ROUND_MAIL, progress.co_done,
               "协办完毕，转承办单位（协办单位的“办结”同此）"),
    Transition((DOING,), (Role.LEAD,), (Word.EXTEND,), ROUND_MAIL, progress.extend, "申请延期，报交办领导"),
    Transition((DOING,), (Role.LEAD,), (Word.REASSIGN,), ROUND_MAIL, progress.reassign, "申请改派，转办公室"),
    Transition(RUNNING, (Role.LEAD,), (Word.REPORT,), ROUND_MAIL, report.report, "办结报告（复命），送办公室核报"),
    Transition((EXTENDING,), (Role.LEADER,), ANY, EXTEND_CODE, progress.decide_extension, "领导批复延期申请"),
    Transition(RUNNING, OFFICE, (Word.DISPATCH,), REASSIGN_CODE, dispatch.redispatch, "改派"),
    Transition(RUNNING, OFFICE, (Word.KEEP,), REASSIGN_CODE, progress.keep, "维持原承办，转告承办单位"),
    Transition(RUNNING, OFFICE, ANY, COORDINATE_CODE, progress.answer_coordination, "答复协调请求，转告该单位"),
    Transition(RUNNING, UNITS, (Word.TEXT,), ROUND_MAIL, progress.other, "记为进展，并告知须以“办结：”报告完成"),
    # 核报 and 阅示 (steps 7, 8)
    Transition((CHECKING,), OFFICE, (Word.CHECKED,), CHECK_CODE, report.checked, "核报，送交办领导阅示"),
    Transition((CHECKING,), OFFICE, (Word.SEND_BACK,), CHECK_CODE, report.send_back, "退回承办单位"),
    Transition((READING, CLOSED), (Role.LEADER,), (Word.READ, Word.APPROVE, Word.REPORT), READ_CODE, report.close,
               "办结（已办结的再次“阅”不改变任何状态）"),
    Transition((READING, CLOSED), (Role.LEADER,), (Word.CONTINUE, Word.REJECT), READ_CODE, report.reopen,
               "继续办理：开始下一轮"),
    Transition((READING,), (Role.LEADER,), (Word.TEXT,), READ_CODE, report.unclear, "告知领导如何批示"),
)

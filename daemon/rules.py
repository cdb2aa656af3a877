"""The decision table of the 请示: who (role) may do what (verb) in which state, with which code, and what it does.

`role_of` and `candidates` are pure (no database, no mail): intake identifies the sender, asks for the rows that
fit (state, roles, verb), checks what each row requires (a code, a mail answered) in table order and applies
the first row whose check passes; no row is an answer (intake explains), never a crash. Every handler runs in
intake's transaction and records what it did through the pipeline. Nothing here talks to IMAP or SMTP.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from daemon import workflow
from daemon.models import (APPROVED, APPROVING, DONE, OPEN_STATES, REJECTED, RETURNED, REVIEWING, STATE_LABELS,
                           WITHDRAWN)
from daemon.replies import Verb


class Role(enum.Enum):
    STAFF = "办公室工作人员"
    HEAD = "办公室主任"
    APPROVER = "审批人"
    DELEGATE = "代理人"
    UNIT = "来文单位"
    EXECUTOR = "执行部门"
    STRANGER = "其他人"


def executes(directory, req, sender: str) -> bool:
    """The sender is the executing unit or department (any address of that unit), or its delegate."""
    if any(p in (req.execute or []) for p in directory.principals_for(sender)):
        return True
    unit = directory.unit_of(sender)
    return unit is not None and any(directory.unit_of(e) == unit for e in req.execute or [])


def is_requesting_unit(directory, req, sender: str) -> bool:
    """The sender wrote the request, or is an address of the unit that did."""
    if sender == req.sender:
        return True
    unit = directory.unit_of(sender) if req.unit_id else None
    return unit is not None and unit.id == req.unit_id


def role_of(directory, sender: str, req, step) -> tuple[Role, ...]:
    """What the sender is to `req` (with `step` its active step, or None), strongest first; one person may be
    several (an office clerk who also signs a step). (STRANGER,) when nothing. Pure: the directory is the config."""
    a = sender.lower()
    office = directory.cfg.office
    roles = []
    if a in office.staff:
        roles.append(Role.STAFF)
    if a == office.head:
        roles.append(Role.HEAD)
    if step is not None:
        principals = directory.principals_for(sender)
        if principals[0] in step.approvers:
            roles.append(Role.APPROVER)
        if any(p in step.approvers for p in principals[1:]):
            roles.append(Role.DELEGATE)
    if is_requesting_unit(directory, req, sender):
        roles.append(Role.UNIT)
    if executes(directory, req, sender):
        roles.append(Role.EXECUTOR)
    return tuple(roles) or (Role.STRANGER,)


# -- what a row requires of the mail --------------------------------------------------------------------

@dataclass
class Act:
    """One mail about one request, as the table's checks and handlers see it."""
    pipe: object            # intake.Pipeline: the app, the mail, note/answer/ask/query/remind and the code checks
    req: object
    ref: object             # the mail of ours it answers, or None
    reply: object           # replies.Reply
    step: object = None     # the active step (APPROVING), or None
    principal: str = ""     # for whom the sender decides on the step (set by SIGNER_CODE)

    @property
    def sender(self) -> str:
        return self.pipe.mail.from_addr


@dataclass(frozen=True)
class Check:
    label: str                                  # for the listing
    test: Callable[[Act], bool]
    refusal: str = ""                           # when set, a failed check refuses with it instead of trying on


def _signer(act: Act) -> bool:
    step = act.step
    if step is None:
        return False
    principal = act.pipe.signer(step, act.ref)
    if principal is None or principal in step.signed or not act.pipe.acts_for(act.sender, principal):
        return False
    act.principal = principal
    return True


def _revised(act: Act) -> bool:
    check = act.pipe.check
    return bool((act.ref is not None and act.ref.kind == "returned") or act.pipe.mail.attachments
                or (check is not None and check.title))


def _new_document(act: Act) -> bool:
    check = act.pipe.check
    return bool(act.pipe.mail.attachments or (check is not None and check.title))


NONE = Check("—", lambda act: True)
QUERY = Check("主题或首行为“查询”", lambda act: act.reply.verb == Verb.QUERY or act.pipe.asks_query(act.reply))
REVIEW_CODE = Check("审核邮件的流转码", lambda act: act.pipe.answers(act.req, act.ref))
ANY_MAIL = Check("回复本件任一邮件", lambda act: act.ref is not None,
                 refusal="催办请直接回复该请示的任一往来邮件（如审核邮件），以免误催其他请示。")
ANY_MAIL_OR_CODE = Check("回复本件任一邮件或带审核流转码", lambda act: act.ref is not None or act.pipe.answers(act.req, None),
                         refusal="撤回请直接回复该请示的任一往来邮件（如回执），以免误撤其他请示。")
ANSWERS_REVIEW = Check("回复审核邮件", lambda act: act.ref is not None and act.ref.kind == "review")
SIGNER_CODE = Check("本人（或被代理人）在本环节的流转码", _signer)
REVISED = Check("修改稿（回复退回邮件，或带附件/标题）", _revised)
NEW_DOCUMENT = Check("新请示（带附件或标题）", _new_document)
DONE_CODE = Check("审批结果邮件的办结码", lambda act: act.pipe.answers(act.req, act.ref, code=act.req.done_code))


# -- what a row does --------------------------------------------------------------------------------------

def _query(act: Act, verb: Verb) -> None:
    return act.pipe.query(act.req, act.reply)


def _accept(act: Act, verb: Verb, fields: dict | None = None) -> None:
    app, req = act.pipe.app, act.req
    name = workflow.staff_name(app, act.sender)
    workflow.accept(app, req, act.sender, act.reply.fields if fields is None else fields)
    return act.pipe.note(f"{name}受理，拟办意见：{req.proposal}；流程：{req.route}", "decision", req)


def _accept_approval(act: Act, verb: Verb) -> None:
    """Staff who answer the review mail with 同意 mean 受理 on the default route."""
    reply = act.reply
    return _accept(act, Verb.ACCEPT, reply.fields or ({"拟办意见": reply.opinion} if reply.opinion else {}))


def _return_to_unit(act: Act, verb: Verb) -> None:
    app, req = act.pipe.app, act.req
    name = workflow.staff_name(app, act.sender)
    workflow.return_to_unit(app, req, act.sender, name, act.reply.opinion or "请按要求修改后重新报送。")
    return act.pipe.note(f"{name}退回单位修改", "decision", req)


def _remind(act: Act, verb: Verb) -> None:
    req = act.req
    n = act.pipe.remind(req)
    if n == 0:
        raise workflow.Refused(f"该请示当前状态为“{STATE_LABELS[req.state]}”，不在审批中，无需催办。")
    return act.pipe.note(f"办公室要求催办，已发催办通知{n}份", "remind", req)


def _late_review(act: Act, verb: Verb) -> None:
    req, app = act.req, act.pipe.app
    when = req.proposal_at.astimezone(app.tz).strftime("%Y年%m月%d日 %H:%M") if req.proposal_at else ""
    by = f"已由{req.proposal_by}于{when}受理，" if req.proposal_by and req.state != RETURNED else ""
    raise workflow.Refused(f"该请示{by}当前状态为“{STATE_LABELS[req.state]}”，本次“{verb.value}”未作处理。")


def _decide(act: Act, verb: Verb) -> None:
    reply = act.reply
    # the opinion on the form is what the person wrote, word for word (转/加签: what follows the name)
    text = reply.opinion if verb in (Verb.TRANSFER, Verb.ADD_SIGNER) else reply.new_text
    did = workflow.decide(act.pipe.app, act.req, act.step, act.principal, act.sender, verb, text, reply.target)
    return act.pipe.note(did + (f"：{reply.opinion}" if reply.opinion else ""), "decision", act.req, step=act.step)


def _ask(act: Act, verb: Verb) -> None:
    return act.pipe.ask(act.req, act.step, act.principal, act.reply)


def _confirm(act: Act, verb: Verb) -> None:
    from daemon import questions
    did = questions.confirm(act.pipe.app, act.req, act.step, act.principal, act.sender, act.pipe.codes(act.ref))
    return act.pipe.note(f"{did}（确认办公室询问）", "decision", act.req, step=act.step)


def _withdraw(act: Act, verb: Verb) -> None:
    workflow.withdraw(act.pipe.app, act.req, act.sender)
    return act.pipe.note("单位撤回", "decision", act.req)


def _incoming(act: Act):
    p = act.pipe
    return workflow.Incoming(p.mail, p.record, p.archive, p.check)


def _resubmit(act: Act, verb: Verb) -> None:
    workflow.resubmit(act.pipe.app, act.req, _incoming(act))


def _new_request(act: Act, verb: Verb) -> None:
    """A new 请示 sent as a reply to an old mail of a finished one."""
    return act.pipe.unrelated(act.reply)


def _pass_on(act: Act, verb: Verb) -> None:
    workflow.pass_on(act.pipe.app, act.req, _incoming(act))
    return act.pipe.note("单位补充材料，已转当前办理人", "supplement", act.req)


def _report_done(act: Act, verb: Verb) -> None:
    workflow.report_done(act.pipe.app, act.req, act.sender, act.reply.opinion)
    return act.pipe.note(f"执行部门办结回告：{act.reply.opinion}", "decision", act.req)


# -- the table ----------------------------------------------------------------------------------------------

ANY = None      # any state, role or verb
ALL_STATES = (REVIEWING, RETURNED, APPROVING, APPROVED, DONE, REJECTED, WITHDRAWN)
OFFICE = (Role.STAFF, Role.HEAD)
SIGNERS = (Role.APPROVER, Role.DELEGATE)
STEP_DECISIONS = (Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS, Verb.REJECT, Verb.RETURN, Verb.TRANSFER,
                  Verb.ADD_SIGNER)


@dataclass(frozen=True)
class Transition:
    states: tuple[str, ...] | None
    roles: tuple[Role, ...] | None
    verbs: tuple[Verb, ...] | None
    needs: Check
    apply: Callable[[Act, Verb], None] = field(compare=False)
    says: str = ""          # what it does, for the listing

    def fits(self, state: str, roles: tuple[Role, ...], verb: Verb) -> bool:
        return ((self.states is ANY or state in self.states) and (self.verbs is ANY or verb in self.verbs)
                and (self.roles is ANY or any(r in self.roles for r in roles)))


TABLE: tuple[Transition, ...] = (
    Transition(ANY, ANY, ANY, QUERY, _query, "答复办理情况（按查看权限）"),
    Transition((REVIEWING,), OFFICE, (Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS), REVIEW_CODE, _accept_approval,
               "受理，按默认流程（“同意”即受理）"),
    Transition(OPEN_STATES, OFFICE, (Verb.REMIND,), ANY_MAIL, _remind, "立即催办当前审批人"),
    Transition((REVIEWING,), OFFICE, (Verb.ACCEPT,), REVIEW_CODE, _accept, "受理，送审批"),
    Transition((REVIEWING,), OFFICE, (Verb.RETURN,), REVIEW_CODE, _return_to_unit, "退回单位修改"),
    Transition(tuple(s for s in ALL_STATES if s != REVIEWING), OFFICE, (Verb.ACCEPT, Verb.RETURN), ANSWERS_REVIEW,
               _late_review, "告知已受理或已不在审核中，不作处理"),
    Transition((APPROVING,), SIGNERS, STEP_DECISIONS, SIGNER_CODE, _decide, "本环节的审批意见"),
    Transition((APPROVING,), SIGNERS, (Verb.UNKNOWN,), SIGNER_CODE, _ask, "意思不明：询问审批人"),
    Transition((APPROVING,), SIGNERS, (Verb.CONFIRM,), SIGNER_CODE, _confirm, "确认询问中提出的理解并执行"),
    Transition(ANY, (Role.UNIT,), (Verb.WITHDRAW,), ANY_MAIL_OR_CODE, _withdraw, "撤回（已结束的不能撤回）"),
    Transition((RETURNED,), (Role.UNIT,), ANY, REVISED, _resubmit, "修改后重新报送，原编号继续"),
    Transition((DONE, REJECTED, WITHDRAWN), (Role.UNIT,), (Verb.UNKNOWN,), NEW_DOCUMENT, _new_request,
               "作为新请示登记"),
    Transition(OPEN_STATES, (Role.UNIT,), ANY, NONE, _pass_on, "补充材料，转当前办理人"),
    Transition((APPROVED,), (Role.EXECUTOR,), (Verb.DONE,), DONE_CODE, _report_done, "办结回告，本件办结"),
)


def candidates(state: str, roles: tuple[Role, ...], verb: Verb,
               table: tuple[Transition, ...] = TABLE) -> list[Transition]:
    """The rows that fit, in table order: intake applies the first whose check passes."""
    return [t for t in table if t.fits(state, roles, verb)]


def apply(act: Act, roles: tuple[Role, ...], table: tuple[Transition, ...] = TABLE) -> bool:
    """Apply the first fitting row whose check passes; False when none did (the caller explains). A check with a
    refusal raises workflow.Refused when it fails."""
    verb = act.reply.verb
    for row in candidates(act.req.state, roles, verb, table):
        if row.needs.test(act):
            row.apply(act, verb)
            return True
        if row.needs.refusal:
            raise workflow.Refused(row.needs.refusal)
    return False


def listing(table: tuple[Transition, ...] = TABLE, labels: dict[str, str] = STATE_LABELS) -> str:
    """The table as an admin reads it: one row a line, in the order it is tried."""
    def names(items, label, every):
        return every if items is ANY else "、".join(label(i) for i in items)
    lines = ["按顺序逐行匹配（状态、身份、回复词）；第一条所需凭据相符的规则生效，均不相符时说明原因、不作处理。", ""]
    for n, t in enumerate(table, 1):
        lines.append(f"{n:2d}. 状态：{names(t.states, lambda s: labels[s], '任何状态')}")
        lines.append(f"    身份：{names(t.roles, lambda r: r.value, '任何人')}")
        lines.append(f"    回复：{names(t.verbs, lambda v: v.value, '任何内容')}")
        lines.append(f"    凭据：{t.needs.label}")
        lines.append(f"    结果：{t.says}")
    return "\n".join(lines)


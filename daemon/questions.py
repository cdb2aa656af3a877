"""Questions back to an approver whose reply was not clear: the reading offered (请王总定 → 转：王总), and the 是
that applies it. Runs inside intake's transaction; nothing here talks to IMAP or SMTP.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon import clock, outbox, workflow
from daemon.app import App
from daemon.models import ACTIVE, PENDING, Proposal, Request, Step
from daemon.replies import Reply, Verb

# the verbs a question may offer (stored in Proposal.verb as their word: 同意 不同意 退回 转)
_OFFERED = (Verb.APPROVE, Verb.REJECT, Verb.RETURN, Verb.TRANSFER)


@dataclass(frozen=True)
class Reading:
    """What the question offers: the verb for workflow.decide, its target, and how the mail writes it."""
    verb: Verb
    target: str
    label: str          # 转：王总 / 同意 / 不同意 / 退回


def reading(app: App, req: Request, step: Step, reply: Reply) -> Reading | None:
    """The reading to offer for a doubtful reply on `step`, or None when none is likely enough to offer."""
    offer = reply.offer
    if offer is None or offer.verb not in _OFFERED:
        return None
    if offer.verb is not Verb.TRANSFER:
        return Reading(offer.verb, "", offer.verb.value)
    d = app.directory
    party = d.resolve(offer.target) if offer.target else None
    if party is None or d.person(party.address) is None or party.address in step.approvers:
        return None
    later = Step.select().where((Step.request == req) & (Step.state == PENDING) & (Step.position > step.position))
    if any(party.address in s.approvers for s in later) or party.address in (req.execute or []):
        # 同意，报王总定 where 王总 signs after this step anyway, or 请综合科办理 naming the executing unit:
        # the likely meaning is plain approval
        return Reading(Verb.APPROVE, "", Verb.APPROVE.value)
    return Reading(Verb.TRANSFER, party.name, f"转：{party.name}")


def propose(step: Step, principal: str, sender: str, found: Reading, text: str) -> Proposal:
    """Store the offer under a code of its own: one person, one step, one question."""
    return Proposal.create(step=step, person=principal, sender=sender, verb=found.verb.value, target=found.target,
                           text=text, code=outbox.new_code(), step_code=step.code, created=clock.now())


def live(step: Step, sender: str, codes: list[str]) -> Proposal | None:
    """The unused offer made to `sender` on `step` under one of `codes`, while the step is still as it was asked."""
    codes = [c for c in codes if c]
    if not codes or step.state != ACTIVE:
        return None
    return (Proposal.select().where((Proposal.step == step) & (Proposal.sender == sender)
                                    & Proposal.code.in_(codes) & Proposal.used_at.is_null()
                                    & (Proposal.step_code == step.code))
            .order_by(Proposal.id.desc()).first())


def confirm(app: App, req: Request, step: Step, principal: str, sender: str, codes: list[str]) -> str:
    """Apply the offer a 是 answers; raises workflow.Refused when there is none to apply."""
    found = live(step, sender, codes)
    if found is None or found.person != principal:
        raise workflow.Refused("“是”“对”“确认”只用于答复办公室的确认询问，本件当前没有待您确认的事项。审批意见请写明"
                               "“同意”“不同意”或“退回：意见”。")
    found.used_at = clock.now()
    found.save()
    return workflow.decide(app, req, step, principal, sender, Verb(found.verb), found.text, found.target)

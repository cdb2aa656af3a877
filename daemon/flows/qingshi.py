"""The 请示 as a Flow: its number, states, registration (daemon.workflow), decision table (daemon.rules) and holder.

Nothing here talks to IMAP or SMTP.
"""

from __future__ import annotations

from daemon import rules, workflow
from daemon.flows.base import DEFAULT, Holding
from daemon.models import ACTIVE, APPROVED, OPEN_STATES, REPORT, RETURNED, REVIEWING, STATE_LABELS, Step

_UNSET = object()


class Qingshi:
    kind = DEFAULT
    states = STATE_LABELS
    open_states = OPEN_STATES
    unfinished_states = (*OPEN_STATES, APPROVED)
    table = rules.TABLE

    def number_format(self, cfg) -> str:
        return cfg.office.number_format

    def claims_new(self, app, mail, unit) -> bool:
        return True             # the default: whatever no other kind claims

    def register(self, app, incoming, unit):
        return workflow.register(app, incoming, unit)

    def holder(self, app, req, step=_UNSET) -> Holding:
        """`step`: the active step when the caller already has it (None for none)."""
        d = app.directory
        if step is _UNSET:
            step = Step.select().where((Step.request == req) & (Step.state == ACTIVE)).first()
        if step is not None and step.kind == REPORT:
            # the 办结回告 the executing units owe (held by the requesting unit when none was named)
            return Holding("、".join(d.name_of(a) for a in req.execute or []) or req.unit_name, req.state_since,
                           step.next_reminder_at)
        if step is not None:
            joiner = "/" if step.kind == "any" else "、"
            return Holding(joiner.join(d.name_of(a) for a in step.approvers if a not in step.signed),
                                 step.activated_at, step.next_reminder_at)
        if req.state == REVIEWING:
            return Holding("办公室", req.state_since)
        if req.state == RETURNED:
            return Holding(req.unit_name, req.state_since)
        if req.state == APPROVED:
            return Holding("、".join(d.name_of(a) for a in req.execute or []) or req.unit_name,
                                 req.state_since)
        return Holding("", None)


FLOW = Qingshi()

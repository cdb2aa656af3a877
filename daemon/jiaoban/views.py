"""What people see of a 交办: who holds it, the 查询 answer, the list line, the 交办单 of `show`, the export row.

Reads the database; changes nothing.
"""

from __future__ import annotations

from daemon.flows.base import Holding
from daemon.jiaoban import CHECK, REASSIGN, UNIT_STEPS, VERIFY, core


def holding(app, req) -> Holding:
    """Who holds the 交办 now (the units while it is done, otherwise the office or the leader), since when,
    and its deadline in force while it is done."""
    steps = core.active_steps(req)
    if not steps:
        return Holding("", None)
    d = app.directory
    units = [s for s in steps if s.kind in UNIT_STEPS]
    if units:
        task = core.task_of(req)
        return Holding("、".join(d.name_of(a) for s in units for a in s.approvers),
                       min(s.activated_at for s in units), task.deadline_at)
    step = steps[0]
    if step.kind in (VERIFY, REASSIGN, CHECK) and all(a in app.cfg.office.staff for a in step.approvers):
        who = "办公室"
    else:
        who = "、".join(d.name_of(a) for a in step.approvers)
    return Holding(who, step.activated_at)


def query(act, word) -> None:
    """查询 of a 交办: its state and record, to those who may see it (the leader, office staff, its units)."""
    raise NotImplementedError



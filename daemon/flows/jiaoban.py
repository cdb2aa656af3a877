"""The 交办 as a Flow (SPEC §6): its number, states, which new mail it claims, its decision table and holder.

The work itself is daemon.jiaoban; this is what the engine asks of it. Nothing here talks to IMAP or SMTP.
"""

from __future__ import annotations

import logging

from daemon import rules, workflow
from daemon.flows.base import number_pattern
from daemon.jiaoban import KIND, OPEN_STATES, STATE_LABELS, core, explain, register, table, views
from daemon.jiaoban.reader import read

log = logging.getLogger("officeflow.jiaoban")


class Jiaoban:
    kind = KIND
    states = STATE_LABELS
    open_states = OPEN_STATES
    unfinished_states = OPEN_STATES
    table = table.TABLE

    def number_format(self, cfg) -> str:
        return cfg.jiaoban.number_format

    def claims_new(self, app, mail, unit) -> bool:
        return bool(app.cfg.leaders) and register.claims(app, mail)

    def register(self, app, incoming, unit):
        return register.register(app, incoming)

    def reply_to_collection(self, pipe, reply):
        """A reply to a 交办提醒 list, which names several matters: the item it begins with."""
        from daemon.jiaoban import chase
        return chase.list_reply(pipe, reply)

    def away(self, pipe, req, ref) -> bool:
        """An out-of-office reply about a 交办 (req), or to a list (req None): recorded on the matter."""
        from daemon.jiaoban import chase
        if req is None:
            return chase.away_from_list(pipe)
        chase.away(pipe, req, ref)
        return True

    def holder(self, app, req, step=None):
        return views.holding(app, req)

    def handle(self, pipe, req, ref, reply) -> None:
        """A mail about a 交办 (`reply`: the 请示 reader's reading of it, whose new text is read again here)."""
        task = core.task_of(req)
        said = read(reply.new_text, number_pattern(self.number_format(pipe.app.cfg)))
        roles = table.role_of(pipe.app.directory, pipe.mail.from_addr, task)
        act = table.Act(pipe, req, task, ref, said, roles, verdict=reply)
        try:
            if rules.apply(act, roles, self.table):
                return
        except workflow.Refused as e:
            pipe.note(f"未处理：{e}", "refused", req, ignored=True)
            pipe.answer("refused_action", {"reason": str(e), "reply": reply}, req, action="说明未处理原因")
            return
        explain.explain(act)


FLOW = Jiaoban()

"""The running application's shared parts: config, directory, calendar, and views of a request for mails.

Nothing here changes state; the workflow and intake do.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon import clock
from daemon.config import Config
from daemon.directory import Directory
from daemon.models import STATE_LABELS, STEP_LABELS, Job, Opinion, Request, Step
from daemon.resources import resource_dir

log = logging.getLogger("officeflow.app")

_GUIDE = resource_dir("templates") / "guide" / "model.txt"
FORM_PENDING = "form-pending-"      # Job name prefix + request id: a result went out without its 审批单


class App:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.tz = ZoneInfo(cfg.office.timezone)
        self.directory = Directory(cfg)

    @cached_property
    def calendar(self):
        from daemon.workcal import WorkCalendar
        h = self.cfg.hours
        return WorkCalendar(kind=h.calendar, office=h.office, tz=self.cfg.office.timezone,
                            extra_days_off=h.extra_days_off, extra_workdays=h.extra_workdays)

    @cached_property
    def lexicon(self):
        from daemon.replies import Lexicon
        return Lexicon(extra_approve=self.cfg.replies.extra_approve_words)

    # -- the format check ----------------------------------------------------------------------

    def check(self, mail):
        from daemon import checks
        today = clock.now().astimezone(self.tz).date()
        return checks.check(mail.subject, mail.text, [(a.filename, a.data) for a in mail.attachments], today,
                            self.cfg.checks)

    def model_guide(self) -> str:
        try:
            return _GUIDE.read_text(encoding="utf-8")
        except OSError:
            return ""

    # -- attachments ---------------------------------------------------------------------------

    def archive_root(self) -> Path:
        return self.cfg.archive.path

    def original_attachments(self, req: Request) -> list:
        """The request's original attachments, byte for byte, out of the archived raw mail."""
        from daemon import mime
        from daemon.outbox import Attach
        out, cache = [], {}
        for a in req.attachments or []:
            src = a["source"]
            if src not in cache:
                try:
                    cache[src] = mime.parse((self.archive_root() / src).read_bytes())
                except (OSError, mime.MailParseError) as e:
                    log.error("%s cannot read archived mail %s: %s", req.number, src, e)
                    cache[src] = None
            parsed = cache[src]
            if parsed is not None and a["index"] < len(parsed.attachments):
                att = parsed.attachments[a["index"]]
                out.append(Attach(att.filename, att.content_type, att.data))
        return out

    def form_attachment(self, req: Request):
        from daemon.docform import form_filename, render_docx
        from daemon.outbox import Attach
        form = self.form_data(req)
        return Attach(form_filename(form), "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                      render_docx(form))

    def form_attachments(self, req: Request) -> list:
        """The form as a one-item list for a result mail, or [] when it cannot be rendered: a decision never
        waits on its side products. The failure is logged and marked (FORM_PENDING) for the digest and for
        chase.resend_forms, which tries again and sends the form afterwards."""
        try:
            return [self.form_attachment(req)]
        except Exception as e:  # noqa: BLE001 - the decision stands; the form follows later
            log.error("%s printable form cannot be rendered, the result goes without it: %s", req.number, e)
            Job.insert(name=FORM_PENDING + str(req.id), done_at=clock.now()).on_conflict_ignore().execute()
            return []

    # -- the 审批单 -----------------------------------------------------------------------------

    def form_data(self, req: Request):
        from daemon.docform import FormData, OpinionView, StepView
        d = self.directory
        tz = self.tz
        opinions = list(Opinion.select().where(Opinion.request == req).order_by(Opinion.at, Opinion.id))
        by_step: dict[int, list] = {}
        for o in opinions:
            if o.step_id:
                by_step.setdefault(o.step_id, []).append(o)
        steps = []
        for s in Step.select().where(Step.request == req).order_by(Step.position):
            if s.state == "cancelled" and not by_step.get(s.id):
                continue
            leader = any(self._is_leader(a) for a in s.approvers)
            steps.append(StepView(
                index=len(steps) + 1, kind={"all": "会签", "any": "或签"}.get(s.kind, ""),
                label=("、" if s.kind == "all" else "/").join(d.name_of(a) for a in s.approvers),
                role="领导批示" if leader else "科室意见", state=STEP_LABELS.get(s.state, s.state),
                opinions=tuple(OpinionView(o.name, o.decision, o.text, o.at.astimezone(tz))
                               for o in by_step.get(s.id, []))))
        proposal = next((o for o in reversed(opinions) if o.decision == "拟办"), None)
        return FormData(
            office_name=self.cfg.office.name, number=req.number, received_at=req.received_at.astimezone(tz),
            unit_name=req.unit_name, sender=req.sender, title=req.title, doc_number="", urgency=req.urgency,
            deadline=req.deadline, classification="", attachments=tuple(a["name"] for a in req.attachments or []),
            proposal=req.proposal, proposal_by=req.proposal_by,
            proposal_at=proposal.at.astimezone(tz) if proposal else None, steps=tuple(steps),
            execute="、".join(d.name_of(a) for a in req.execute or []),
            copies=tuple(d.name_of(a) for a in req.copies or []), state=STATE_LABELS.get(req.state, req.state),
            result=req.result, done_report=req.done_report,
            closed_at=req.closed_at.astimezone(tz) if req.closed_at else None,
            printed_at=clock.now().astimezone(tz))

    def _is_leader(self, address: str) -> bool:
        p = self.directory.person(address)
        return bool(p and not p.name.endswith(("科", "部", "处", "室", "中心")))

    # -- reminders -------------------------------------------------------------------------------

    def schedule_first_reminder(self, req: Request, step: Step) -> None:
        from daemon import chase
        chase.schedule_first(self, req, step)

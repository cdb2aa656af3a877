"""What mails and forms show of a request: the 审批单's data, the original attachments and the rendered form to
send, the context every mail template gets. Reads the database and the archive; the only thing it writes is
the mark that a form could not be rendered (FORM_PENDING). Nothing here changes a request.
"""

from __future__ import annotations

import logging

from daemon import clock
from daemon.models import REPORT, STATE_LABELS, STEP_LABELS, Job, Opinion, Request, Step
from daemon.resources import resource_dir

log = logging.getLogger("officeflow.app")

_GUIDE = resource_dir("templates") / "guide" / "model.txt"
FORM_PENDING = "form-pending-"      # Job name prefix + request id: a result went out without its 审批单


def model_guide() -> str:
    """The model 请示 sent with an automatic return (技术指引)."""
    try:
        return _GUIDE.read_text(encoding="utf-8")
    except OSError:
        return ""


def mail_ctx(app, req: Request, form=None, **extra) -> dict:
    """What every mail about a request shows: the request, its form (`form`: when the caller has it already),
    its state."""
    return {"req": req, "form": form if form is not None else form_data(app, req),
            "state_label": STATE_LABELS.get(req.state, req.state), **extra}


# -- attachments ---------------------------------------------------------------------------------------

def original_attachments(app, req: Request, parsed: dict | None = None) -> list:
    """The request's original attachments, byte for byte, out of the archived raw mail. `parsed`: mails already
    parsed from the archive ({archive path: mime.ParsedMail}, the one intake holds), not read again."""
    from daemon import mime
    from daemon.outbox import Attach
    out, cache = [], dict(parsed or {})
    for a in req.attachments or []:
        src = a["source"]
        if src not in cache:
            try:
                cache[src] = mime.parse((app.archive_root() / src).read_bytes())
            except (OSError, mime.MailParseError) as e:
                log.error("%s cannot read archived mail %s: %s", req.number, src, e)
                cache[src] = None
        parsed = cache[src]
        if parsed is not None and a["index"] < len(parsed.attachments):
            att = parsed.attachments[a["index"]]
            out.append(Attach(att.filename, att.content_type, att.data))
    return out


def form_attachment(app, req: Request):
    from daemon.docform import form_filename, render_docx
    from daemon.outbox import Attach
    form = form_data(app, req)
    return Attach(form_filename(form), "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                  render_docx(form))


def form_attachments(app, req: Request) -> list:
    """The form as a one-item list for a result mail, or [] when it cannot be rendered: a decision never
    waits on its side products. The failure is logged and marked (FORM_PENDING) for the digest and for
    chase.resend_forms, which tries again and sends the form afterwards."""
    try:
        return [form_attachment(app, req)]
    except Exception as e:  # noqa: BLE001 - the decision stands; the form follows later
        log.error("%s printable form cannot be rendered, the result goes without it: %s", req.number, e)
        Job.insert(name=FORM_PENDING + str(req.id), done_at=clock.now()).on_conflict_ignore().execute()
        return []


# -- the 审批单 -------------------------------------------------------------------------------------------

def form_data(app, req: Request, new: bool = False):
    """The 审批单 of a request; `new`: it was registered just now, so it has no opinions or steps to read."""
    from daemon.docform import FormData, OpinionView, StepView
    d = app.directory
    tz = app.tz
    opinions = [] if new else list(Opinion.select().where(Opinion.request == req).order_by(Opinion.at, Opinion.id))
    by_step: dict[int, list] = {}
    for o in opinions:
        if o.step_id:
            by_step.setdefault(o.step_id, []).append(o)
    steps = []
    for s in [] if new else Step.select().where(Step.request == req).order_by(Step.position):
        if (s.state == "cancelled" and not by_step.get(s.id)) or s.kind == REPORT:
            continue            # the 办结回告 is no approval step: the form shows it as 办结情况
        leader = any(is_leader(d, a) for a in s.approvers)
        steps.append(StepView(
            index=len(steps) + 1, kind={"all": "会签", "any": "或签"}.get(s.kind, ""),
            label=("、" if s.kind == "all" else "/").join(d.name_of(a) for a in s.approvers),
            role="领导批示" if leader else "科室意见", state=STEP_LABELS.get(s.state, s.state),
            opinions=tuple(OpinionView(o.name, o.decision, o.text, o.at.astimezone(tz))
                           for o in by_step.get(s.id, []))))
    proposal = next((o for o in reversed(opinions) if o.decision == "拟办"), None)
    return FormData(
        office_name=app.cfg.office.name, number=req.number, received_at=req.received_at.astimezone(tz),
        unit_name=req.unit_name, sender=req.sender, title=req.title, doc_number="", urgency=req.urgency,
        deadline=req.deadline, classification="", attachments=tuple(a["name"] for a in req.attachments or []),
        proposal=req.proposal, proposal_by=req.proposal_by,
        proposal_at=proposal.at.astimezone(tz) if proposal else None, steps=tuple(steps),
        execute="、".join(d.name_of(a) for a in req.execute or []),
        copies=tuple(d.name_of(a) for a in req.copies or []), state=STATE_LABELS.get(req.state, req.state),
        result=req.result, done_report=req.done_report,
        closed_at=req.closed_at.astimezone(tz) if req.closed_at else None,
        printed_at=clock.now().astimezone(tz))


def is_leader(directory, address: str) -> bool:
    p = directory.person(address)
    return bool(p and not p.name.endswith(("科", "部", "处", "室", "中心")))

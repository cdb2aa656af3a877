"""Records for people: 查询 by mail, the request list, `show`, the register (收文登记簿) as CSV, the .eml dump.

Reads the database; the only thing it writes is the answer to a 查询 (through daemon.outbox).
"""

from __future__ import annotations

import csv
from datetime import date, datetime, time
from pathlib import Path

from daemon import clock, outbox
from daemon.app import App
from daemon.models import (ACTIVE, OPEN_STATES, STATE_LABELS, STEP_LABELS, Mail, Opinion, Request, Step)


def holder_and_since(app: App, req: Request) -> tuple[str, datetime | None]:
    d = app.directory
    step = Step.select().where((Step.request == req) & (Step.state == ACTIVE)).first()
    if step is not None:
        return "、".join(d.name_of(a) for a in step.approvers if a not in step.signed), step.activated_at
    if req.state == "reviewing":
        return "办公室", req.state_since
    if req.state == "returned":
        return req.unit_name, req.state_since
    if req.state == "approved":
        return "、".join(d.name_of(a) for a in req.execute or []) or req.unit_name, req.state_since
    return "—", None


def mail_rows(req: Request) -> list[dict]:
    rows = []
    for m in Mail.select().where(Mail.request == req).order_by(Mail.at, Mail.id):
        rows.append({"at": m.at, "direction": "收" if m.direction == "in" else "发",
                     "who": m.sender if m.direction == "in" else "、".join(m.rcpts), "subject": m.subject,
                     "action": m.action, "message_id": m.message_id, "ignored": m.ignored})
    return rows


def may_see(app: App, req: Request, address: str) -> bool:
    d = app.directory
    if d.is_staff(address) or address == req.sender:
        return True
    unit = d.unit_of(address)
    if unit is not None and unit.id == req.unit_id:
        return True
    people = set(req.execute or []) | set(req.copies or [])
    for s in Step.select(Step.approvers).where(Step.request == req):
        people.update(s.approvers)
    return any(p in people for p in d.principals_for(address))


def query(app: App, pipeline, req: Request | None, reply) -> None:
    """查询 by mail: the status of one request, or a unit's open requests."""
    from daemon import workflow
    mail = pipeline.mail
    sender = mail.from_addr
    if req is None:
        number = reply.target or ""
        m = workflow.number_pattern(app.cfg.office.number_format).search(f"{number} {mail.subject} {mail.text[:200]}")
        if m:
            req = Request.get_or_none(Request.number == m.group(0))
            number = m.group(0)
        elif number == "":
            unit = app.directory.unit_of(sender)
            if unit is not None:
                reqs = list(Request.select().where((Request.unit_id == unit.id) & (Request.state.in_(
                    (*OPEN_STATES, "approved")))).order_by(Request.received_at))
                rows = []
                for r in reqs:
                    holder, since = holder_and_since(app, r)
                    rows.append({"number": r.number, "title": r.title, "state_label": STATE_LABELS[r.state],
                                 "holder": holder, "since": since})
                pipeline.note(f"查询本单位在办请示（{len(rows)}件）", "query")
                return pipeline.answer("status_list", {"unit_name": unit.name, "requests": rows},
                                       action="答复查询（本单位在办请示）")
    if req is None or not may_see(app, req, sender):
        pipeline.note(f"查询{number or '（未写编号）'}：无此请示或无权查看", "query", ignored=True)
        return pipeline.answer("query_denied", {"number": number or "（未写编号）"}, action="答复查询（无结果）")
    holder, since = holder_and_since(app, req)
    pipeline.note("查询办理情况", "query", req)
    outbox.queue(app.cfg, "status", [sender], {"req": req, "form": app.form_data(req), "mail": mail,
                 "state_label": STATE_LABELS[req.state], "holder": holder, "since": since,
                 "mails": mail_rows(req)}, request=req, code=req.code,
                 reply_to_mail=(mail.message_id, list(mail.references)), action="答复查询")


# -- command line views --------------------------------------------------------------------------

def list_lines(app: App, pending: bool = False) -> list[str]:
    q = Request.select().order_by(Request.received_at)
    if pending:
        q = q.where(Request.state.in_((*OPEN_STATES, "approved")))
    lines = []
    for req in q:
        holder, since = holder_and_since(app, req)
        since_s = since.astimezone(app.tz).strftime("%Y-%m-%d %H:%M") if since else "-"
        lines.append(f"{req.number}\t{STATE_LABELS[req.state]}\t{req.unit_name}\t{req.title}\t{holder}\t{since_s}")
    return lines


def show_text(app: App, req: Request) -> str:
    tz = app.tz
    fmt = lambda t: t.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t else "-"  # noqa: E731
    d = app.directory
    out = [f"{req.number}  {req.title}", f"  单位：{req.unit_name} <{req.sender}>",
           f"  收文：{fmt(req.received_at)}    状态：{STATE_LABELS[req.state]}（自{fmt(req.state_since)}）",
           f"  紧急程度：{req.urgency or '普通'}    时限：{req.deadline or '-'}",
           f"  附件：{'、'.join(a['name'] for a in req.attachments) or '无'}"]
    if req.findings:
        out.append("  格式审查：")
        out += [f"    [{f['severity']}] {f['message']}" for f in req.findings]
    out += [f"  拟办意见：{req.proposal or '-'}（{req.proposal_by or '-'}）", f"  流程：{req.route or '-'}",
            f"  执行：{'、'.join(d.name_of(a) for a in req.execute) or '-'}    "
            f"抄送：{'、'.join(d.name_of(a) for a in req.copies) or '-'}"]
    out.append("  审批环节：")
    for s in Step.select().where(Step.request == req).order_by(Step.position):
        kind = {"all": "会签", "any": "或签"}.get(s.kind, "")
        names = "、".join(d.name_of(a) for a in s.approvers)
        out.append(f"    {s.position}. {names} {kind} — {STEP_LABELS.get(s.state, s.state)}"
                   + (f"，催办{s.reminders}次" if s.reminders else "") + (f"，外出：{s.away_note}" if s.away_note else ""))
    out.append("  意见：")
    for o in Opinion.select().where(Opinion.request == req).order_by(Opinion.at, Opinion.id):
        out.append(f"    {fmt(o.at)} {o.name} {o.decision}：{o.text}")
    if req.done_report:
        out.append(f"  办结回告：{req.done_report}")
    out.append("  收发记录：")
    for m in mail_rows(req):
        out.append(f"    {fmt(m['at'])} {m['direction']} {m['who']} | {m['subject']} | {m['action']}"
                   f" | <{m['message_id']}>")
    return "\n".join(out)


def dump_eml(app: App, req: Request, folder: Path) -> list[Path]:
    """Every archived mail of the request as .eml files (incoming from the archive, outgoing from the outbox)."""
    from daemon.models import Outbox
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for n, m in enumerate(Mail.select().where(Mail.request == req).order_by(Mail.at, Mail.id), 1):
        data = None
        if m.direction == "in" and m.archive:
            try:
                data = (app.archive_root() / m.archive).read_bytes()
            except OSError:
                data = None
        elif m.direction == "out":
            row = Outbox.get_or_none(Outbox.mail == m)
            data = bytes(row.data) if row else None
        if data is None:
            continue
        path = folder / f"{n:03d}-{'收' if m.direction == 'in' else '发'}-{m.kind}.eml"
        path.write_bytes(data)
        written.append(path)
    return written


def export_csv(app: App, path: Path, since: date | None = None, until: date | None = None) -> int:
    q = Request.select().order_by(Request.received_at)
    if since:
        q = q.where(Request.received_at >= datetime.combine(since, time(0), tzinfo=app.tz))
    if until:
        q = q.where(Request.received_at < datetime.combine(until, time(23, 59, 59, 999999), tzinfo=app.tz))
    reqs = list(q)
    steps: dict[int, list[Step]] = {}
    if reqs:
        for s in Step.select().where(Step.request.in_([r.id for r in reqs])).order_by(Step.position):
            steps.setdefault(s.request_id, []).append(s)
    d = app.directory
    fmt = lambda t: t.astimezone(app.tz).strftime("%Y-%m-%d %H:%M") if t else ""  # noqa: E731
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["收文编号", "收文时间", "来文单位", "标题", "紧急程度", "状态", "审批环节", "办结时间", "用时（工作时间）"])
        for r in reqs:
            chain = "；".join(f"{'、'.join(d.name_of(a) for a in s.approvers)}：{STEP_LABELS.get(s.state, s.state)}"
                             f"{' ' + fmt(s.decided_at) if s.decided_at else ''}"
                             for s in steps.get(r.id, []) if s.state != "cancelled")
            end = r.closed_at or clock.now()
            w.writerow([r.number, fmt(r.received_at), r.unit_name, r.title, r.urgency or "普通",
                        STATE_LABELS[r.state], chain, fmt(r.closed_at),
                        app.calendar.format_waited(r.received_at, end)])
    return len(reqs)

"""Records for people: 查询 by mail, the request list, `show`, the register (收文登记簿) as CSV, the .eml dump.

Reads the database; the only thing it writes is the answer to a 查询 (through daemon.outbox).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import peewee as pw

from daemon import clock, flows, limits, mailstore, outbox, views
from daemon.app import App
from daemon import jiaoban as jb
from daemon.jiaoban import KIND as JIAOBAN
from daemon.jiaoban import core as jb_core
from daemon.jiaoban import views as jb_views
from daemon.models import (ACTIVE, DONE, REPORT, STEP_LABELS, Mail,
                           Opinion, Request, Step, db)


_UNSET = object()


def holding(app: App, req: Request, step=_UNSET) -> flows.Holding:
    """Who holds the request now, since when and due when, as its flow says; `step`: the active step when the
    caller already has it (None for none)."""
    flow = flows.of(req)
    return flow.holder(app, req) if step is _UNSET else flow.holder(app, req, step)


def holder_and_since(app: App, req: Request, step=_UNSET) -> tuple[str, datetime | None]:
    """Who holds the request now and since when; ("", None) once it is finished."""
    h = holding(app, req, step)
    return h.who, h.since


def mail_rows(app: App, req: Request, with_ignored: bool = True) -> list[dict]:
    """The 收发记录 of a request, oldest first; `who` names people and units, `address` keeps the addresses."""
    d = app.directory
    rows = []
    for m in Mail.select().where(Mail.request == req).order_by(Mail.at, Mail.id):
        if m.ignored and not with_ignored:
            continue
        addresses = [m.sender] if m.direction == "in" else list(m.rcpts)
        rows.append({"at": m.at, "direction": "收" if m.direction == "in" else "发",
                     "who": "、".join(d.name_of(a) for a in addresses if a) or "-",
                     "address": "、".join(a for a in addresses if a), "subject": m.subject,
                     "action": m.action, "message_id": m.message_id, "ignored": m.ignored})
    return rows


def may_see(app: App, req: Request, address: str) -> bool:
    d = app.directory
    if d.is_staff(address) or address == req.sender:
        return True
    unit = d.unit_of(address)
    if unit is not None and unit.id == req.unit_id:
        return True
    return on_route(app, req, address)


def on_route(app: App, req: Request, address: str) -> bool:
    """An approver of any step, whoever gave an opinion on it (an approver who transferred the step), the
    executing or a copy unit, or a delegate of one of them."""
    d = app.directory
    people = set(req.execute or []) | set(req.copies or [])
    for s in Step.select(Step.approvers).where(Step.request == req):
        people.update(s.approvers)
    people.update(o.person for o in Opinion.select(Opinion.person).where(Opinion.request == req))
    return any(p in people for p in d.principals_for(address))


def active_steps(reqs: list[Request]) -> dict[int, Step]:
    """The active step of each of these requests, in one query.

    Beyond a few hundred requests every active step is read (there are no more of them than open requests)
    instead of naming each request: an IN list of years of requests is slow to plan, and beyond SQLite's
    limit on variables (999 before 3.32) it fails.
    """
    if not reqs:
        return {}
    ids = {r.id for r in reqs}
    q = Step.select().where(Step.state == ACTIVE)
    if len(ids) <= limits.SQL_CHUNK:
        q = q.where(Step.request.in_(list(ids)))
    return {s.request_id: s for s in q if s.request_id in ids}


def open_requests(app: App, unit_id: str | None = None) -> list[dict]:
    """Requests not finished yet (approved ones until 办结), oldest first; of one unit when unit_id is given."""
    q = Request.select().where(Request.state.in_(flows.unfinished_states())).order_by(Request.received_at)
    q = q.where((Request.kind != JIAOBAN) | Request.kind.is_null())      # a leader's 交办 are listed apart
    if unit_id is not None:
        q = q.where(Request.unit_id == unit_id)
    reqs = list(q)
    active = active_steps(reqs)
    rows = []
    for r in reqs:
        holder, since = holder_and_since(app, r, active.get(r.id))
        rows.append({"number": r.number, "title": r.title, "unit": r.unit_name, "state_label": flows.label(r),
                     "holder": holder, "since": since})
    return rows


ASSIGNED_STATES = (jb.DOING, jb.EXTENDING, jb.CHECKING, jb.READING)
"""A 交办 a unit has been given (派发) and that is not closed: what a unit's 查询 lists of the 交办."""


def unit_matters(app: App, sender: str) -> list[dict]:
    """The open 交办 whose lead unit or a co-unit is the sender's unit (or the sender), overdue first, then by
    deadline; each row says whether the unit leads it (承办) or helps (协办). Matters not yet dispatched are
    the office's and the leader's, not the unit's."""
    reqs = list(Request.select().where((Request.kind == JIAOBAN) & Request.state.in_(ASSIGNED_STATES))
                .order_by(Request.received_at))
    d = app.directory
    mine, part = [], {}
    for m in jb_views.load(reqs):
        if jb_core.same_party(d, sender, m.task.lead):
            part[m.req.number] = "承办"
        elif any(jb_core.same_party(d, sender, c) for c in m.task.co_units or []):
            part[m.req.number] = "协办"
        else:
            continue
        mine.append(m)
    rows = jb_views.open_list_rows(app, mine)
    for r in rows:
        r["part"] = part[r["number"]]
    return rows


def _typed_number(app: App, mail, reply) -> str:
    """The request number the sender wrote: after 查询, else in the subject, else in the first lines."""
    pattern = flows.numbers_pattern(app.cfg)
    for text in (reply.target or "", mail.subject or "", (mail.text or "")[:200]):
        m = pattern.search(text)
        if m:
            return m.group(0)
    return ""


def query(app: App, pipeline, req: Request | None, reply) -> None:
    """查询 by mail: the status of one request, or a unit's open requests (a leader's open 交办).

    `req` is the request the mail replies to, or None for a new mail. Whoever may not see a request gets the
    same answer as for a number that does not exist, so a 查询 never tells a stranger whether it exists.
    """
    mail = pipeline.mail
    sender = mail.from_addr
    d = app.directory
    typed = _typed_number(app, mail, reply)
    explicit = reply.target or (typed if req is None else "")
    if explicit and (req is None or explicit != req.number):
        req = Request.get_or_none(Request.number == explicit)      # a number written after 查询 wins
    elif req is None and typed:
        req = Request.get_or_none(Request.number == typed)
    if req is None and not typed:
        leader = jb_views.is_leader(app, sender) if app.cfg.leaders else ""
        if leader:
            return _leader_query(app, pipeline, leader)
        unit = d.unit_of(sender)
        staff = d.is_staff(sender)
        # the 交办 the sender's unit leads or helps with: a unit (or a 科室 named as a person) sees its own
        assigned = unit_matters(app, sender) if app.cfg.leaders and not staff else []
        if unit is not None or staff or assigned:
            qingshi = unit is not None or staff         # a 科室 without a unit sends no 请示: none to list
            rows = open_requests(app, unit.id if unit is not None else None) if qingshi else []
            who = unit.name if unit is not None else "各单位" if staff else d.name_of(sender)
            if not assigned:
                pipeline.note(f"查询{who}在办请示（{len(rows)}件）", "query")
                return pipeline.answer("status_list", {"unit_name": who, "requests": rows},
                                       action=f"答复查询（{who}在办请示）")
            listed = (f"在办请示{len(rows)}件、" if qingshi else "") + f"承办协办交办事项{len(assigned)}件"
            pipeline.note(f"查询{who}{listed}", "query")
            return pipeline.answer("status_list", {"unit_name": who, "requests": rows, "matters": assigned,
                                                   "qingshi": qingshi},
                                   action=f"答复查询（{who}{'在办请示、' if qingshi else ''}交办事项）")
    number = typed or (req.number if req is not None else "") or "（未写编号）"
    jiaoban = req.kind == JIAOBAN if req is not None else bool(
        flows.number_pattern(app.cfg.jiaoban.number_format).fullmatch(number))
    if req is None or not (jb_views.may_see(app, req, sender) if jiaoban else may_see(app, req, sender)):
        # recorded on the request for the office, but the answer is not tied to it
        what = "交办事项" if jiaoban else "请示"
        pipeline.note(f"查询{number}：无此{what}或发件人无权查看，未告知任何情况", "query", req, ignored=True)
        extra = {"noun": "交办事项"} if jiaoban else {}
        return pipeline.answer("query_denied", {"number": number, **extra}, action="答复查询（无结果）")
    if jiaoban:
        return _jiaoban_status(app, pipeline, req)
    holder, since = holder_and_since(app, req)
    pipeline.note("查询办理情况", "query", req)
    staff = d.is_staff(sender)
    opinions = [{"at": o.at, "name": o.name, "decision": o.decision, "text": o.text}
                for o in Opinion.select().where(Opinion.request == req).order_by(Opinion.at, Opinion.id)]
    rows = mail_rows(app, req, with_ignored=staff)
    if not staff and not on_route(app, req, sender):
        # the requesting unit sees its own correspondence with the office, not internal reminders and alerts
        unit = d.unit_of(sender)
        mine = lambda a: a == req.sender or (unit is not None and d.unit_of(a) == unit)  # noqa: E731
        rows = [r for r in rows if any(mine(a) for a in r["address"].split("、"))]
    outbox.queue(app.cfg, "status", [sender], {"req": req, "form": views.form_data(app, req), "mail": mail,
                 "state_label": flows.label(req), "holder": holder, "since": since, "opinions": opinions,
                 "mails": rows}, request=req,
                 reply_to_mail=(mail.message_id, list(mail.references)), action="答复查询")
    # a code of its own (outbox.queue makes one): a status mail is no notification a decision may answer


def _jiaoban_status(app: App, pipeline, req: Request) -> None:
    """查询 of a 交办 by someone who may see it: its state, holder, 时限, rounds, 进展 and record. Units see the
    mail they sent and got; the leader, the office and the head all of it."""
    mail = pipeline.mail
    sender = mail.from_addr
    d = app.directory
    pipeline.note("查询办理情况", "query", req)
    staff = d.is_staff(sender)
    rows = mail_rows(app, req, with_ignored=staff)
    if not staff and not jb_views.is_leader(app, sender):
        unit = d.unit_of(sender)
        me = set(d.principals_for(sender))
        mine = lambda a: a in me or (unit is not None and d.unit_of(a) == unit)  # noqa: E731
        rows = [r for r in rows if any(mine(a) for a in r["address"].split("、"))]
    outbox.queue(app.cfg, "jb_status", [sender], {**jb_views.status_ctx(app, req, rows), "mail": mail},
                 request=req, reply_to_mail=(mail.message_id, list(mail.references)), action="答复查询")


def _leader_query(app: App, pipeline, leader: str) -> None:
    """查询 without a number from a leader (or the delegate): the open 交办 the leader assigned."""
    rows = jb_views.open_list_rows(app, jb_views.open_of_leader(app, leader))
    name = app.directory.name_of(leader)
    pipeline.note(f"查询{name}交办在办事项（{len(rows)}件）", "query")
    return pipeline.answer("jb_status", {"listing": True, "leader_name": name, "matters": rows},
                           action=f"答复查询（{name}交办在办事项）")


# -- command line views --------------------------------------------------------------------------

# what a line of the list needs, without the bodies, findings and attachments of years of requests
_LIST_COLUMNS = (Request.id, Request.number, Request.state, Request.unit_name, Request.title, Request.received_at,
                 Request.state_since, Request.execute, Request.kind, Request.unit_id, Request.sender)


def list_lines(app: App, pending: bool = False, kind: str = "all", overdue: bool = False, unit: str = "",
               leader: str = "") -> list[str]:
    """One line a request, oldest first: a 请示's as ever, a 交办's (SPEC §6.11) with its leader, lead unit and
    time left. `kind` 请示, 交办 or all; `overdue`: past their deadline and not done; `unit`: of that unit (the
    lead or a co-unit of a 交办); `leader`: 交办 of that leader only."""
    q = Request.select(*_LIST_COLUMNS).order_by(Request.received_at)
    if pending or overdue:
        q = q.where(Request.state.in_(flows.unfinished_states()))
    if kind == JIAOBAN or leader:
        q = q.where(Request.kind == JIAOBAN)
    elif kind != "all":
        q = q.where((Request.kind != JIAOBAN) | Request.kind.is_null())
    reqs = list(q)
    now = clock.now()
    jb = {m.req.id: m for m in jb_views.load([r for r in reqs if r.kind == JIAOBAN])}
    d = app.directory
    who = lambda token: (d.resolve(token).address if d.resolve(token) else token).lower()  # noqa: E731
    unit_addr, leader_addr = who(unit) if unit else "", who(leader) if leader else ""
    unit_of = d.unit_of(unit_addr) if unit else None
    active = active_steps([r for r in reqs if r.kind != JIAOBAN])
    lines = []
    for req in reqs:
        m = jb.get(req.id)
        if m is not None:
            t = m.task
            if leader and t.leader != leader_addr:
                continue
            if unit and not any(a == unit_addr or (unit_of is not None and d.unit_of(a) == unit_of)
                                for a in (t.lead, *(t.co_units or []))):
                continue
            if overdue and not (req.state in jb_views.RUNNING and t.deadline_at and t.deadline_at < now):
                continue
            lines.append(jb_views.list_line(app, m, now))
            continue
        if req.kind == JIAOBAN:
            continue
        if unit and not ((unit_of is not None and req.unit_id == unit_of.id) or req.unit_name == unit
                         or req.sender == unit_addr):
            continue
        if overdue and not (req.deadline and now.astimezone(app.tz).date() > req.deadline):
            continue
        holder, since = holder_and_since(app, req, active.get(req.id))
        since_s = since.astimezone(app.tz).strftime("%Y-%m-%d %H:%M") if since else "-"
        lines.append("\t".join((req.number, flows.label(req), req.unit_name, req.title, holder or "-", since_s)))
    return lines


def show_text(app: App, req: Request) -> str:
    if req.kind == JIAOBAN:
        return jb_views.show_text(app, req, mail_rows(app, req))
    tz = app.tz
    fmt = lambda t: t.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t else "-"  # noqa: E731
    d = app.directory
    out = [f"{req.number}  {req.title}", f"  单位：{req.unit_name} <{req.sender}>",
           f"  收文：{fmt(req.received_at)}    状态：{flows.label(req)}（自{fmt(req.state_since)}）",
           f"  紧急程度：{req.urgency or '普通'}    时限：{req.deadline or '-'}",
           f"  附件：{'、'.join(a['name'] for a in req.attachments) or '无'}"]
    if req.findings:
        out.append("  格式审查：")
        out += [f"    [{f['severity']}] {f['message']}" for f in req.findings]
    out += [f"  拟办意见：{req.proposal or '-'}（{req.proposal_by or '-'}）", f"  流程：{req.route or '-'}",
            f"  执行：{'、'.join(d.name_of(a) for a in req.execute) or '-'}    "
            f"抄送：{'、'.join(d.name_of(a) for a in req.copies) or '-'}"]
    out.append("  审批环节：")
    for s in Step.select().where((Step.request == req) & (Step.kind != REPORT)).order_by(Step.position):
        kind = {"all": "会签", "any": "或签"}.get(s.kind, "")
        names = "、".join(d.name_of(a) for a in s.approvers)
        out.append(f"    {s.position}. {names} {kind} — {STEP_LABELS.get(s.state, s.state)}"
                   + (f"，催办{s.reminders}次" if s.reminders else "") + (f"，外出：{s.away_note}" if s.away_note else ""))
    out.append("  意见：")
    for o in Opinion.select().where(Opinion.request == req).order_by(Opinion.at, Opinion.id):
        out.append(f"    {fmt(o.at)} {o.name}：{_said(o)}")
    if req.done_report:
        out.append(f"  办结回告：{req.done_report}")
    out.append("  收发记录：")
    for m in mail_rows(app, req):
        out.append(f"    {fmt(m['at'])} {m['direction']} {m['who']} <{m['address']}> | {m['subject']} | {m['action']}"
                   f" | <{m['message_id']}>")
    return "\n".join(out)


def dump_eml(app: App, req: Request, folder: Path) -> list[Path]:
    """Every archived mail of the request as .eml files (incoming from the archive, outgoing from the outbox)."""
    from daemon.models import Outbox
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    mails = list(Mail.select().where(Mail.request == req).order_by(Mail.at, Mail.id))
    boxes = {r.mail_id: r for r in Outbox.select().join(Mail).where(Mail.request == req)}
    stored = mailstore.messages(boxes.values())
    for n, m in enumerate(mails, 1):
        data = None
        if m.direction == "in" and m.archive:
            try:
                data = (app.archive_root() / m.archive).read_bytes()
            except OSError:
                data = None
        elif m.direction == "out" and m.id in boxes:
            data = stored[boxes[m.id].id]
        if data is None:
            continue
        path = folder / f"{n:03d}-{'收' if m.direction == 'in' else '发'}-{m.kind}.eml"
        path.write_bytes(data)
        written.append(path)
    return written


REGISTER_HEAD = ["收文编号", "收文时间", "来文单位", "来文邮箱", "标题", "紧急程度", "时限", "状态", "结果", "拟办意见",
                 "执行部门", "抄送"]
REGISTER_TAIL = ["办结时间", "办结情况", "用时（工作时间）", "用时（工作小时）"]
STEP_COLUMNS = ("审批人", "决定", "意见", "时间")


def _said(o: Opinion) -> str:
    """An opinion as the form writes it: the person's own words, or the decision and what they added."""
    from daemon.docform import OpinionView
    return OpinionView(o.name, o.decision, o.text, o.at).display


def _cell(value: str) -> str:
    """A text cell Excel shows as text: a leading = + - @ would otherwise be run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def register_steps(app: App, req: Request, steps: list[Step], opinions: list[Opinion]) -> list[dict]:
    """Each step of the register: who decided (or holds it), the decision, every opinion with name, the time."""
    d = app.directory
    fmt = lambda t: t.astimezone(app.tz).strftime("%Y-%m-%d %H:%M") if t else ""  # noqa: E731
    by_step: dict[int, list[Opinion]] = {}
    for o in opinions:
        if o.step_id:
            by_step.setdefault(o.step_id, []).append(o)
    out = []
    for s in steps:
        said = by_step.get(s.id, [])
        if (s.state == "cancelled" and not said) or s.kind == REPORT:
            continue
        if s.kind == "any" and s.decided_by:
            who = d.name_of(s.decided_by)
        else:
            who = ("、" if s.kind == "all" else "/").join(d.name_of(a) for a in s.approvers)
        texts = "；".join(f"{o.name}：{_said(o)}" for o in said)
        at = s.decided_at or (said[-1].at if said else None)
        out.append({"approver": who, "decision": STEP_LABELS.get(s.state, s.state), "opinion": texts,
                    "at": fmt(at)})
    return out


def export_csv(app: App, path: Path, since: date | None = None, until: date | None = None,
               kind: str = "请示") -> int:
    """The register (收文登记簿): one line per request received in [since, until], UTF-8 with BOM for Excel;
    with kind 交办, the 交办台账 (SPEC §6.11) instead."""
    q = Request.select().order_by(Request.received_at, Request.id)
    if since:
        q = q.where(Request.received_at >= datetime.combine(since, time(0), tzinfo=app.tz))
    if until:
        q = q.where(Request.received_at < datetime.combine(until + timedelta(days=1), time(0), tzinfo=app.tz))
    if kind == JIAOBAN:
        return jb_views.export_csv(app, path, list(q.where(Request.kind == JIAOBAN)), _cell)
    q = q.where((Request.kind != JIAOBAN) | Request.kind.is_null())
    reqs = list(q)
    ids = [r.id for r in reqs]
    steps: dict[int, list[Step]] = {}
    opinions: dict[int, list[Opinion]] = {}
    for chunk in limits.chunks(ids):
        for s in Step.select().where(Step.request.in_(chunk)).order_by(Step.position):
            steps.setdefault(s.request_id, []).append(s)
        for o in Opinion.select().where(Opinion.request.in_(chunk)).order_by(Opinion.at, Opinion.id):
            opinions.setdefault(o.request_id, []).append(o)
    d = app.directory
    fmt = lambda t: t.astimezone(app.tz).strftime("%Y-%m-%d %H:%M") if t else ""  # noqa: E731
    rows = []
    for r in reqs:
        chain = register_steps(app, r, steps.get(r.id, []), opinions.get(r.id, []))
        end = r.closed_at or clock.now()
        worked = app.calendar.working_time_between(r.received_at, end)
        head = [r.number, fmt(r.received_at), r.unit_name, r.sender, r.title, r.urgency or "普通",
                r.deadline.isoformat() if r.deadline else "", flows.label(r), r.result, r.proposal,
                "、".join(d.name_of(a) for a in r.execute or []), "、".join(d.name_of(a) for a in r.copies or [])]
        cells = [x for s in chain for x in (s["approver"], s["decision"], s["opinion"], s["at"])]
        tail = [fmt(r.closed_at) if r.state == DONE else "", r.done_report,
                app.calendar.format_waited(r.received_at, end), f"{max(worked.total_seconds(), 0) / 3600:.1f}"]
        rows.append((head, cells, tail))
    width = max((len(c) for _, c, _ in rows), default=0) // len(STEP_COLUMNS)
    header = REGISTER_HEAD + [f"第{n}环节{c}" for n in range(1, width + 1) for c in STEP_COLUMNS] + REGISTER_TAIL
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for head, cells, tail in rows:
            cells = cells + [""] * (width * len(STEP_COLUMNS) - len(cells))
            w.writerow([_cell(str(x)) for x in (*head, *cells, *tail)])
    return len(reqs)




@dataclass(frozen=True)
class Pruned:
    requests: int       # closed requests whose stored mail is (or would be) removed
    mails: int          # stored copies of sent mail
    attachments: int    # attachments stored once that no other stored mail refers to
    size: int           # their bytes, all together


def keep_before(app: App) -> date | None:
    """The first day whose closed requests `[archive] keep` still keeps (today in the office less keep); None when
    everything is kept."""
    from daemon.config import retention
    keep = retention(app.cfg.archive.keep) if app.cfg.archive.keep else None
    if keep is None:
        return None
    n, unit = keep
    today = clock.now().astimezone(app.tz).date()
    if unit == "y":
        leap_day = (today.month, today.day) == (2, 29)
        return today.replace(year=today.year - n, day=28 if leap_day else today.day)
    return today - timedelta(days=n * (7 if unit == "w" else 1))


def _finished() -> tuple[str, ...]:
    """The states of every kind of work in which a request is finished (closed, rejected, withdrawn …)."""
    unfinished = set(flows.unfinished_states())
    return tuple(dict.fromkeys(s for f in flows.FLOWS.values() for s in f.states if s not in unfinished))


def _closed_before(cutoff: datetime):
    return Request.select(Request.id).where(Request.state.in_(_finished()) & (Request.closed_at < cutoff))


def prune(app: App, before: date, apply: bool = False) -> Pruned:
    """Stored copies of sent mail of requests closed before `before` (local date): counted, removed if `apply`,
    with the attachments and packs no stored mail left refers to.

    Only mail already sent goes; mail still queued or failed stays whatever its request, and so does an attachment
    another stored mail still carries. The register, the opinions and every 收发记录 line stay, and so do the raw
    incoming mails in the archive.
    """
    from daemon.models import Outbox
    closed = _closed_before(datetime.combine(before, time(0), tzinfo=app.tz))
    with db.atomic():
        rows = (Outbox.select(Outbox.id, Mail.request).join(Mail)
                .where((Outbox.state == "sent") & Mail.request.in_(closed)))
        ids, requests = [], set()
        for box_id, request_id in rows.tuples().iterator():
            ids.append(box_id)
            requests.add(request_id)
        size, blobs, packs = mailstore.held(ids)
        blobs, chunks, packs = mailstore.freed(blobs, packs, without=ids)
        if apply:
            mailstore.drop(ids, [*blobs, *chunks], packs)
    return Pruned(len(requests), len(ids), len(blobs),
                  size + sum(blobs.values()) + sum(chunks.values()) + sum(packs.values()))


PACK_REQUESTS = 50      # closed requests packed in one transaction at most


def compact(app: App, limit: int | None = None) -> tuple[int, int, bool]:
    """The stored sent mail of closed requests, at most `limit` of them, compressed together into packs, up to
    PACK_REQUESTS requests a transaction: the mail of many requests, which say much the same, compresses to a
    fraction of what each request's alone does. Mail sent after a request was packed goes into a later pack with
    that day's. Returns the requests packed, the bytes saved, and whether more may be waiting."""
    from daemon.models import Outbox
    closed = Request.select(Request.id).where(Request.state.in_(_finished()))
    unpacked = (Outbox.state == "sent") & mailstore.not_packed()
    done = saved = 0
    while limit is None or done < limit:
        batch = PACK_REQUESTS if limit is None else min(PACK_REQUESTS, limit - done)
        pending = [r for (r,) in Outbox.select(Mail.request).join(Mail).where(unpacked & Mail.request.in_(closed))
                   .distinct().limit(batch).tuples()]
        if not pending:
            return done, saved, False
        try:
            with db.atomic():
                ids = [i for (i,) in Outbox.select(Outbox.id).join(Mail).where(
                    unpacked & Mail.request.in_(pending)).order_by(Outbox.id).tuples()]
                saved += mailstore.pack(ids)
        except (LookupError, pw.IntegrityError):
            return done, saved, True    # another daemon packed or pruned some of them meanwhile: next round
        done += len(pending)
    return done, saved, True

"""A new 交办 (SPEC §6.2 steps 1–2): which mail is one, registration, the receipt to the leader and the
核定单 to office staff; 代登记; the refusals of §6.9 for mail that may not 交办.

Runs inside intake's transaction; nothing here talks to IMAP or SMTP.
"""

from __future__ import annotations

import logging
import re

from daemon import clock, outbox
from daemon.jiaoban import VERIFY, core, elements
from daemon.jiaoban.elements import is_head_line
from daemon.mime import strip_subject_prefixes
from daemon.replies import new_text

log = logging.getLogger("officeflow.jiaoban")
_URGENCY_MARK = re.compile(r"^\s*[【\[（(〔]\s*(?:特急|加急|急件|紧急)\s*[】\]）)〕]")   # 【特急】交办：…


def claims(app, mail) -> bool:
    """The mail is a 交办 by its form (subject or first line), and some person is a leader: the flow takes it,
    and register() registers it or refuses it (a unit, a person who is no leader, 代登记 without 交办领导).
    A unit's 关于落实交办事项的请示 merely contains the word: it stays a 请示."""
    if _URGENCY_MARK.sub("", strip_subject_prefixes(mail.subject)).lstrip().startswith("交办"):
        return True
    for line in new_text(mail).split("\n"):
        if line.strip():
            return is_head_line(line)
    return False


def leader_of(app, sender: str) -> str:
    """The leader `sender` is, or acts for as delegate; ""."""
    leaders = [p.email for p in app.cfg.leaders]
    for address in app.directory.principals_for(sender):
        if address in leaders:
            return address
    return ""


def register(app, incoming):
    """Register the 交办, or refuse it as §6.9 says. Returns the Request, or None when not registered."""
    mail = incoming.mail
    d = app.directory
    sender = mail.from_addr
    own = new_text(mail)
    fields, _ = elements.split_text(own)
    leader, source, text = leader_of(app, sender), "邮件", own
    if not leader and d.is_staff(sender):
        # 代登记: a 交办领导： line, or the leader in the header of the forwarded mail
        written_from, fwd_body, _ = elements.forwarded(mail.text)
        named = "\n".join(fields.get("交办领导", [])).strip()
        if named:
            party = d.resolve(named)
            leader = party.address if party is not None and party.address in [p.email for p in app.cfg.leaders] else ""
            if not leader:
                return _need_leader(app, incoming, f"“交办领导：{named}”所写的不是可交办的领导")
        elif written_from:
            leader = leader_of(app, elements.sender_named(written_from, d))
        if not leader:
            return _need_leader(app, incoming, "未写明交办领导")
        source = "\n".join(fields.get("来源", [])).strip() or ("邮件" if written_from and not named else "代登记")
        if fwd_body:
            # the leader's own words are the forwarded mail's; the staff member's element lines still count
            lines = [f"{k}：{v}" for k, vs in fields.items() for v in vs]
            text = "\n".join([fwd_body, *lines])
    elif not leader:
        if d.is_known(sender):
            return _not_leader(app, incoming)
        return _record(incoming, "发件人不在名单中，不是交办，未登记，未答复", "stranger")
    return _register(app, incoming, leader, source, text)


def _register(app, incoming, leader: str, source: str, text: str):
    mail = incoming.mail
    d = app.directory
    sender = mail.from_addr
    received = incoming.record.at or clock.now()
    proposed = elements.propose(text, mail.subject, received.astimezone(app.tz), d, app.calendar)
    if source == "邮件" and sender == leader and proposed.source:
        source = proposed.source
    _, _, material = elements.forwarded(mail.text)
    by = sender if sender != leader else ""
    req, task = core.create(
        app, leader=leader, by=sender, mail=mail, content=proposed.content, requirements=proposed.requirements,
        source=source, urgency=proposed.urgency, deadline_text=proposed.deadline_text,
        deadline_at=proposed.deadline_at, lead=proposed.lead, co_units=proposed.co_units,
        proposed={**proposed.as_dict(), "own_text": text, "material": material},
        attachments=[{"name": a.filename, "content_type": a.content_type, "size": len(a.data),
                      "source": incoming.archive, "index": i} for i, a in enumerate(mail.attachments)])
    if not by:
        how = f"{d.name_of(leader)}交办"
    elif d.is_staff(by):
        how = f"由{d.name_of(by)}代为登记（来源：{source}）"
    else:
        how = f"由{d.name_of(by)}代为交办"
    core.record(req, sender, d.name_of(sender), "登记", how)
    incoming.record.request = req
    incoming.record.action = f"登记为{req.number}（交办，{how}）"
    incoming.record.kind = "request"
    incoming.record.save()
    extra = {"proposed": proposed, "how": how, "by_name": d.name_of(by) if by else "", "text": text,
             "material": material}
    core.send(app, "jb_receipt", [leader], req, cc=[by] if by else [], action="交办回执",
              reply_to_mail=(mail.message_id, list(mail.references)) if sender == leader else None, **extra)
    send_verify(app, req, task, reason="new", **extra)
    return req


def send_verify(app, req, task=None, reason: str = "new", **extra):
    """The 核定单 to office staff, with a VERIFY step of its own: 派发 / 询问 / 作废 answer it."""
    from daemon import views
    task = task or core.task_of(req)
    step = core.open_step(req, VERIFY, list(app.cfg.office.staff), task.round)
    if "proposed" not in extra:
        extra["proposed"] = elements.Elements.from_dict(task.proposed)
    extra.setdefault("text", (task.proposed or {}).get("own_text", req.body))
    extra.setdefault("material", (task.proposed or {}).get("material", ""))
    extra.setdefault("how", "")
    core.send(app, "jb_verify", list(app.cfg.office.staff), req, step=step, action="送办公室核定",
              attachments=views.original_attachments(app, req), reason=reason, units=elements.unit_list(app.cfg),
              **extra)
    return step


def _record(incoming, action: str, kind: str) -> None:
    r = incoming.record
    r.action, r.kind, r.ignored = action, kind, True
    r.save()
    log.info("- 交办 from %s: %s", incoming.mail.from_addr or "?", action)
    return None


def _answer(app, incoming, template: str, action: str, **extra) -> None:
    mail = incoming.mail
    d = app.directory
    outbox.queue(app.cfg, template, [mail.from_addr],
                 {"req": None, "mail": mail, "sender_name": d.name_of(mail.from_addr), **extra},
                 reply_to_mail=(mail.message_id, list(mail.references)), action=action)


def _not_leader(app, incoming):
    _record(incoming, "交办须由单位领导发出，发件人不是交办领导，未登记", "not_leader")
    _answer(app, incoming, "jb_not_leader", "告知交办须由领导发出")


def _need_leader(app, incoming, why: str):
    _record(incoming, f"代登记交办：{why}，未登记", "not_leader")
    leaders = [p.name for p in app.cfg.leaders]
    _answer(app, incoming, "jb_need_leader", "告知代登记须写明交办领导", why=why, leaders=leaders)

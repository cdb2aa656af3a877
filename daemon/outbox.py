"""Outgoing mail: render a template into a message, queue it in the caller's transaction, send after commit.

Nothing here decides what to send; the workflow does. Sending goes through daemon.smtp.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import socket
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from email.utils import formataddr, format_datetime, parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import peewee as pw

from daemon import clock, mailstore, models
from daemon.compose import compose_split
from daemon.config import Config
from daemon.limits import MAX_HEADER, clip_middle
from daemon.models import Mail, Outbox, Request, Step, db
from daemon.resources import resource_dir

log = logging.getLogger("officeflow.outbox")

TEMPLATES = resource_dir("templates")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
BACKOFF = (60, 300, 900, 3600, 3 * 3600, 6 * 3600)      # seconds between attempts after temporary errors
MAX_ATTEMPTS = 12
MAX_ADDRESS = 254       # RFC 5321: a longer address is not one; it gets no mail
_FOLDABLE_ID = 74       # Message-IDs up to this length (with <>, on a line of its own) are written as they are


def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))


@dataclass(frozen=True)
class Attach:
    name: str
    content_type: str
    data: bytes


class Renderer:
    """templates/<name>/{subject.txt, body.txt, body.html}; autoescape on for HTML. The `local` filter turns
    an aware datetime into the time zone this renderer was made for (the office's). A template is read once:
    the templates ship with the package and change only with a new release, so the file is not looked at again
    for every mail (jinja2's auto_reload)."""

    def __init__(self, root: Path = TEMPLATES, tz: str | tzinfo | None = None):
        from daemon.docform import FILTERS
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        loader = jinja2.FileSystemLoader(str(root))
        self.html = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                                       trim_blocks=True, lstrip_blocks=True, auto_reload=False)
        self.text = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.StrictUndefined,
                                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                                       auto_reload=False)
        for env in (self.html, self.text):
            env.filters.update(FILTERS)
            env.filters["local"] = self.local
            env.globals["mailto"] = mailto

    def local(self, value):
        """An aware datetime in this renderer's time zone; anything else as it is."""
        if self.tz is None or not isinstance(value, datetime):
            return value
        return value.astimezone(self.tz)

    def render(self, name: str, ctx: dict) -> tuple[str, str, str]:
        subject = self.text.get_template(f"{name}/subject.txt").render(ctx)
        body = self.text.get_template(f"{name}/body.txt").render(ctx)
        html = self.html.get_template(f"{name}/body.html").render(ctx)
        return " ".join(subject.split()), body, html


@functools.lru_cache(maxsize=8)
def renderer_for(tz: str) -> Renderer:
    """The renderer of the templates for an office in time zone `tz` (an IANA name); made once per zone,
    never changed after, so a config reload with another zone simply gets another one."""
    return Renderer(TEMPLATES, tz)


MAX_MAILTO = 2000      # phone mail apps and some browsers refuse longer mailto: links


def mailto(to: str, subject: str, body: str) -> str:
    """An RFC 6068 mailto: link opening a new mail to `to` with the subject and body filled in (UTF-8,
    percent-encoded); a link too long for a phone raises, so a template cannot ship one that fails."""
    link = (f"mailto:{urllib.parse.quote(to, safe='@')}?subject={urllib.parse.quote(subject, safe='')}"
            f"&body={urllib.parse.quote(body, safe='')}")
    if len(link) > MAX_MAILTO:
        raise ValueError(f"mailto: link of {len(link)} characters, more than {MAX_MAILTO}")
    return link


def _domain(cfg: Config) -> str:
    return cfg.office.address.rpartition("@")[2] or socket.getfqdn()


def queue(cfg: Config, template: str, to: list[str], ctx: dict, *, cc: list[str] = (),
          request: Request | None = None, step: Step | None = None, code: str = "",
          attachments: list[Attach] = (), reply_to_mail: tuple[str, list[str]] | None = None,
          action: str = "") -> Mail:
    """Render and queue one mail inside the current transaction; it leaves after commit (flush)."""
    to = [a for a in dict.fromkeys(a.lower() for a in to if a and len(a) <= MAX_ADDRESS)]
    cc = [a for a in dict.fromkeys(a.lower() for a in cc if a and len(a) <= MAX_ADDRESS) if a not in to]
    if not to and not cc:
        raise ValueError(f"mail {template} has no recipient")
    at = clock.now()
    code = code or new_code()
    ctx = {**ctx, "office": cfg.office, "code": code, "now": at, "tz": cfg.office.timezone}
    subject, body, html = renderer_for(cfg.office.timezone).render(template, ctx)
    name, addr = parseaddr(cfg.smtp.from_addr)
    subject = clip_middle(subject, MAX_HEADER)        # the code and number at its end survive a cut
    message_id = f"of.{at.strftime('%Y%m%d%H%M%S')}.{secrets.token_hex(6)}@{_domain(cfg)}"
    headers = [("From", formataddr((name, addr)) if name else addr),
               ("To", ", ".join(to) if to else "undisclosed-recipients:;")]
    if cc:
        headers.append(("Cc", ", ".join(cc)))
    headers += [("Reply-To", cfg.office.address), ("Subject", subject), ("Date", format_datetime(at.astimezone())),
                ("Message-ID", f"<{message_id}>")]
    if reply_to_mail:
        parent, refs = reply_to_mail
        # an ID too long for one header line is turned into RFC 2047 words by the email package, which no
        # client reads as an ID any more: such IDs are left out
        refs = [r for r in [*refs, parent] if len(r) <= _FOLDABLE_ID][-10:]
        while len(refs) > 1 and sum(len(r) + 3 for r in refs) > MAX_HEADER:
            refs.pop(0)                                   # the oldest go first: threading needs the newest
        if parent in refs:
            headers.append(("In-Reply-To", f"<{parent}>"))
        if refs:
            headers.append(("References", " ".join(f"<{r}>" for r in refs)))
    headers += [("Auto-Submitted", "auto-generated"),     # SPEC §3: our mail is automatic, robots must not answer
                # Exchange/Outlook: no delivery/read receipts to us; out-of-office answers (OOF) are wanted, they
                # are recorded on the step and bring in the delegate
                ("X-Auto-Response-Suppress", "DR, RN, NRN"),
                ("X-Mailer", "officeflow")]
    message = compose_split(headers, body, html, attachments)      # a header it cannot write raises before any row
    mail = Mail.create(direction="out", message_id=message_id, request=request, step=step, kind=template,
                       at=at, sender=addr, rcpts=to + cc, subject=subject, action=action, code=code)
    mailstore.store(mail, cfg.office.address, to + cc, message, next_attempt_at=at)
    return mail


def flush(cfg: Config, limit: int = 200) -> int:
    """Send what is due, one SMTP connection per batch; claims rows so two daemons never send one twice.

    Each message's fate is on disk before the next one goes, so a kill -9 sends at most the message in flight
    again. On PostgreSQL that is a commit per message, on the one database every daemon shares. On SQLite (one
    daemon, on this host) it is a line in a journal beside the database, and the results of the batch are
    committed together at its end: a commit takes SQLite's one write lock, which the thread taking in mail
    holds while it registers one (service.Sender)."""
    from daemon import smtp

    now = clock.now()
    journal = models.sent_journal()
    _requeue_orphans(now, journal)
    due = [r.id for r in Outbox.select(Outbox.id).where((Outbox.state == "queued") & (Outbox.next_attempt_at <= now))
           .order_by(Outbox.id).limit(limit)]
    if not due:
        return 0
    token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    Outbox.update(state="sending", claimed_by=token, claimed_at=now).where(
        Outbox.id.in_(due) & (Outbox.state == "queued")).execute()
    rows = {r.id: r for r in Outbox.select(Outbox, Mail, Request).join(Mail).join(Request, pw.JOIN.LEFT_OUTER)
            .where((Outbox.claimed_by == token) & (Outbox.state == "sending")).order_by(Outbox.id)}
    if not rows:
        return 0
    # what the mail about to go says has happened is on disk first: every commit so far, the other thread's too
    models.sync()
    whole = mailstore.messages(rows.values())
    envelopes = {r.id: mailstore.envelope(r) for r in rows.values()}
    batch = [smtp.Outgoing(key=str(r.id), mail_from=envelopes[r.id][0], rcpts=tuple(envelopes[r.id][1]),
                           data=whole[r.id]) for r in rows.values()]
    sent = 0

    if journal is None:
        def record(res) -> None:
            nonlocal sent
            row = rows[int(res.key)]
            with db.atomic():
                sent += _record_result(row, res)
                # still working on the rest: keep the claim fresh so no other daemon takes it over
                Outbox.update(claimed_at=clock.now()).where(
                    (Outbox.claimed_by == token) & (Outbox.state == "sending")).execute()

        smtp.send_batch(cfg.smtp, batch, on_result=record)
        return sent

    written = _Journal(journal, token)
    results = []

    def note(res) -> None:
        nonlocal sent
        if res.ok:
            try:
                written.add(res.key)        # on disk before the next message goes
            except OSError as e:            # a full disk, say: this one is committed at once instead
                log.error("- cannot write down sent mail in %s (%s); recording outbox row %s at once",
                          journal, e, res.key)
                with db.atomic():
                    sent += _record_result(rows[int(res.key)], res)
                models.sync()
                return
        results.append(res)

    try:
        smtp.send_batch(cfg.smtp, batch, on_result=note)
    finally:
        with db.atomic():
            sent += _record_results(rows, results)
        models.sync()
        written.remove()
    return sent


class _Journal:
    """The outbox rows of one claim that the server accepted, one id a line, each on disk before the next
    message is sent. Read only when the claim is found abandoned (_requeue_orphans)."""

    def __init__(self, root: Path, token: str):
        self.root = root
        self.path = root / token
        self.named = False              # the file's name is on disk (after the first line)

    def add(self, key: str) -> None:
        if not self.named and not self.root.is_dir():
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            models.fsync_path(self.root.parent)     # the folder's name on disk, beside the database
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{key}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        if not self.named:              # the file's name on disk too, not only its lines
            models.fsync_path(self.root)
            self.named = True

    def ids(self) -> set[int]:
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except OSError:
            return set()
        return {int(k) for k in text.split() if k.isdigit()}

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _owner_gone(token: str) -> bool:
    """The claim `token` is of a daemon on this host that is no longer running."""
    owner_host, _, rest = token.partition(":")
    pid = rest.partition(":")[0]
    return owner_host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid))


def _requeue_orphans(now, journal: Path | None = None) -> None:
    """Rows left in 'sending' by a daemon that died: at once when it was on this host, else after a while.
    Those its journal lists had been accepted by the server: they are marked sent, not sent again."""
    accepted: dict[str, set[int]] = {}      # token of an abandoned claim -> the rows its journal lists
    for row in Outbox.select(Outbox.id, Outbox.claimed_by, Outbox.claimed_at, Outbox.attempts).where(
            Outbox.state == "sending"):
        if not (_owner_gone(row.claimed_by)
                or row.claimed_at is not None and row.claimed_at < now - timedelta(minutes=10)):
            continue
        if row.claimed_by not in accepted:
            accepted[row.claimed_by] = _Journal(journal, row.claimed_by).ids() if journal is not None else set()
        if row.id in accepted[row.claimed_by]:
            Outbox.update(state="sent", sent_at=now, attempts=row.attempts + 1).where(
                (Outbox.id == row.id) & (Outbox.state == "sending")).execute()
            log.warning("- outbox row %s was sent by %s before it stopped; not sent again", row.id, row.claimed_by)
        else:
            Outbox.update(state="queued").where((Outbox.id == row.id) & (Outbox.state == "sending")).execute()
            log.warning("- outbox row %s left unsent by %s, queued again", row.id, row.claimed_by)
    if journal is None:
        return
    if accepted:
        models.sync()           # the rows marked sent are on disk before the journal that says so goes
    for token in accepted:
        _Journal(journal, token).remove()
    if journal.is_dir():        # journals of claims recorded whole before their daemon died
        for path in journal.iterdir():
            if _owner_gone(path.name):
                path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _record_results(rows: dict[int, Outbox], results: list) -> int:
    """The fate of a batch of messages, in the caller's transaction: those the server simply took by one
    statement, each other one as _record_result says. Returns the messages sent."""
    plain = [int(res.key) for res in results if res.ok and not res.error]
    if plain:
        Outbox.update(state="sent", sent_at=clock.now(), attempts=Outbox.attempts + 1, last_error="").where(
            Outbox.id.in_(plain)).execute()
        for key in plain:
            _log_sent(rows[key])
    return len(plain) + sum(_record_result(rows[int(res.key)], res) for res in results
                            if not (res.ok and not res.error))


def _log_sent(row: Outbox) -> None:
    log.info("%s sent %s to %s", row.mail.request.number if row.mail.request_id else "-", row.mail.kind,
             ", ".join(row.rcpts))


def _record_result(row: Outbox, res) -> int:
    number = row.mail.request.number if row.mail.request_id else "-"
    if res.held:
        # the server could not be used at all (down, TLS, login): not this mail's fault, no attempt spent;
        # daemon.smtp logged why, once for the batch
        Outbox.update(state="queued", last_error=res.error, next_attempt_at=clock.now() + timedelta(
            seconds=BACKOFF[0])).where(Outbox.id == row.id).execute()
        return 0
    if res.ok:
        Outbox.update(state="sent", sent_at=clock.now(), attempts=row.attempts + 1,
                      last_error=res.error).where(Outbox.id == row.id).execute()
        _log_sent(row)
        return 1
    if res.temporary and row.attempts + 1 < MAX_ATTEMPTS:
        delay = BACKOFF[min(row.attempts, len(BACKOFF) - 1)]
        Outbox.update(state="queued", attempts=row.attempts + 1, last_error=res.error,
                      next_attempt_at=clock.now() + timedelta(seconds=delay)).where(Outbox.id == row.id).execute()
        log.warning("%s %s to %s not sent (%s), retry in %ss", number, row.mail.kind, ", ".join(row.rcpts),
                    res.error, delay)
        return 0
    Outbox.update(state="failed", attempts=row.attempts + 1, last_error=res.error).where(
        Outbox.id == row.id).execute()
    Mail.update(action=f"{row.mail.action}；发送失败：{res.error}".lstrip("；")).where(
        Mail.id == row.mail_id).execute()
    log.error("%s %s to %s failed for good: %s", number, row.mail.kind, ", ".join(row.rcpts), res.error)
    return 0

"""The incoming pipeline: archive → parse → dedupe → loop-guard → classify → identify → authorise → apply.

One transaction per mail: the 收发记录 row, the state change and the mails it causes commit together, and
the caller moves the mail out of the inbox only after that commit. Nothing here talks to IMAP or SMTP.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from dataclasses import dataclass, replace
from datetime import timedelta

import peewee as pw

from daemon import clock, flows, limits, mime, models, outbox, questions, rules, trust, views, workflow
from daemon.app import App
from daemon.models import (ACTIVE, APPROVED, APPROVING, RETURNED, REVIEWING, STATE_LABELS, Mail, Opinion, Prepared,
                           Request, Statement, Step, db)
from daemon.replies import SHAPE_LABELS, Verb, read_reply

log = logging.getLogger("officeflow.intake")

PROCESSED, FAILED, RETRY = "processed", "failed", "retry"
DECISION_VERBS = {Verb.ACCEPT, Verb.RETURN, Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS, Verb.REJECT,
                  Verb.TRANSFER, Verb.ADD_SIGNER, Verb.WITHDRAW, Verb.REMIND, Verb.DONE, Verb.CONFIRM}
_CODE_IN_SUBJECT = re.compile(r"流转码[:：]?\s*([A-Z0-9]{4,8})")
_QUERY_FIRST_LINE = re.compile(r"^\s*查询")


def archive(app: App, raw: bytes, digest: str) -> str:
    """Store the raw mail untouched under archive/YYYY/MM/<sha256>.eml (`digest`: its sha256, hex); idempotent;
    returns the relative path."""
    local = clock.now().astimezone(app.tz)
    rel = f"{local:%Y}/{local:%m}/{digest[:40]}.eml"
    path = app.archive_root() / rel
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        models.fsync_path(path.parent)      # its name on disk too, before the mail leaves the inbox
    return rel


ANSWERS = ("not_understood", "not_entitled", "refused", "refused_action", "late", "unmatched", "classified",
           "query_denied", "status_list", "status", "unverified", "ambiguous", "flood_notice",
           "not_request")
MAX_ANSWERS_A_DAY = 20     # to one address about nothing it holds (strangers, forged senders): no backscatter
MAX_QUESTIONS_A_STEP = 3   # to one person about a step (or review, 办结) they hold: a leader may handle forty a day
MAX_ATTEMPTS = 3      # a mail whose processing killed the daemon this often goes to the failed folder
LOOP_SECONDS = 60                  # an answer this soon after our mail, adding nothing, is a robot's echo
LOOP_COUNT = 3                     # this many echoes from one sender within LOOP_WINDOW are a loop: no answer
LOOP_WINDOW = timedelta(hours=1)
ECHO_MARK = "（疑为自动回复：仅引用本系统邮件，无新内容）"
MAX_ID = limits.MAX_ID_LENGTH   # longer Message-IDs (seen in broken or hostile mail) are replaced by a digest


def handle(app: App, raw: bytes) -> str:
    """Process one raw mail; returns PROCESSED or FAILED (the folder it belongs in), or RETRY (leave it in the
    inbox: the database refused it this time; after MAX_ATTEMPTS tries it goes to FAILED)."""
    digest = hashlib.sha256(raw).hexdigest()
    rel = archive(app, raw, digest)
    digest_id = "officeflow-" + digest[:32]
    try:
        mail = mime.parse(raw)
    except mime.MailParseError as e:
        _record_failure(digest_id, rel, f"无法解析：{e}")
        log.warning("- unreadable mail %s moved to failed: %s", rel, e)
        return FAILED
    if len(mail.message_id) > MAX_ID:
        mail = replace(mail, message_id=digest_id)
    attempts = _Attempts(app, digest_id)
    tried = attempts.count()
    if tried >= MAX_ATTEMPTS:
        why = attempts.reason() or f"处理时进程{MAX_ATTEMPTS}次中断"
        _record_failure(mail.message_id, rel, f"{why}，已尝试{MAX_ATTEMPTS}次，停止重试", mail)
        attempts.clear()
        log.error("- mail %s from %s failed %d times (%s), moved to failed", mail.message_id,
                  mail.from_addr, MAX_ATTEMPTS, why)
        return FAILED
    attempts.begin(tried)
    try:
        outcome = _handle(app, mail, rel, digest_id)
    except (pw.OperationalError, pw.InterfaceError) as e:
        if is_outage(e):
            attempts.undo()     # the database is away, not the mail at fault: it does not count
            raise
        attempts.note(f"处理出错：{type(e).__name__}: {str(e)[:300]}")
        log.warning("- mail %s from %s refused by the database (%s), try %d of %d", mail.message_id,
                    mail.from_addr, e, attempts.count(), MAX_ATTEMPTS)
        return RETRY
    attempts.clear()
    return outcome


def is_outage(e: Exception) -> bool:
    """Whether a database error means the database is away (a lost connection, a busy lock) rather than
    something the mail's data caused (too many SQL variables, a value out of range): only the first is an
    outage; the second is the mail's fault and counts towards MAX_ATTEMPTS."""
    if isinstance(e, pw.InterfaceError):
        return True
    orig = e.args[0] if e.args and isinstance(e.args[0], BaseException) else (e.__cause__ or e.__context__)
    pgcode = getattr(orig, "pgcode", "no pgcode")
    if pgcode != "no pgcode":       # psycopg2: no SQLSTATE or a connection class is a lost connection
        return pgcode is None or pgcode.startswith(("08", "57P", "53"))
    text = str(e).lower()
    if any(w in text for w in ("locked", "busy", "disk i/o", "unable to open", "readonly", "disk is full")):
        return True
    try:
        db.execute_sql("SELECT 1")
    except (pw.OperationalError, pw.InterfaceError):
        return True
    return False


def _same_bytes(row: Mail, rel: str) -> bool:
    """The recorded mail was archived from the very bytes archived at `rel` (the file name is their digest)."""
    return not row.archive or row.archive.rsplit("/", 1)[-1] == rel.rsplit("/", 1)[-1]


# the mail recorded under a Message-ID (one at most: the index on direction and message_id is unique)
_mail_in = Prepared(Mail, lambda direction, message_id: Mail.select().where(
    (Mail.direction == direction) & (Mail.message_id == message_id)))


@functools.lru_cache(maxsize=8)
def _in_brackets(pattern: re.Pattern) -> re.Pattern:
    """A number of `pattern` in 【】, as our subjects write it."""
    return re.compile(f"【({pattern.pattern})】")


# the requests registered from an address since a time (as the database holds it), asked for every new request
_registered_since = Statement(lambda sender, since: Request.select(pw.fn.COUNT(Request.id)).where(
    (Request.sender == sender) & (Request.received_at >= pw.Value(since, converter=False))))


def _handle(app: App, mail, rel: str, digest_id: str) -> str:
    check = None
    if not mail.auto:
        # the format check reads attachments (and may run LibreOffice): outside the transaction, so the
        # registration counter is not held while it runs
        try:
            check = format_check(app, mail)
        except Exception:  # noqa: BLE001 - a check that breaks must not lose the request
            log.exception("- format check of %s failed", mail.message_id)
        check = _unread_parts(mail, check)
    try:
        with db.atomic():
            seen = next(iter(_mail_in("in", mail.message_id)), None)
            if seen is not None and not _same_bytes(seen, rel):
                # another mail under a Message-ID already taken (a careless or hostile sender): only the same
                # bytes are a duplicate, so this one is recorded under its digest and processed like any other
                log.warning("- mail from %s reuses the Message-ID %s of another mail; recorded as %s",
                            mail.from_addr, mail.message_id, digest_id)
                mail = replace(mail, message_id=digest_id)
                seen = Mail.get_or_none((Mail.direction == "in") & (Mail.message_id == digest_id))
            if seen is not None and seen.kind == "failed":
                seen.delete_instance()       # moved back from the failed folder by an admin: try again
            elif seen is not None:
                log.info("- mail %s seen before, not processed again", mail.message_id)
                return PROCESSED
            record = Mail.create(direction="in", message_id=mail.message_id, at=clock.now(),
                                 sender=mail.from_addr, rcpts=list(mail.to + mail.cc),
                                 subject=limits.clip(mail.subject, limits.MAX_STORED_SUBJECT),
                                 archive=rel, kind="mail")
            Pipeline(app, mail, record, rel, check).run()
    except pw.IntegrityError as e:
        taken = Mail.get_or_none((Mail.direction == "in") & (Mail.message_id == mail.message_id))
        if taken is not None and _same_bytes(taken, rel):
            log.info("- mail %s taken by another daemon", mail.message_id)
            return PROCESSED
        if taken is not None and mail.message_id != digest_id:
            return _handle(app, replace(mail, message_id=digest_id), rel, digest_id)
        log.exception("- mail %s from %s failed: %s", mail.message_id, mail.from_addr, e)
        _record_failure(mail.message_id, rel, f"处理出错：{type(e).__name__}: {e}", mail)
        return FAILED
    except (pw.OperationalError, pw.InterfaceError):
        raise       # the database is away, not the mail at fault: it stays in the inbox for the next try
    except Exception as e:  # a bug or a value the database refuses must not lose the mail: keep it, record it
        log.exception("- mail %s from %s failed: %s", mail.message_id, mail.from_addr, e)
        _record_failure(mail.message_id, rel, f"处理出错：{type(e).__name__}: {e}", mail)
        return FAILED
    return PROCESSED


def format_check(app: App, mail):
    """The 请示 format check of a mail, against today's date in the office."""
    from daemon import checks
    today = clock.now().astimezone(app.tz).date()
    return checks.check(mail.subject, mail.text, [(a.filename, a.data) for a in mail.attachments], today,
                        app.cfg.checks)


def readable(text: str) -> bool:
    """Whether a text holds something a person wrote: some letters or characters, little decoding debris."""
    text = (text or "").strip()
    if not text:
        return False
    debris = sum(1 for ch in text if ch == "\ufffd" or "\ue000" <= ch <= "\uf8ff")
    return sum(1 for ch in text if ch.isalnum()) >= 2 and debris * 10 < len(text)


def not_a_request(mail, check) -> bool:
    """No title, no readable text and no attachment: nothing that could be a 请示 (random bytes, an empty
    mail). Anything with an attachment or a readable subject or body is registered and reviewed by people."""
    title = check.title if check is not None else None
    return not (mail.attachments or title or readable(mime.strip_subject_prefixes(mail.subject))
                or readable(mail.text))


def _unread_parts(mail, check):
    """The check with a finding added when MIME parts nested beyond mime.MAX_DEPTH (or beyond mime.MAX_PARTS) were
    not read, so that office staff know part of the mail is missing from what they review."""
    if not mail.skipped_parts:
        return check
    from daemon.checks import HINT, Finding
    log.warning("- mail %s from %s: %d MIME parts not read (deeper than %d levels or beyond %d parts)",
                mail.message_id, mail.from_addr, mail.skipped_parts, mime.MAX_DEPTH, mime.MAX_PARTS)
    finding = Finding("structure", HINT, f"邮件结构异常（嵌套超过{mime.MAX_DEPTH}层或部件超过{mime.MAX_PARTS}个），"
                      f"其中{mail.skipped_parts}处内容未读取，审核时请打开原邮件核对",
                      "邮件结构异常时，系统只读取有限的层次和部件", "请来文单位以普通格式（正文加附件）重新发送")
    base = check if check is not None else workflow.no_check()
    return replace(base, findings=(*base.findings, finding))


def _record_failure(message_id: str, rel: str, why: str, mail=None) -> None:
    subject = limits.clip(getattr(mail, "subject", ""), limits.MAX_STORED_SUBJECT)
    with db.atomic():
        if not Mail.select().where((Mail.direction == "in") & (Mail.message_id == message_id)).exists():
            Mail.create(direction="in", message_id=message_id, at=clock.now(), archive=rel, kind="failed",
                        sender=getattr(mail, "from_addr", "")[:200], subject=subject, action=why[:2000],
                        ignored=True)


class _Attempts:
    """A marker file per mail while it is being processed: left behind when the process died on it, or when
    the database refused the mail's data (then with the reason on its second line)."""

    def __init__(self, app: App, key: str):
        self.path = app.archive_root() / ".attempts" / key

    def _read(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8").split("\n", 1)
        except OSError:
            return []

    def count(self) -> int:
        try:
            return int(self._read()[0] or 0)
        except (IndexError, ValueError):
            return 0

    def reason(self) -> str:
        lines = self._read()
        return lines[1].strip() if len(lines) > 1 else ""

    def _write(self, count: int, reason: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{count}\n{reason}" if reason else str(count), encoding="utf-8")

    def begin(self, count: int) -> None:
        """`count`: what count() said just before."""
        self._write(count + 1, self.reason() if count else "")

    def note(self, reason: str) -> None:
        self._write(self.count(), reason)

    def undo(self) -> None:
        count = self.count() - 1
        if count <= 0:
            self.clear()
        else:
            self._write(count, self.reason())

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class Pipeline:
    app: App
    mail: object
    record: Mail
    archive: str
    check: object = None      # the 请示 format check, done before the transaction
    threaded: bool = False    # the request was found from the mail answered (In-Reply-To/References)

    # -- recording --------------------------------------------------------------------------------

    def note(self, action: str, kind: str = "", request: Request | None = None, ignored: bool = False,
             step: Step | None = None) -> None:
        r = self.record
        r.action = action
        r.ignored = ignored
        r.kind = kind or r.kind
        if request is not None:
            r.request = request
        if step is not None:
            r.step = step
        r.save()
        number = request.number if request is not None else "-"
        log.info("%s mail from %s: %s", number, self.mail.from_addr or "?", action)

    def shown(self):
        """The mail as our mails quote it: its subject cut at MAX_TITLE (a megabyte subject is not sent back)."""
        return replace(self.mail, subject=limits.clip(self.mail.subject, limits.MAX_TITLE))

    def answer(self, template: str, ctx: dict, request: Request | None = None, action: str = "",
               cc: list[str] = (), step: Step | None = None, signer: str = "", code: str = "") -> Mail | None:
        """One short mail back to the sender; with `step` and `signer` (for whom the sender may decide on it),
        it carries that signer's code and the form, so that answering it decides as answering the notification
        would; `code` is a code of its own instead (a question's). Nobody else's answer carries a code that
        decides anything. Returns the mail queued, or None when none was sent."""
        if not self.mail.from_addr or self.looping():
            return None
        held = self.held(request, step)
        if held is not None:
            # an entitled person writing about what they hold is always answered, a few times a step a day
            limit, why = MAX_QUESTIONS_A_STEP, f"今日已就该事项答复{MAX_QUESTIONS_A_STEP}次"
            count = self.answered_today(self.mail.from_addr, *held)
        else:
            # a robot without automatic-mail headers, or a forged sender: no endless exchange, no backscatter
            limit, why = MAX_ANSWERS_A_DAY, f"今日已答复{MAX_ANSWERS_A_DAY}次"
            count = self.answered_today(self.mail.from_addr)
        if count >= limit:
            self.record.action += f"（{why}，不再答复）"
            self.record.ignored = True        # unanswered: listed in the digest, never lost silently
            self.record.save()
            log.warning("%s no more answers today to %s", request.number if request is not None else "-",
                        self.mail.from_addr)
            return None
        d = self.app.directory
        known = d.is_known(self.mail.from_addr)
        name = d.name_of(self.mail.from_addr) if known else (self.mail.from_name or self.mail.from_addr)
        answerable = step is not None and bool(signer)
        code = code or (workflow.signer_code(step, signer) if answerable else "")
        if answerable:
            ctx = {"form": views.form_data(self.app, request), "step": step,
                   "step_label": workflow.step_label(self.app, step), **ctx}
        return outbox.queue(self.app.cfg, template, [self.mail.from_addr],
                     {"req": request, "mail": self.shown(), "sender_name": name, "answerable": answerable, **ctx},
                     cc=cc, request=request, step=step if code else None, code=code,
                     reply_to_mail=(self.mail.message_id, list(self.mail.references)), action=action)

    # -- the pipeline -------------------------------------------------------------------------------

    def run(self) -> None:
        app, mail = self.app, self.mail
        cfg = app.cfg
        if mail.auto:
            return self.automatic()
        sender = mail.from_addr
        if not sender and not mail.from_doubt:
            return self.note("无发件人地址，未处理", "ignored", ignored=True)
        if sender == cfg.office.address:
            return self.note("本机发出的邮件，未处理（防止循环）", "ignored", ignored=True)
        if self.check is not None:
            level = self.check.classification      # the subject, body, attachment names and attached documents
        else:
            from daemon.checks import classification_of
            level = classification_of(mail.subject, mail.text, [a.filename for a in mail.attachments])
        if level:
            return self.classified(level)
        req, ref = self.find_request()
        # 同意X意见 counts only when X's opinion on this form is itself an approval
        opinions = {o.name: o.decision for o in Opinion.select(Opinion.name, Opinion.decision)
                    .where(Opinion.request == req).order_by(Opinion.at, Opinion.id)} if req is not None else None
        reply = read_reply(mail, app.lexicon, opinions)
        if mail.from_doubt:
            return self.unknown_sender(req, reply, mail.from_doubt)
        if req is None and (listed := flows.reply_to_collection(self, reply)) is not None:
            req, ref = listed                   # a reply to a mail about several requests (a 交办提醒 list)
            if req is None:
                return                          # none or several: the sender was asked which
        if req is None:
            return self.unrelated(reply)        # nothing there to decide: a new 请示, a 查询, or an answer
        if cfg.security.authserv_id and (reply.verb in DECISION_VERBS or flows.of(req).kind != flows.DEFAULT):
            why = trust.verdict(mail.headers("authentication-results"), cfg.security.authserv_id, sender)
            if why:
                return self.unknown_sender(req, reply, why)
        if reply.verb != Verb.QUERY and not self.asks_query(reply):
            why = self.disagreement(req, ref)
            if why:
                return self.ask_which(req, reply, why)
        return self.about(req, ref, reply)

    def unknown_sender(self, req: Request | None, reply, why: str) -> None:
        """SPEC §3: a sender that cannot be trusted (From not one plain mailbox, or not authenticated by the
        office's server): nothing applied; recorded, told at the real address, office staff alerted."""
        mail, cfg = self.mail, self.app.cfg
        self.note(f"发件人无法确认（{why}），未处理", "forgery", req, ignored=True)
        if req is None and not self.app.directory.is_known(mail.from_addr):
            return      # about no request, from nobody we know (spam names itself so): the digest lists it
        self.answer("unverified", {"reply": reply, "why": why, "sender_name": mail.from_addr}, req,
                    action="告知发件人无法确认，未处理")
        outbox.queue(cfg, "forgery_alert", list(cfg.office.staff), {"req": req, "mail": self.shown(), "reply": reply,
                     "why": why}, request=req, action="发件人无法确认，提醒办公室")

    def subject_number(self) -> str:
        """The request number written in the subject: the one in 【】 first, else the first one."""
        pattern = flows.numbers_pattern(self.app.cfg)
        m = _in_brackets(pattern).search(self.mail.subject) or pattern.search(self.mail.subject)
        return (m.group(1) if m.re is not pattern else m.group(0)) if m else ""

    def disagreement(self, req: Request, ref: Mail | None) -> str:
        """SPEC §3: why the mail answered and the number or code in the subject point at different requests
        or steps; "" when they agree or the subject names none."""
        number = self.subject_number()
        if number and number != req.number:
            return f"所回复的是{req.number}的邮件，主题中写的却是{number}"
        codes = _CODE_IN_SUBJECT.findall(self.mail.subject)
        if not codes:
            return ""
        coded = (Mail.select().where((Mail.direction == "out") & (Mail.code == codes[-1]) & Mail.request.is_null(False))
                 .order_by(Mail.id.desc()).first())
        if coded is None:
            return ""           # no code of ours: the usual checks refuse whatever it asks
        if coded.request_id != req.id:
            return f"所回复的是{req.number}的邮件，主题中的流转码却属于{coded.request.number}"
        if self.threaded and ref is not None and (coded.step_id != ref.step_id or coded.code != ref.code):
            return "主题中的流转码与所回复的邮件不属于同一办理环节或同一审批人"
        return ""

    def ask_which(self, req: Request, reply, why: str) -> None:
        self.note(f"所回复的邮件与主题所指不一致（{why}），未处理", "ambiguous", req, ignored=True)
        self.answer("ambiguous", {"reply": reply, "why": why}, req, action="询问所指的请示")

    def automatic(self) -> None:
        mail = self.mail
        req, ref = self.find_request()
        if mail.auto == "out-of-office" and not mail.from_doubt and flows.away(self, req, ref):
            return                              # a kind of work that records it its own way (交办)
        if mail.auto == "out-of-office" and not mail.from_doubt and req is not None and ref is not None and ref.step_id:
            step = Step.get_or_none(Step.id == ref.step_id)
            if step is not None and step.state == ACTIVE:
                from daemon import chase
                chase.away(self.app, req, step, mail)
                return self.note("自动回复（外出），已记录在审批环节", "auto", req, ignored=True, step=step)
        self.note(f"自动邮件（{mail.auto}），不答复", "auto", req, ignored=True)

    def classified(self, level: str) -> None:
        cfg = self.app.cfg
        self.note(f"标有密级“{level}”，按保密规定不经普通邮件办理，未处理", "classified", ignored=True)
        self.answer("classified", {"level": level}, action="告知涉密文件不经邮件办理")
        outbox.queue(cfg, "classified_alert", [cfg.office.head], {"req": None, "mail": self.shown(), "level": level},
                     action="涉密邮件提醒办公室主任")

    def find_request(self) -> tuple[Request | None, Mail | None]:
        mail = self.mail
        ids = list(dict.fromkeys(i for i in (*mail.in_reply_to, *reversed(mail.references))
                                 if i and len(i) <= limits.MAX_ID_LENGTH))
        if ids:
            # both directions named: the index of mail by (direction, message_id) is used, not a scan of all mail
            found = [m for part in limits.chunks(ids) for m in Mail.select().where(
                Mail.direction.in_(("in", "out")) & Mail.message_id.in_(part) & Mail.request.is_null(False))]
            refs = {m.message_id: m for m in found if m.direction == "out"}
            for i in ids:
                if i in refs:
                    self.threaded = True
                    return refs[i].request, refs[i]
            # a reply to a mail we received (the unit answering its own 请示 with 补充材料): the request,
            # but no notification of ours is being answered
            own = {m.message_id: m for m in found if m.direction == "in"}
            for i in ids:
                if i in own:
                    self.threaded = True
                    return own[i].request, None
        codes = _CODE_IN_SUBJECT.findall(mail.subject)
        number = self.subject_number()
        if number:
            req = Request.get_or_none(Request.number == number)
            if req is not None:
                ref = None
                if codes:
                    ref = (Mail.select().where((Mail.direction == "out") & (Mail.request == req)
                                               & (Mail.code == codes[-1])).order_by(Mail.id.desc()).first())
                return req, ref
        return None, None

    # -- mail that belongs to no request yet ------------------------------------------------------------

    def unrelated(self, reply) -> None:
        app, mail = self.app, self.mail
        d = app.directory
        sender = mail.from_addr
        if reply.verb == Verb.QUERY or self.asks_query(reply):
            return self.query(None, reply)
        unit = d.unit_of(sender)
        flow = flows.claiming(app, mail, unit)
        if flow.kind != flows.DEFAULT:
            # another kind of work (交办) takes the mail, and registers or refuses it itself
            flow.register(app, workflow.Incoming(mail, self.record, self.archive, self.check), unit)
            return
        if d.is_staff(sender) or d.person(sender):
            if unit is None:
                self.note("未关联任何请示，且不是新请示（发件人为办公室或审批人）", "unknown", ignored=True)
                return self.answer("unmatched", {}, action="告知未找到对应请示")
        if unit is None and app.cfg.office.accept_from == "units":
            self.note("发件人不在报文单位名单中，未登记", "stranger", ignored=True)
            return self.answer("refused", {}, action="婉拒非报文单位来件")
        if not_a_request(mail, self.check):
            self.note("来信无标题，正文和附件中也无可读文字，不是请示，未登记", "not_request", ignored=True)
            return self.answer("not_request", {}, action="告知来信不是请示")
        if self.over_hourly_limit(unit):
            return
        self.record.kind = "request"        # saved with the registration's own update of this row
        flow.register(app, workflow.Incoming(mail, self.record, self.archive, self.check), unit)
        if self.record.is_dirty():
            self.record.save()

    # -- mail about a known request -----------------------------------------------------------------

    def about(self, req: Request, ref: Mail | None, reply) -> None:
        """identify → role → look up the decision table → check the code → apply → record (daemon.rules)."""
        flow = flows.of(req)
        if hasattr(flow, "handle"):         # a kind of work that reads its own replies (交办)
            return flow.handle(self, req, ref, reply)
        sender = self.mail.from_addr
        step = workflow.active_step(req) if req.state == APPROVING else None
        act = rules.Act(self, req, ref, reply, step)
        try:
            if rules.apply(act, rules.role_of(self.app.directory, sender, req, step), flows.of(req).table):
                return
        except workflow.Refused as e:
            self.note(f"未处理：{e}", "refused", req, ignored=True)
            # an approver's refused decision: the answer carries their code, so a corrected reply to it decides
            return self.answer("refused_action", {"reason": str(e), "reply": reply}, req, action="说明未处理原因",
                               step=step if act.principal else None, signer=act.principal)
        return self.not_entitled(req, ref, reply)

    # -- a flood of new requests from one sender (its own functions: the answer cap is another matter) ------

    def over_hourly_limit(self, unit) -> bool:
        """More new requests from this sender within the hour than [limits] new_requests_per_hour: the mail is
        recorded (and listed in the digest), not registered; office staff are told once an hour."""
        cfg = self.app.cfg
        limit = cfg.limits.new_requests_per_hour
        sender = self.mail.from_addr
        since = clock.now() - timedelta(hours=1)
        registered = _registered_since.scalar(sender, Request.received_at.db_value(since))
        if registered < limit:
            return False
        self.note(f"一小时内已登记该地址来信{registered}件，超过每小时{limit}件的限额，本件存档未登记", "flood",
                  ignored=True)
        action = f"来信过多提醒：{sender}"
        told = Mail.select().where((Mail.direction == "out") & (Mail.kind == "flood_alert") & (Mail.at >= since)
                                   & (Mail.action == action)).exists()
        if not told:
            outbox.queue(cfg, "flood_alert", list(cfg.office.staff), {
                "req": None, "sender": sender, "unit_name": unit.name if unit else "", "limit": limit},
                action=action)
        # the sender learns once an hour that what it sends now is kept, not registered: nothing waits unseen
        notices = Mail.select(Mail.rcpts).where((Mail.direction == "out") & (Mail.kind == "flood_notice")
                                                & (Mail.at >= since))
        if not any(sender in m.rcpts for m in notices):
            self.answer("flood_notice", {"limit": limit}, action="告知来信过多，暂未登记")
        return True

    # -- a robot answering our mail without saying it is one (no Auto-Submitted) -------------------------

    def echo(self) -> bool:
        """The mail answers, within LOOP_SECONDS, a mail of ours to its sender and adds nothing of its own: what
        a naive auto-responder does. Such a mail is marked in its record (ECHO_MARK) so that loops are counted."""
        from daemon.replies import new_text
        mail = self.mail
        if new_text(mail).strip() or not mail.text.strip():
            return False
        ids = [i for i in (*mail.in_reply_to, *mail.references) if len(i) <= limits.MAX_ID_LENGTH]
        since = clock.now() - timedelta(seconds=LOOP_SECONDS)
        ours = [m for part in limits.chunks(ids) for m in Mail.select(Mail.rcpts).where(
            (Mail.direction == "out") & Mail.message_id.in_(part) & (Mail.at >= since))]
        return any(mail.from_addr in m.rcpts for m in ours)

    def looping(self) -> bool:
        """Whether to stay silent: this mail is an echo, and its sender sent LOOP_COUNT echoes within LOOP_WINDOW.
        Office staff are told once per LOOP_WINDOW; mail with new text from the sender is answered as ever."""
        if not self.echo():
            return False
        self.record.action += ECHO_MARK
        self.record.save()
        sender = self.mail.from_addr
        since = clock.now() - LOOP_WINDOW
        echoes = Mail.select().where((Mail.direction == "in") & (Mail.sender == sender) & (Mail.at >= since)
                                     & Mail.action.contains(ECHO_MARK)).count()
        if echoes < LOOP_COUNT:
            return False
        self.record.action += "，暂停答复"
        self.record.ignored = True          # listed in the digest
        self.record.save()
        log.warning("- %s answers our mail automatically (%d times), not answered", sender, echoes)
        action = f"自动回复往复提醒：{sender}"
        if not Mail.select().where((Mail.direction == "out") & (Mail.kind == "loop_alert") & (Mail.at >= since)
                                   & (Mail.action == action)).exists():
            cfg = self.app.cfg
            outbox.queue(cfg, "loop_alert", list(cfg.office.staff),
                         {"req": None, "mail": self.shown(), "sender": sender, "count": echoes}, action=action)
        return True

    def query(self, req: Request | None, reply) -> None:
        """查询: the status of a request, or the sender's open requests (daemon.records)."""
        from daemon import records
        return records.query(self.app, self, req, reply)

    def remind(self, req: Request) -> int:
        """Office staff's 催办: the current holders reminded at once; returns the mails queued."""
        from daemon import chase
        return chase.remind_now(self.app, req, by=self.mail.from_addr)

    def ask(self, req: Request, step: Step, principal: str, reply) -> None:
        """A reply of the entitled person that is not clear: ask, offering the likely reading when there is one."""
        found = questions.reading(self.app, req, step, reply)
        proposal = None
        if found is not None:
            proposal = questions.propose(step, principal, self.mail.from_addr, found, reply.new_text)
        why = f"（{SHAPE_LABELS[reply.shape]}）" if reply.shape in SHAPE_LABELS else ""
        self.note(f"审批意见未能确定{why}，未作处理" + (f"，询问是否意为“{found.label}”" if found else ""),
                  "not_understood", req, ignored=True, step=step)
        sent = self.answer("not_understood", {"reply": reply, "offered": found.label if found else "", "ask": True},
                           req, action="询问审批人的意思" if found else "请审批人重新回复", step=step,
                           signer=principal, code=proposal.code if proposal is not None else "")
        if proposal is not None and sent is not None:
            proposal.message_id = sent.message_id
            proposal.save()

    def codes(self, ref: Mail | None) -> list[str]:
        """The codes this mail carries: the answered mail's, then the subject's."""
        return [*([ref.code] if ref is not None else []), *_CODE_IN_SUBJECT.findall(self.mail.subject)[-1:]]

    def signer(self, step: Step, ref: Mail | None) -> str | None:
        """The signer of the active `step` whose own current code the mail carries: that of the mail answered,
        else the one in the subject; None when it carries none (another step's, a retired one, a request's).
        The step's own code, which only mails of the first release carry, counts for whom they were sent to."""
        codes = [ref.code] if ref is not None and ref.step_id == step.id else []
        codes += _CODE_IN_SUBJECT.findall(self.mail.subject)[-1:]
        for code in codes:
            who = workflow.signer_of(step, code)
            if who is not None:
                return who
            offer = questions.live(step, self.mail.from_addr, [code])
            if offer is not None:
                return offer.person     # a question we asked this person about this very step
            if code == step.code:
                # a notification of the first release, which gave the whole step one code: the signer is
                # the approver it was sent to; from the subject alone, the sender (or whom they stand in for)
                sent_to = ref.rcpts if ref is not None and ref.code == code else []
                due = [a for a in sent_to if a in step.approvers] or [
                    p for p in self.app.directory.principals_for(self.mail.from_addr) if p in step.approvers]
                return due[0] if due else None
        return None

    def acts_for(self, sender: str, principal: str) -> bool:
        """The sender is that person, or their delegate."""
        return principal in self.app.directory.principals_for(sender)

    def entitled(self, step: Step | None, sender: str) -> str:
        """For whom the sender may decide on the active step now (themselves first, else the first unsigned
        person they are delegate of); "" when for nobody."""
        if step is None:
            return ""
        due = [p for p in self.app.directory.principals_for(sender) if p in step.approvers and p not in step.signed]
        return due[0] if due else ""

    def executes(self, req: Request, sender: str) -> bool:
        """The sender is the executing unit or department (any address of that unit), or its delegate."""
        return rules.executes(self.app.directory, req, sender)

    def held(self, req: Request | None, step: Step | None) -> tuple[Request, Step | None] | None:
        """What of `req` the sender holds now, for the answer cap: the active step they (or their principal)
        must decide, the review (office staff), the 办结回告 (executing unit), the returned request (its unit)."""
        if req is None:
            return None
        if step is not None:
            return req, step
        sender, d = self.mail.from_addr, self.app.directory
        if req.state == APPROVING and (active := workflow.active_step(req)) is not None and any(
                p in active.approvers for p in d.principals_for(sender)):
            return req, active
        unit = d.unit_of(sender)
        if (req.state == REVIEWING and d.is_staff(sender)) or (req.state == APPROVED and self.executes(req, sender)) \
                or (req.state == RETURNED and (sender == req.sender or (unit is not None and unit.id == req.unit_id))):
            return req, None
        return None

    def answered_today(self, address: str, req: Request | None = None, step: Step | None = None) -> int:
        """Answers sent to `address` in the last day; when given, only those about `req` since `step` began."""
        since = clock.now() - timedelta(days=1)
        if step is not None and step.activated_at is not None:
            since = max(since, step.activated_at)
        where = (Mail.direction == "out") & Mail.kind.in_(ANSWERS) & (Mail.at >= since)
        if req is not None:
            where &= Mail.request == req
        return sum(address in r.rcpts for r in Mail.select(Mail.rcpts).where(where))

    def asks_query(self, reply) -> bool:
        """查询 in the subject (prefixes stripped) or as the first line of the new text (SPEC §2)."""
        first = (reply.new_text.strip().splitlines() or [""])[0]
        return bool(_QUERY_FIRST_LINE.match(mime.strip_subject_prefixes(self.mail.subject))
                    or _QUERY_FIRST_LINE.match(first))

    def answers(self, req: Request, ref: Mail | None, code: str | None = None) -> bool:
        """SPEC §3: the mail answers the review mail (or the result mail when `code` is the request's
        done_code), carrying its current code. A step's mails are answered per signer (signer())."""
        code = code or req.code
        if ref is not None and ref.code == code:
            return True
        found = _CODE_IN_SUBJECT.findall(self.mail.subject)
        return bool(found and found[-1] == code)

    def not_entitled(self, req: Request, ref: Mail | None, reply) -> None:
        app, mail = self.app, self.mail
        d = app.directory
        sender = mail.from_addr
        verb = reply.verb
        # a late or duplicate decision on a step that is already decided
        if ref is not None and ref.step_id:
            step = Step.get_or_none(Step.id == ref.step_id)
            if step is not None and step.state != ACTIVE and sender in [*step.approvers, *[
                    dd for a in step.approvers if (dd := d.delegate_of(a))]]:
                decided = step.decided_by and d.name_of(step.decided_by)
                self.note(f"该环节已处理（{decided or STATE_LABELS.get(req.state)}），本邮件未改变任何状态", "late",
                          req, ignored=True, step=step)
                return self.answer("late", {"step": step, "decided_by": decided or "",
                                            "decided_at": step.decided_at}, req, action="告知该环节已由他人处理")
            signer = self.signer(step, ref) if step is not None and step.state == ACTIVE else None
            if step is not None and step.state == ACTIVE and (sender in step.signed or (
                    signer in step.signed and self.acts_for(sender, signer))):
                who = sender if sender in step.signed else signer
                self.note(f"{d.name_of(who)}已在该会签环节签署，重复意见未处理", "late", req, ignored=True, step=step)
                return self.answer("late", {"step": step, "decided_by": d.name_of(who),
                                            "decided_at": None}, req, action="告知已签署")
        # an approver of the active step who answered the wrong mail: the explanation carries the step's form
        # and their own code, so that answering it decides (and nobody else's explanation carries one)
        active = workflow.active_step(req) if req.state == APPROVING else None
        principal = self.entitled(active, sender)
        if verb in DECISION_VERBS:
            from daemon.records import may_see
            if not may_see(self.app, req, sender):
                self.note(f"“{verb.value}”来自与该请示无关的{sender}，未处理（疑似冒用）", "forgery", req, ignored=True)
                self.answer("not_entitled", {"reply": reply}, req, action="告知无权处理")
                outbox.queue(app.cfg, "forgery_alert", list(app.cfg.office.staff),
                             {"req": req, "mail": self.shown(), "reply": reply}, request=req,
                             action="可疑审批邮件提醒办公室")
                return
            self.note(f"“{verb.value}”不是对当前环节通知的回复或当前无权处理，未处理", "not_entitled", req, ignored=True)
            return self.answer("not_entitled", {"reply": reply}, req, action="告知未处理原因",
                               step=active, signer=principal)
        self.note("与请示有关的来信，未识别为可执行的操作，已记录", "not_understood", req, ignored=True)
        return self.answer("not_understood", {"reply": reply}, req, action="说明应如何回复", step=active,
                           signer=principal)

"""Hostile and oversized mail through intake, in process on SQLite (outgoing mail read from the outbox): huge
headers, control characters, database errors the mail's data causes, a form that cannot be rendered."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import peewee as pw
import pytest

from daemon import chase, docform, intake, limits, mailstore, mime, models
from daemon.models import Job, Mail, Outbox, Request
from tests.test_intake_edges import BODY, world  # noqa: F401 - the in-process office fixture


def raw_mail(sender="unit1@t.test", subject="关于购置办公设备的请示", body=BODY, headers=(), attachments=()):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "office@t.test", subject
    msg["Message-ID"] = make_msgid(domain="t.test")
    for name, value in headers:
        msg[name] = value
    msg.set_content(body)
    for name, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def encoded(text: str) -> str:
    """A header value as RFC 2047 words, folded by hand (the standard library folds megabytes slowly)."""
    import base64
    data = text.encode()
    words = [f"=?utf-8?b?{base64.b64encode(data[i:i + 45]).decode()}?=" for i in range(0, len(data), 45)]
    return "\r\n ".join(words)


def raw_by_hand(subject: str, body: str = "请审批。", sender: str = "unit1@t.test") -> bytes:
    import base64
    return (f"From: {sender}\r\nTo: office@t.test\r\nSubject: {encoded(subject)}\r\n"
            f"Message-ID: {make_msgid(domain='t.test')}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{base64.encodebytes(body.encode()).decode()}").encode()


def header_blocks():
    return [m.split(b"\r\n\r\n", 1)[0] for m in mailstore.messages(Outbox.select()).values()]


# ---------------------------------------------------------------- 11.1 huge subject

@pytest.mark.slow          # megabytes of header, or a flood of mails, through intake
def test_a_megabyte_subject_gives_a_capped_title_and_capped_headers(world):
    subject = "关于" + "购置" * 500_000
    raw = raw_by_hand(subject)
    assert intake.handle(world.app, raw) == intake.PROCESSED
    req = world.request()
    assert len(req.title) == limits.MAX_TITLE and req.title.endswith("…") and req.title.startswith("关于购置")
    blocks = header_blocks()
    assert blocks and all(len(block) < 16_000 for block in blocks)
    assert all(len(line) <= 998 for block in blocks for line in block.split(b"\r\n"))
    subjects = [mime.parse(m).subject for m in mailstore.messages(Outbox.select()).values()]
    assert subjects and all(len(s) <= limits.MAX_HEADER for s in subjects)
    incoming = Mail.get(Mail.direction == "in")
    assert len(incoming.subject) <= limits.MAX_STORED_SUBJECT
    archived = (world.cfg.archive.path / incoming.archive).read_bytes()
    assert mime.parse(archived).subject == subject          # the archive keeps every character


@pytest.mark.slow          # megabytes of header, or a flood of mails, through intake
def test_answers_and_alerts_quote_a_huge_subject_cut(world):
    assert intake.handle(world.app, raw_by_hand("推广" * 400_000, sender="stranger@else.test")) == intake.PROCESSED
    assert intake.handle(world.app, raw_by_hand("机密" + "文件" * 400_000)) == intake.PROCESSED
    rows = list(Outbox.select())
    # refused, classified, alert
    assert len(rows) == 3 and all(len(m) < 60_000 for m in mailstore.messages(rows).values())


# ---------------------------------------------------------------- 11.2 huge References, database errors

@pytest.mark.slow          # megabytes of header, or a flood of mails, through intake
def test_a_huge_references_header_keeps_the_newest_ids_and_still_finds_the_request(world):
    world.filed_and_routed()
    note = world.last_to("wang@t.test", "请审批")
    junk = "\r\n ".join(f"<junk{i}.{'x' * 5}@spam.test>" for i in range(67_000))
    raw = (f"From: wang@t.test\r\nTo: office@t.test\r\nSubject: {encoded('回复：' + note.subject)}\r\n"
           f"Message-ID: {make_msgid(domain='t.test')}\r\nIn-Reply-To: <{note.message_id}>\r\n"
           f"References: {junk}\r\n {junk}\r\n <{note.message_id}>\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\n同意\r\n").encode()
    parsed = mime.parse(raw)
    assert len(parsed.references) == limits.MAX_REFERENCES and parsed.references[-1] == note.message_id
    assert intake.handle(world.app, raw) == intake.PROCESSED
    assert world.request().state == "approved"


def test_chunks_cover_every_value_once():
    values = list(range(1001))
    parts = list(limits.chunks(values, 200))
    assert [len(p) for p in parts] == [200, 200, 200, 200, 200, 1] and sum(parts, []) == values


def test_a_database_error_caused_by_the_mail_ends_in_failed_with_its_reason(world, monkeypatch):
    def too_many(self):
        raise pw.OperationalError("too many SQL variables")

    monkeypatch.setattr(intake.Pipeline, "run", too_many)
    raw = raw_mail()
    outcomes = [intake.handle(world.app, raw) for _ in range(intake.MAX_ATTEMPTS + 1)]
    assert outcomes == [intake.RETRY] * intake.MAX_ATTEMPTS + [intake.FAILED]
    failed = Mail.get(Mail.direction == "in")
    assert failed.kind == "failed" and failed.ignored and "too many SQL variables" in failed.action
    digest = chase.digest_context(world.app)
    assert any("too many SQL variables" in g["reason"] for g in digest["ignored"])


def test_a_lost_database_is_an_outage_and_does_not_count_against_the_mail(world, monkeypatch):
    def gone(self):
        raise pw.InterfaceError("connection already closed")

    monkeypatch.setattr(intake.Pipeline, "run", gone)
    raw = raw_mail()
    for _ in range(intake.MAX_ATTEMPTS + 2):
        with pytest.raises(pw.InterfaceError):
            intake.handle(world.app, raw)
    monkeypatch.undo()
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    assert intake.handle(world.app, raw) == intake.PROCESSED
    assert Request.select().count() == 1


@pytest.mark.parametrize("message, outage", [
    ("too many SQL variables", False),
    ("string or blob too big", False),
    ("database is locked", True),
    ("disk I/O error", True),
])
def test_sqlite_errors_are_told_apart(world, message, outage):
    assert intake.is_outage(pw.OperationalError(message)) is outage


# ---------------------------------------------------------------- 11.4 control characters, the form

def test_control_characters_are_not_stored_and_the_final_approval_renders_the_form(world):
    raw = raw_mail(subject="关于购置\x01办公设备的请示", body=BODY.replace("集团公司办公室：", "集团公司\x07办公室："),
                   attachments=[("清单\x01\x1b.xlsx", b"PK")])
    assert intake.handle(world.app, raw) == intake.PROCESSED
    req = world.request()
    assert req.attachments[0]["name"] == "清单.xlsx"
    assert "\x07" not in req.body
    review = world.last_to("clerk@t.test")
    world.send("clerk@t.test", "回复：" + review.subject, "受理\n流程：王总", reply_to=review)
    note = world.last_to("wang@t.test", "请审批")
    world.send("wang@t.test", "回复：" + note.subject, "同意\x01\x02，请抓紧办理", reply_to=note)
    assert world.request().state == "approved"
    result = world.last_to("unit1@t.test", "结果")
    assert any(a.filename.endswith(".docx") and "审批单" in a.filename for a in result.attachments)


def test_the_printable_form_never_fails_on_control_characters_already_stored():
    from tests.test_templates import make_form, make_req
    form = make_form(make_req(title="关于\x01购置\x0b办公设备的请示\ud800"))
    data = docform.render_docx(form)
    assert data[:2] == b"PK"


def test_a_decision_commits_when_the_form_cannot_be_rendered_and_the_form_follows(world, monkeypatch):
    world.filed_and_routed()
    note = world.last_to("wang@t.test", "请审批")

    def broken(form):
        raise ValueError("All strings must be XML compatible")

    monkeypatch.setattr(docform, "render_docx", broken)
    assert world.send("wang@t.test", "回复：" + note.subject, "同意", reply_to=note) == intake.PROCESSED
    req = world.request()
    assert req.state == "approved"
    result = world.last_to("unit1@t.test", "结果")
    assert not any("审批单" in a.filename for a in result.attachments)
    assert any("审批单未能生成" in w for w in chase.digest_context(world.app)["warnings"])
    assert chase.resend_forms(world.app) == 0            # still broken: stays pending
    monkeypatch.undo()
    assert chase.resend_forms(world.app) == 1
    resent = world.last_to("unit1@t.test", "补发审批单")
    assert any("审批单" in a.filename for a in resent.attachments)
    assert not Job.select().where(Job.name.startswith("form-pending-")).exists()
    assert chase.digest_context(world.app)["warnings"] == [] or not any(
        "审批单未能生成" in w for w in chase.digest_context(world.app)["warnings"])


# ---------------------------------------------------------------- 11.5 nesting beyond the parser's depth

def nested(levels: int, text: str = BODY) -> bytes:
    head = (f"From: unit1@t.test\r\nTo: office@t.test\r\nSubject: {encoded('关于购置办公设备的请示')}\r\n"
            f"Message-ID: {make_msgid(domain='t.test')}\r\nMIME-Version: 1.0\r\n")
    parts = [head]
    for n in range(levels):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n')
    parts.append("Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n")
    for n in reversed(range(levels)):
        parts.append(f"--b{n}--\r\n")
    return "".join(parts).encode()


def test_parts_nested_too_deep_are_not_read_and_office_staff_are_told(world):
    assert mime.parse(nested(10)).skipped_parts == 0
    assert mime.parse(nested(300)).skipped_parts == 1
    assert intake.handle(world.app, nested(300)) == intake.PROCESSED
    req = world.request()
    assert "structure" in [f["rule"] for f in req.findings]
    review = world.last_to("clerk@t.test", "请审核")
    assert f"嵌套超过{mime.MAX_DEPTH}层" in review.text and "未读取" in review.text


def test_parts_beyond_the_limit_are_not_read_and_office_staff_are_told(world):
    parts = "".join(f'--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; '
                    f'filename="f{i}.bin"\r\n\r\nxx\r\n' for i in range(mime.MAX_PARTS + 100))
    raw = (f"From: unit1@t.test\r\nTo: office@t.test\r\nSubject: {encoded('关于购置办公设备的请示')}\r\n"
           f'Message-ID: {make_msgid(domain="t.test")}\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
           f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{BODY}\r\n{parts}--b--\r\n").encode()
    parsed = mime.parse(raw)
    assert len(parsed.attachments) == mime.MAX_PARTS - 2 and parsed.skipped_parts == 102   # the root, the text
    assert intake.handle(world.app, raw) == intake.PROCESSED
    assert "structure" in [f["rule"] for f in world.request().findings]


# ---------------------------------------------------------------- 11.6 garbage and floods

def test_a_mail_with_no_title_and_no_readable_text_is_answered_not_registered(world):
    import random
    rnd = random.Random(7)
    garbage = bytes(rnd.randrange(256) for _ in range(3000))
    raw = (f"From: unit1@t.test\r\nTo: office@t.test\r\nSubject: \r\nMessage-ID: {make_msgid(domain='t.test')}\r\n"
           "Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").encode() + garbage
    assert intake.handle(world.app, raw) == intake.PROCESSED
    assert Request.select().count() == 0
    record = Mail.get(Mail.direction == "in")
    assert record.kind == "not_request" and record.ignored
    assert "不是请示" in world.last_to("unit1@t.test").text or "无法识别为请示" in world.last_to("unit1@t.test").text
    assert any(g["reason"] == record.action for g in chase.digest_context(world.app)["ignored"])


@pytest.mark.parametrize("subject, body, attachments, registered", [
    ("", "", [("请示.docx", b"PK")], True),              # only an attachment: people look at it
    ("请示", "", [], True),
    ("", "关于购置办公设备的请示，妥否，请批示。", [], True),
    ("", "", [], False),
    ("Re:", "\ufffd\ufffd\ufffd\ufffd", [], False),
])
def test_what_counts_as_not_a_request(subject, body, attachments, registered):
    from types import SimpleNamespace as NS
    mail = NS(subject=subject, text=body, attachments=attachments)
    assert intake.not_a_request(mail, None) is not registered


@pytest.mark.slow          # megabytes of header, or a flood of mails, through intake
def test_a_flood_from_one_sender_is_recorded_not_registered_and_staff_told_once(world, monkeypatch):
    limit = world.cfg.limits.new_requests_per_hour
    for n in range(limit + 5):
        assert intake.handle(world.app, raw_mail(subject=f"关于第{n}项工作的请示")) == intake.PROCESSED
    assert Request.select().count() == limit
    flooded = list(Mail.select().where((Mail.direction == "in") & (Mail.kind == "flood")))
    assert len(flooded) == 5 and all(m.ignored for m in flooded)
    alerts = [m for m in world.mails_to("clerk@t.test") if "来信过多" in m.subject]
    assert len(alerts) == 1
    assert len([m for m in world.mails_to("unit1@t.test") if "回执" in m.subject]) == limit
    notices = [m for m in world.mails_to("unit1@t.test") if "暂未登记" in m.subject]
    assert len(notices) == 1 and "一小时后重新发送" in notices[0].text     # the unit knows, once an hour
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T10:30:00+08:00")      # an hour later: registered again
    assert intake.handle(world.app, raw_mail(subject="关于另一项工作的请示")) == intake.PROCESSED
    assert Request.select().count() == limit + 1


# ---------------------------------------------------------------- 11.7 an auto-responder without headers

def quote_only(world, sender, mail):
    body = "\n".join("> " + line for line in mail.text.splitlines())
    return world.send(sender, "回复：" + mail.subject, body, reply_to=mail)


def test_an_auto_responder_loop_is_stopped_and_staff_told_once(world, monkeypatch):
    world.filed_and_routed()
    note = world.last_to("wang@t.test", "请审批")
    quote_only(world, "wang@t.test", note)
    for _ in range(5):
        quote_only(world, "wang@t.test", world.mails_to("wang@t.test")[-1])
    answers = [m for m in world.mails_to("wang@t.test") if "请审批" not in m.subject]
    assert len(answers) == intake.LOOP_COUNT - 1
    assert len([m for m in world.mails_to("clerk@t.test") if "自动回复往复" in m.subject]) == 1
    assert world.request().state == "approving"
    # what the approver writes is still read at once
    world.send("wang@t.test", "回复：" + note.subject, "同意", reply_to=note)
    assert world.request().state == "approved"


def test_answers_resume_when_the_loop_has_stopped(world, monkeypatch):
    world.filed_and_routed()
    note = world.last_to("wang@t.test", "请审批")
    for _ in range(intake.LOOP_COUNT + 1):
        quote_only(world, "wang@t.test", world.mails_to("wang@t.test")[-1])
    before = len(world.mails_to("wang@t.test"))
    assert len([m for m in world.mails_to("wang@t.test") if "请审批" not in m.subject]) == intake.LOOP_COUNT - 1
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T11:00:00+08:00")
    world.send("wang@t.test", "回复：" + note.subject, "这个再看看", reply_to=note)
    assert len(world.mails_to("wang@t.test")) == before + 1        # asked what was meant, as ever


def test_references_we_write_stay_within_the_header_cap(world):
    from daemon import outbox
    refs = [f"{'r' * 60}{i}@t.test" for i in range(30)] + ["x" * 200 + "@t.test"]
    with models.db.atomic():
        outbox.queue(world.cfg, "unmatched", ["unit1@t.test"], {"req": None, "mail": mime.parse(raw_mail())},
                     reply_to_mail=("parent@t.test", refs))
    sent = mime.parse(mailstore.message(Outbox.select().order_by(Outbox.id.desc()).first()))
    assert sent.in_reply_to == ("parent@t.test",) and sent.references[-1] == "parent@t.test"
    assert sum(len(r) + 3 for r in sent.references) <= limits.MAX_HEADER and len(sent.references) >= 5
    assert all(r.startswith("r") for r in sent.references[:-1])      # the unreadable long one is left out


def test_deeply_nested_html_quotes_do_not_blow_up_the_text(world):
    html = "<blockquote>" * 20_000 + "<br>x" * 20_000
    assert len(mime.html_to_text(html)) < 30 * 20_000
    raw = (f"From: unit1@t.test\r\nTo: office@t.test\r\nSubject: {encoded('关于购置办公设备的请示')}\r\n"
           f"Message-ID: {make_msgid(domain='t.test')}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n")
    assert intake.handle(world.app, raw.encode()) == intake.PROCESSED
    assert len(world.request().body) < 30 * 20_000

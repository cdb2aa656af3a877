"""Hostile and oversized mail through intake, in process on SQLite (outgoing mail read from the outbox): huge
headers, control characters, database errors the mail's data causes, a form that cannot be rendered."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import peewee as pw
import pytest

from daemon import chase, docform, intake, limits, mime
from daemon.models import Job, Mail, Outbox, Request
from tests.test_intake_edges import BODY, World


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    w = World(tmp_path)
    yield w
    from daemon import models
    models.close()


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
    return [bytes(row.data).split(b"\r\n\r\n", 1)[0] for row in Outbox.select()]


# ---------------------------------------------------------------- 11.1 huge subject

def test_a_megabyte_subject_gives_a_capped_title_and_capped_headers(world):
    subject = "关于" + "购置" * 500_000
    raw = raw_by_hand(subject)
    assert intake.handle(world.app, raw) == intake.PROCESSED
    req = world.request()
    assert len(req.title) == limits.MAX_TITLE and req.title.endswith("…") and req.title.startswith("关于购置")
    blocks = header_blocks()
    assert blocks and all(len(block) < 16_000 for block in blocks)
    assert all(len(line) <= 998 for block in blocks for line in block.split(b"\r\n"))
    subjects = [mime.parse(bytes(r.data)).subject for r in Outbox.select()]
    assert subjects and all(len(s) <= limits.MAX_HEADER for s in subjects)
    incoming = Mail.get(Mail.direction == "in")
    assert len(incoming.subject) <= limits.MAX_STORED_SUBJECT
    archived = (world.cfg.archive.path / incoming.archive).read_bytes()
    assert mime.parse(archived).subject == subject          # the archive keeps every character


# ---------------------------------------------------------------- 11.2 huge References, database errors

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

"""The bytes of outgoing mail: what daemon.compose writes reads, in the email package's strict modern parser and
in officeflow's own, exactly as what EmailMessage wrote before, within RFC 5322's line limits."""

from __future__ import annotations

import email
import email.policy
import urllib.parse
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon import compose, mime
from daemon.outbox import Attach
from lanes import examples

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def headers(subject="【办请〔2026〕7号】请审核拟办：关于购置办公设备的请示 〔流转码：ABC234〕", to=("clerk@example.test",),
            cc=(), refs=(), parent=""):
    out = [("From", "=?utf-8?b?6ZuG5Zui5YWs5Y+45Yqe5YWs5a6k?= <office@example.test>"),
           ("To", ", ".join(to) if to else "undisclosed-recipients:;")]
    if cc:
        out.append(("Cc", ", ".join(cc)))
    out += [("Reply-To", "office@example.test"), ("Subject", subject), ("Date", "Thu, 26 Nov 2026 01:00:00 +0000"),
            ("Message-ID", "<of.20261126090000.0123456789ab@example.test>")]
    if parent:
        out.append(("In-Reply-To", f"<{parent}>"))
    if refs:
        out.append(("References", " ".join(f"<{r}>" for r in refs)))
    out += [("Auto-Submitted", "auto-generated"), ("X-Auto-Response-Suppress", "DR, RN, NRN"),
            ("X-Mailer", "officeflow")]
    return out


def reference(hdrs, text, html, attachments=()) -> bytes:
    """How officeflow built its mail before daemon.compose: EmailMessage, the modern policy, CRLF."""
    msg = EmailMessage()
    for name, value in hdrs:
        msg[name] = value
    msg.set_content(text, charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    for a in attachments:
        maintype, _, subtype = a.content_type.partition("/")
        msg.add_attachment(a.data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                           filename=a.name)
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def strict(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        assert not part.defects, (part.get_content_type(), part.defects)
        for name, value in part.items():
            assert not value.defects, (name, value.defects)
    return msg


def within_limits(raw: bytes) -> None:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    for line in head.split(b"\r\n"):
        # a line over 78 only where one word (an address, an ID, a parameter) cannot be cut
        value = line.strip() if line[:1] in b" \t" else line.partition(b": ")[2]
        assert len(line) <= 78 or b" " not in value, line


def lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def same_mail(raw: bytes, ref: bytes, subject: str) -> None:
    got, want = strict(raw), email.message_from_bytes(ref, policy=email.policy.default)
    # the subject reads as written, even where it looks like an encoded word (the email package decoded that)
    assert str(got["Subject"]) == subject
    for name in ("From", "To", "Cc", "Reply-To", "Date", "Message-ID", "In-Reply-To", "References",
                 "Auto-Submitted", "X-Auto-Response-Suppress", "X-Mailer", "MIME-Version"):
        assert str(got.get(name, "")) == str(want.get(name, "")), name
    assert [k.lower() for k in got.keys()] == [k.lower() for k in want.keys()]
    assert got.get_content_type() == want.get_content_type()
    for kind in ("plain", "html"):
        g, w = got.get_body((kind,)), want.get_body((kind,))
        # the email package sent short-lined text as 8bit (CRLF in transit); we always send base64 (LF inside)
        assert lf(g.get_content()) == lf(w.get_content()) and g.get_content_charset() == "utf-8"
    ga, wa = list(got.iter_attachments()), list(want.iter_attachments())
    assert [(a.get_filename(), a.get_content_type(), a.get_content()) for a in ga] == \
        [(a.get_filename(), a.get_content_type(), a.get_content()) for a in wa]
    mine, theirs = mime.parse(raw), mime.parse(ref)
    assert mime.parse(raw).subject == subject
    for field in ("message_id", "from_addr", "from_name", "to", "cc", "reply_to", "in_reply_to",
                  "references", "text", "html", "auto"):
        assert getattr(mine, field) == getattr(theirs, field), field
    assert [(a.filename, a.content_type, a.data) for a in mine.attachments] == \
        [(a.filename, a.content_type, a.data) for a in theirs.attachments]
    within_limits(raw)


TEXT = "集团公司办公室 · 办请〔2026〕7号\n\n请示审核（拟办）\n\n\u3000\u3000现收到第一分公司《关于购置办公设备的请示》一件。\n"
HTML = "<div><p>现收到第一分公司《关于购置办公设备的请示》一件。</p>\n<p>" + "长" * 3000 + "</p></div>\n"


@pytest.mark.parametrize("case", [
    dict(),
    dict(subject="Re: plain ASCII"),
    dict(subject=("A long ASCII subject " * 20).strip()),
    dict(subject="=?utf-8?q?looks_encoded?= but is not"),
    dict(subject="【办请〔2026〕7号】" + "购置" * 440 + "〔流转码：ABC234〕"),
    dict(subject="emoji 😀 and 𠀀 beyond the BMP, ε, ü"),
    dict(to=[f"person{i}@department{i}.example.test" for i in range(30)], cc=["a@b.test", "c@d.test"]),
    dict(to=["x" * 64 + "@" + "d" * 180 + ".example.test"]),
    dict(to=[]),
    dict(to=['"quoted local"@example.test']),
    dict(parent="parent@t.test", refs=[f"{'r' * 60}{i}@t.test" for i in range(9)] + ["parent@t.test"]),
    dict(parent="a@b", refs=["a@b"]),
])
def test_headers_read_as_the_email_package_wrote_them(case):
    hdrs = headers(**case)
    same_mail(compose.compose(hdrs, TEXT, HTML), reference(hdrs, TEXT, HTML), dict(hdrs)["Subject"])


@pytest.mark.parametrize("name", [
    "办公设备购置清单.docx", "report.docx", "a" * 190 + ".pdf", "关于" + "购置办公设备" * 33 + ".docx",
    'with "quotes" and \\ back.txt', "semi;colon, comma=equals.txt", "", "ü" * 100, "😀" * 50 + ".docx",
])
def test_attachment_names_read_back(name):
    att = [Attach(name, DOCX, bytes(range(256)) * 300), Attach("二.pdf", "application/pdf", b"%PDF-1.4\n")]
    hdrs = headers()
    same_mail(compose.compose(hdrs, TEXT, HTML, att), reference(hdrs, TEXT, HTML, att), dict(hdrs)["Subject"])


def test_the_structure_is_alternative_inside_mixed():
    raw = compose.compose(headers(), TEXT, HTML, [Attach("a.docx", DOCX, b"PK")])
    msg = strict(raw)
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html", DOCX]
    plain = strict(compose.compose(headers(), TEXT, HTML))
    assert [p.get_content_type() for p in plain.walk()] == ["multipart/alternative", "text/plain", "text/html"]


def test_a_content_type_that_is_no_token_becomes_octet_stream():
    raw = compose.compose(headers(), TEXT, HTML, [Attach("a.bin", "text/plain\r\nX-Evil: 1", b"x"),
                                                  Attach("b.bin", "", b"y")])
    assert b"X-Evil" not in raw
    assert [a.get_content_type() for a in strict(raw).iter_attachments()] == ["application/octet-stream"] * 2


def test_long_names_are_cut_into_sections_on_character_boundaries():
    line = compose.disposition("购置" * 60 + ".docx")
    sections = [s.strip().rstrip(";") for s in line.split("\r\n")[1:]]
    assert len(sections) > 3
    for s in sections:
        value = s.split("=", 1)[1].removeprefix("utf-8''")
        urllib.parse.unquote_to_bytes(value).decode("utf-8")    # each section decodes on its own
    assert "".join(urllib.parse.unquote(s.split("=", 1)[1].removeprefix("utf-8''")) for s in sections) == \
        "购置" * 60 + ".docx"


def test_ascii_bodies_go_as_7bit_and_others_as_base64():
    raw = compose.compose(headers(), "plain words\nsecond line\n", "<p>x</p>\n")
    assert raw.count(b"Content-Transfer-Encoding: 7bit") == 2
    raw = compose.compose(headers(), "x" * 100 + "\n", "<p>中文</p>\n")
    assert raw.count(b"Content-Transfer-Encoding: base64") == 2
    assert b"\0" not in compose.compose(headers(), "nul \0 here", "")


@pytest.mark.parametrize("name, value", [("To", "用户@例子.test"), ("To", '"quoted local"@example.test'),
                                         ("Cc", "a@b.test, 用户@例子.test"), ("References", "<a b@c> <d@e>"),
                                         ("Subject", "lone \udcb5 surrogate")])
def test_what_is_not_plain_goes_through_the_email_package_as_before(name, value):
    msg = EmailMessage()
    msg[name] = value
    assert compose.header(name, value) == msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")).split(b"\r\n\r\n")[0] + b"\r\n"


def test_a_header_with_a_line_break_is_refused_as_before():
    with pytest.raises(ValueError):
        compose.compose([("To", "a@b.test\r\nBcc: c@d.test")], TEXT, HTML)


_readable = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=400)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=_readable, name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=200),
       text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_any_subject_name_and_text_read_back(subject, name, text):
    subject = " ".join(subject.split())         # as outbox.queue renders subjects
    hdrs = headers(subject=subject)
    att = [Attach(name, DOCX, b"data")]
    raw = compose.compose(hdrs, text, HTML, att)
    msg = strict(raw)
    assert str(msg["Subject"]) == subject
    assert mime.parse(raw).subject == subject
    want = email.message_from_bytes(reference(hdrs, text, HTML, att), policy=email.policy.default)
    assert [a.get_filename() for a in msg.iter_attachments()] == [a.get_filename() for a in want.iter_attachments()]
    assert [a.filename for a in mime.parse(raw).attachments] == [a.filename for a in mime.parse(
        reference(hdrs, text, HTML, att)).attachments]
    assert lf(msg.get_body(("plain",)).get_content()) == lf(want.get_body(("plain",)).get_content())
    within_limits(raw)

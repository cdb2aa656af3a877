"""Decoding real-world mail: charsets, encoded headers, attachment names, body forms, automatic mail."""

from __future__ import annotations

import base64
import quopri

import pytest
from hypothesis import given, settings, strategies as st

from daemon.mime import MailParseError, html_to_text, parse, strip_subject_prefixes
from lanes import examples

TITLE = "关于购置办公设备的请示"


def _b(text: str, codec: str) -> str:
    return base64.b64encode(text.encode(codec)).decode()


def _mail(headers: str, body: bytes = b"hello\r\n") -> bytes:
    return headers.encode("ascii") + b"\r\n" + body


def test_gb2312_label_with_gbk_characters_is_read_as_gb18030():
    body = "同意。镕堃喆\r\n".encode("gb18030")  # 镕 堃 喆 are not in GB2312
    mail = parse(_mail("From: a@b.test\r\nContent-Type: text/plain; charset=gb2312\r\n", body))
    assert mail.text.strip() == "同意。镕堃喆"


def test_encoded_words_splitting_a_character_are_joined_as_bytes():
    raw = TITLE.encode("gbk")
    w1, w2 = base64.b64encode(raw[:5]).decode(), base64.b64encode(raw[5:]).decode()
    mail = parse(_mail(f"From: a@b.test\r\nSubject: =?gb2312?B?{w1}?=\r\n =?gb2312?B?{w2}?=\r\n"))
    assert mail.subject == TITLE


def test_quoted_printable_header_and_body():
    q = "".join(f"={b:02X}" for b in TITLE.encode("utf-8")) + "_(1)"
    body = quopri.encodestring("同意，请办理。".encode("utf-8"))
    mail = parse(_mail(f"From: a@b.test\r\nSubject: =?utf-8?Q?{q}?=\r\nContent-Type: text/plain; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n", body))
    assert mail.subject == TITLE + " (1)" and mail.text.strip() == "同意，请办理。"


@pytest.mark.parametrize("label", ["y", "utf-8\"", "", "x-unknown", "utf8"])
def test_wrong_or_missing_charset_falls_back(label):
    ctype = f"text/plain; charset={label}" if label else "text/plain"
    for codec in ("utf-8", "gb18030"):
        mail = parse(_mail(f"From: a@b.test\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: 8bit\r\n",
                           "不同意，预算超标。".encode(codec)))
        assert mail.text.strip() == "不同意，预算超标。", (label, codec)


def test_big5_body_and_header():
    mail = parse(_mail(f"From: =?big5?B?{_b('王經理', 'big5')}?= <w@b.test>\r\nSubject: =?big5?B?{_b('請示', 'big5')}?=\r\n"
                       "Content-Type: text/plain; charset=big5\r\n", "同意辦理。".encode("big5")))
    assert (mail.from_name, mail.subject, mail.text.strip()) == ("王經理", "請示", "同意辦理。")


def test_attachment_names_rfc2231_encoded_word_and_raw_8bit():
    pct = "".join(f"%{b:02X}" for b in "请示正文.docx".encode("gb18030"))
    raw = (b"From: a@b.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
           b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee attached\r\n"
           b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=gb18030''"
           + pct.encode() + b"\r\n\r\nAAA\r\n"
           b"--XX\r\nContent-Type: application/pdf; name=\"=?GBK?B?" + _b("附件一.pdf", "gbk").encode() + b"?=\"\r\n"
           b"Content-Disposition: attachment\r\n\r\nBBB\r\n"
           b"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\""
           + "附件二.pdf".encode("gbk") + b"\"\r\n\r\nCCC\r\n"
           b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\nREREDQo=\r\n"
           b"--XX\r\nContent-Type: message/rfc822\r\n\r\nSubject: =?utf-8?B?" + _b("原请示", "utf-8").encode()
           + b"?=\r\nFrom: u@b.test\r\n\r\ninner\r\n--XX--\r\n")
    mail = parse(raw)
    names = [a.filename for a in mail.attachments]
    assert names == ["请示正文.docx", "附件一.pdf", "附件二.pdf", "附件4.bin", "原请示.eml"]
    assert [a.data for a in mail.attachments[:4]] == [b"AAA", b"BBB", b"CCC", b"DDD\r\n"]
    assert b"inner" in mail.attachments[4].data and mail.text.strip() == "see attached"


def test_html_only_body_becomes_text_with_line_breaks():
    html = "<html><body><div>同意。</div><div>请综合科&nbsp;办理<br>李明</div><blockquote><p>原文</p></blockquote></body></html>"
    mail = parse(_mail("From: a@b.test\r\nContent-Type: text/html; charset=utf-8\r\n", html.encode("utf-8")))
    assert mail.text.split("\n") == ["同意。", "请综合科 办理", "李明", "> 原文"]
    assert mail.html == html


def test_html_to_text_skips_style_and_script():
    assert html_to_text("<style>p{x}</style><script>a()</script><p>甲</p><p>乙</p>") == "甲\n乙"


def test_addresses_ids_and_date():
    mail = parse(_mail(
        "From: =?utf-8?B?" + _b("李副总", "utf-8") + "?= <Li@Example.TEST>\r\nTo: a@x.test, \"B, C\" <B@X.test>\r\n"
        "Cc: c@x.test\r\nReply-To: r@x.test\r\nMessage-ID: <abc@x.test>\r\nIn-Reply-To: <n1@x.test>\r\n"
        "References: <n0@x.test>\r\n <n1@x.test>\r\nDate: Mon, 2 Mar 2026 09:30:00 +0800\r\n"))
    assert (mail.from_addr, mail.from_name, mail.to, mail.cc, mail.reply_to) == (
        "li@example.test", "李副总", ("a@x.test", "b@x.test"), ("c@x.test",), ("r@x.test",))
    assert (mail.message_id, mail.in_reply_to, mail.references) == ("abc@x.test", ("n1@x.test",), ("n0@x.test", "n1@x.test"))
    assert mail.date.utcoffset().total_seconds() == 8 * 3600
    assert mail.header("message-id") == "<abc@x.test>" and mail.header("X-None") == ""


def test_missing_message_id_is_stable_and_derived_from_bytes():
    raw = _mail("From: a@b.test\r\nDate: nonsense\r\n")
    first, second = parse(raw), parse(raw + b"x")
    assert first.message_id.startswith("officeflow-") and len(first.message_id) == len("officeflow-") + 32
    assert first.message_id == parse(raw).message_id != second.message_id
    assert first.date is None


@pytest.mark.parametrize("headers,auto", [
    ("Auto-Submitted: auto-replied\r\nSubject: =?utf-8?B?" + _b("自动回复：外出", "utf-8") + "?=\r\n", "out-of-office"),
    ("Subject: Automatic reply: request\r\n", "out-of-office"),
    ("X-Autoreply: yes\r\n", "out-of-office"),
    ("Auto-Submitted: auto-generated\r\n", "auto-submitted"),
    ("Auto-Submitted: no\r\n", None),
    ("Precedence: bulk\r\n", "precedence"),
    ("List-Id: <x.lists.test>\r\n", "list"),
    ("Content-Type: multipart/report; report-type=delivery-status; boundary=z\r\n", "bounce"),
    ("Subject: Undeliverable: x\r\n", "bounce"),
    ("", None),
])
def test_automatic_mail_is_recognised(headers, auto):
    assert parse(_mail("From: a@b.test\r\n" + headers)).auto == auto


def test_bounce_from_mailer_daemon():
    assert parse(_mail("From: MAILER-DAEMON@x.test\r\nSubject: failure\r\n")).auto == "bounce"


@pytest.mark.parametrize("raw,reason", [
    (b"", "empty"), (b"\r\n \r\n", "empty"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 50, "Outlook"),
    (b"just some words\nand more\n", "header"),
])
def test_not_a_mail_is_refused_with_a_reason(raw, reason):
    with pytest.raises(MailParseError, match=reason):
        parse(raw)


@settings(max_examples=examples(300), deadline=None)
@given(st.binary(max_size=400) | st.builds(lambda a, b: b"From: a@b\r\nContent-Type: " + a + b"\r\n\r\n" + b,
                                            st.binary(max_size=60), st.binary(max_size=200)))
def test_parse_raises_nothing_but_mail_parse_error(raw):
    try:
        parse(raw)
    except MailParseError:
        pass


@pytest.mark.parametrize("subject,stripped", [
    ("回复：回复：回复：eros性能问题", "eros性能问题"), ("Re:Re: 同意", "同意"), ("答复: [External Mail]Re: x", "x"),
    ("RE： 转发:Fw: FWD: 关于…的请示", "关于…的请示"), ("回复: 【办请〔2026〕7号】请审批", "【办请〔2026〕7号】请审批"),
    ("Re[2]: hello", "hello"), ("关于购置的请示", "关于购置的请示"), ("Reply needed", "Reply needed"),
])
def test_strip_subject_prefixes(subject, stripped):
    assert strip_subject_prefixes(subject) == stripped


def test_utf8_with_one_stray_byte_loses_that_byte_only():
    from daemon.mime import decode_bytes
    text = "关于购置办公设备的请示。妥否，请批示。" * 10
    mangled = text.encode("utf-8") + b"\x80" + text.encode("utf-8")
    assert decode_bytes(mangled, "utf-8") == text + "\ufffd" + text
    # but GBK mislabelled as UTF-8 is still read as GBK
    assert decode_bytes(text.encode("gbk"), "utf-8") == text

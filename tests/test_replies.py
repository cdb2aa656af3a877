"""Reply reading: every case of the table placed into every client's real reply format, through mime.parse."""

from __future__ import annotations

import pytest

from daemon import mime
from daemon.replies import FINGERPRINT_RE, Lexicon, Reply, Verb, classify, fingerprint, new_text, read_reply
from lanes import rotate
from tests.replies_cases import CASES, CLIENTS, build_mail

_VARIANTS = [  # (html part, charset, html only)
    (False, "utf-8", False),
    (True, "gb2312", False),
    (True, "utf-8", True),
    (False, "gbk", False),
]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def test_the_table_is_large_and_covers_every_verdict():
    assert len(CASES) >= 200
    assert len({text for text, *_ in CASES}) == len(CASES), "duplicate cases hide nothing but inflate the count"
    assert {verb for _, verb, _, _ in CASES} >= {
        Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS, Verb.REJECT, Verb.RETURN, Verb.TRANSFER,
        Verb.ADD_SIGNER, Verb.WITHDRAW, Verb.QUERY, Verb.REMIND, Verb.DONE, Verb.UNKNOWN}


@pytest.mark.parametrize("text,verb,opinion,target", CASES, ids=[f"{i}:{c[0][:12]}" for i, c in enumerate(CASES)])
def test_case_in_every_client_format(text, verb, opinion, target):
    failures = []
    clients = list(enumerate(CLIENTS.items()))
    for n, (client, (_, _, html_body)) in rotate(clients, len(text), keep=4):
        # two of the four body variants per client and case, rotating, so each pair is met ~100 times (in the
        # fast lane four clients and one variant per case)
        for has_html, charset, html_only in rotate([_VARIANTS[(n + len(text)) % 4],
                                                     _VARIANTS[(n + len(text) + 2) % 4]], 0, keep=1):
            if has_html and html_body is None:
                has_html, html_only = False, False
            raw = build_mail(client, text, html=has_html, charset=charset, html_only=html_only)
            reply = read_reply(mime.parse(raw))
            where = f"{client}/{'html-only' if html_only else 'alt' if has_html else 'plain'}/{charset}"
            if reply.verb is not verb:
                failures.append(f"{where}: {reply.verb.name} from {reply.new_text!r}")
            elif _lines(reply.new_text) != _lines(text):
                failures.append(f"{where}: new text {reply.new_text!r}")
            elif opinion is not None and reply.opinion != opinion:
                failures.append(f"{where}: opinion {reply.opinion!r}")
            elif target is not None and reply.target != target:
                failures.append(f"{where}: target {reply.target!r}")
    assert not failures, "\n".join(failures)


def test_accept_with_labelled_lines_in_every_client():
    text = ("受理\n拟办意见：拟同意，请财务科审核后报李副总审批。\n流程：财务科+审计科，李副总/王副总\n"
            "执行: 综合科\n抄送：行政科，审计科\n紧急：加急\n时限：12月5日")
    for client in CLIENTS:
        reply = read_reply(mime.parse(build_mail(client, text, html=False, charset="gbk")))
        assert reply.verb is Verb.ACCEPT, client
        assert reply.fields == {
            "拟办意见": "拟同意，请财务科审核后报李副总审批。", "流程": "财务科+审计科，李副总/王副总",
            "执行": "综合科", "抄送": "行政科，审计科", "紧急": "加急", "时限": "12月5日"}, client


def test_accept_without_lines_has_empty_fields():
    reply = classify("受理。")
    assert reply.verb is Verb.ACCEPT and reply.fields == {}


@pytest.mark.parametrize("subject,verb", [
    ("回复：同意", Verb.APPROVE), ("Re: 同意", Verb.APPROVE), ("答复: 不同意", Verb.REJECT),
    ("同意 - 回复：【办请〔2026〕7号】请审批：关于购置办公设备的请示", Verb.APPROVE),
    ("回复：原则同意", Verb.APPROVE_WITH_CONDITIONS),
    ("Re: 【办请〔2026〕7号】请审批：关于同意设立分公司的请示", Verb.UNKNOWN),
    ("Re: 关于同意设立分公司的请示", Verb.UNKNOWN), ("回复：", Verb.UNKNOWN), ("", Verb.UNKNOWN),
])
def test_verdict_in_subject_only_when_body_is_empty(subject, verb):
    assert classify("", subject).verb is verb
    # with any new text in the body the subject's words are not read
    assert classify("收到", subject).verb is Verb.UNKNOWN


def test_query_in_subject_of_a_new_mail():
    reply = classify("李明\n第一分公司", "查询 办请〔2026〕7号")
    assert reply.verb is Verb.QUERY and reply.target == "办请〔2026〕7号"


def test_informal_words_count_only_when_configured():
    lexicon = Lexicon(extra_approve=("好的", "ok", "行"))
    for word in ("好的", "OK", "ok。", "行！"):
        assert classify(word).verb is Verb.UNKNOWN
        assert classify(word, lexicon=lexicon).verb is Verb.APPROVE
    assert classify("好的，不同意", lexicon=lexicon).verb is Verb.UNKNOWN
    assert classify("好的吗", lexicon=lexicon).verb is Verb.UNKNOWN


def test_fingerprint_marker_round_trip():
    line = fingerprint("AB12CD")
    assert FINGERPRINT_RE.search("xx" + line + "yy").group(1) == "AB12CD"
    with pytest.raises(ValueError):
        fingerprint("ab12")


def test_verdict_only_in_first_lines():
    text = "已阅。\n请各部门传阅。\n下周例会讨论。\n同意"
    assert classify(text).verb is Verb.UNKNOWN


def test_quoted_notification_never_leaks_when_separator_is_unknown():
    # The notification contains both 同意 and 不同意: if it leaked, the answer would be UNKNOWN.
    raw = build_mail("unknown-client", "同意。", html=True, charset="utf-8")
    mail = mime.parse(raw)
    assert new_text(mail) == "同意。"
    assert read_reply(mail) == Reply(Verb.APPROVE, "", "", {}, "同意。", "同意")


def test_a_mails_new_text_is_cut_once_and_a_changed_copy_is_cut_again(monkeypatch):
    from dataclasses import replace

    from daemon import replies
    mail = mime.parse(build_mail("unknown-client", "同意。", html=True, charset="utf-8"))
    cuts = []
    real = replies.cut_text
    monkeypatch.setattr(replies, "cut_text", lambda text: cuts.append(text) or real(text))
    assert new_text(mail) == new_text(mail) == read_reply(mail).new_text == "同意。"
    assert len(cuts) == 1
    assert new_text(replace(mail, text="不同意。", html="")) == "不同意。"
    assert new_text(mail) == "同意。" and len(cuts) == 2


def test_reply_to_a_mail_with_only_our_notification_and_nothing_written():
    raw = build_mail("qq", "", html=True, charset="gb2312")
    assert read_reply(mime.parse(raw)).verb is Verb.UNKNOWN


@pytest.mark.parametrize("text,new,verb", [
    # a rule of dashes with only a name card under it is a signature …
    ("同意。\n\n------------------\n李明 集团公司副总经理\n电话：010-12345678", "同意。", Verb.APPROVE),
    ("不同意，预算已用完。\n------\n李明", "不同意，预算已用完。", Verb.REJECT),
    ("原则同意，但须控制在5万元以内。\n——————\n李明\n2026年3月2日", "原则同意，但须控制在5万元以内。",
     Verb.APPROVE_WITH_CONDITIONS),
    ("同意\n——\n李明", "同意", Verb.APPROVE),
    ("------------------\n李明 集团公司副总经理\n电话：010-12345678", "", Verb.UNKNOWN),
    # … but never when what follows it may be part of the answer
    ("收到。\n----------\n不同意，预算已用完。", None, Verb.REJECT),
    ("同意。\n------\n但须控制在5万元以内。", None, None),
    ("同意\n——————\n是否需要报集团备案？", None, None),
    ("同意\n---\n可以吗", None, None),
    ("可以\n------\nno", None, None),
    ("------\n不同意", None, Verb.REJECT),
    ("同意。\n------\n" + "\n".join(f"第{n}项：办公桌{n}张" for n in range(1, 10)), None, None),  # no card: too long
    # a rule that only leads into a quote is no signature: the answer below the quote is still found
    ("----------\n在 2026/3/2 9:30, 集团公司办公室 写道:\n> 〔流转码：K7Q2M9〕请审批\n> 同意 / 不同意\n\n不同意，预算已用完。",
     "不同意，预算已用完。", Verb.REJECT),
])
def test_a_rule_of_dashes_starts_a_signature_only_when_no_answer_follows(text, new, verb):
    from daemon.replies import cut_text
    cut = cut_text(text)
    assert cut == (text if new is None else new)
    if verb is None:  # kept whole: read exactly as without the rule line
        without = "\n".join(ln for ln in text.split("\n") if ln.strip("-—"))
        assert classify(cut).verb is classify(without).verb
    else:
        assert classify(cut).verb is verb


def _qq_signed(body_html: str, text: str | None, subject: str) -> bytes:
    sign = ('<div><br></div><div><sign signid="1"><div><div style="color:#909090;font-family:Arial Narrow;'
            'font-size:12px">------------------</div></div><div><font color="#808080">李明&nbsp;副总经理</font>'
            '</div></sign></div>')
    html = (f"<html><body>{body_html}{sign}<div id=\"original-content\"><div>------------------&nbsp;原始邮件"
            f"&nbsp;------------------</div><div><b>发件人:</b>&nbsp;集团公司办公室</div><br>"
            f"<div id=\"officeflow-mail\"><p>{fingerprint('K7Q2M9')}请审批</p><p>同意 / 不同意</p></div></div>"
            "</body></html>")
    head = (f"From: li@example.test\r\nTo: office@example.test\r\nSubject: =?utf-8?B?"
            f"{__import__('base64').b64encode(subject.encode()).decode()}?=\r\nMIME-Version: 1.0\r\n")
    def part(kind: str, body: str) -> str:
        data = __import__("base64").encodebytes(body.encode()).decode()
        return f"Content-Type: text/{kind}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{data}"
    if text is None:
        return (head + part("html", html)).encode()
    return (head + 'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n' + part("plain", text)
            + "\r\n--b\r\n" + part("html", html) + "\r\n--b--\r\n").encode()


@pytest.mark.parametrize("with_text", [False, True])
@pytest.mark.parametrize("subject,verb", [("回复：同意", Verb.APPROVE), ("回复：不同意", Verb.REJECT),
                                          ("回复：同意吗", Verb.UNKNOWN)])
def test_qq_signature_alone_leaves_the_body_empty_so_the_subject_is_read(with_text, subject, verb):
    text = ("\n\n------------------\n李明 副总经理\n\n\n------------------ 原始邮件 ------------------\n"
            f"发件人: \"集团公司办公室\"<office@example.test>;\n\n{fingerprint('K7Q2M9')}请审批\n同意 / 不同意\n")
    mail = mime.parse(_qq_signed("<div><br></div>", text if with_text else None, subject))
    assert new_text(mail) == ""
    assert read_reply(mail).verb is verb


def test_qq_gray_rule_without_sign_element_is_a_signature_in_html():
    from daemon.replies import _html_cut
    html = ('<div>不同意，预算已用完。</div><div style="color:#909090;font-family:Arial Narrow;font-size:12px">'
            '------------------</div><div>李明</div>')
    assert _html_cut(html) is not None and "李明" not in _html_cut(html)[0]
    gray_text = '<div>同意</div><div style="color:#909090">但须控制在5万元以内</div>'
    assert _html_cut(gray_text) is None   # gray words are not a rule


@pytest.mark.parametrize("answer,verb", [("同意。请综合科抓紧办理。", Verb.APPROVE),
                                         ("不同意，今年预算已用完，明年再报。", Verb.REJECT),
                                         ("同意吗？", Verb.UNKNOWN), ("原则同意，但须控制在5万元以内。",
                                                                      Verb.APPROVE_WITH_CONDITIONS)])
@pytest.mark.parametrize("html_only", [False, True])
def test_coremail_answer_below_the_blockquote(answer, verb, html_only):
    """Coremail 163 webmail: <blockquote id="isReplyContent">, and a text part with the original unquoted."""
    import base64
    from tests.replies_cases import NOTICE, NOTICE_HTML
    attribution = '在 2026-03-02 09:30:12，"集团公司办公室" <office@example.test> 写道：'
    text = f"{attribution}\n{NOTICE}\n\n{answer}"
    html = (f'<div style="line-height:1.7"><br><br><div id="divNeteaseMailCard"></div><br><pre><br>'
            f'{attribution.replace("<", "&lt;").replace(">", "&gt;")}<br></pre><blockquote id="isReplyContent" '
            f'style="PADDING-LEFT: 1ex; BORDER-LEFT: #ccc 1px solid">{NOTICE_HTML}</blockquote>'
            f'<div>{answer}</div></div>')
    def part(kind: str, body: str) -> str:
        return (f"Content-Type: text/{kind}; charset=GBK\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                + base64.encodebytes(body.encode("gbk")).decode())
    head = "From: li@example.test\r\nTo: office@example.test\r\nSubject: Re:x\r\nMIME-Version: 1.0\r\n"
    raw = head + (part("html", html) if html_only else 'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
                  "--b\r\n" + part("plain", text) + "\r\n--b\r\n" + part("html", html) + "\r\n--b--\r\n")
    mail = mime.parse(raw.encode())
    assert new_text(mail) == answer
    assert read_reply(mail).verb is verb

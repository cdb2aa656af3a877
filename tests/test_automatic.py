"""Automatic mail (SPEC §3): headers decide, subject words count only as a responder's leading prefix, so a
请示 about holidays, vacation or bounced mail — and every reply to it — is a person's mail like any other."""

from __future__ import annotations

from email.header import Header

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.mime import parse
from lanes import examples

TITLE = "关于2027年春节休假安排的请示"


def _mail(headers: dict[str, str], subject: str | None = None, ctype: str = "text/plain; charset=utf-8") -> bytes:
    lines = ["From: " + Header("张三", "utf-8").encode() + " <zhang@unit1.test>", "To: office@example.test", "Message-ID: <m1@unit1.test>",
             f"Content-Type: {ctype}"]
    if subject is not None:
        lines.append("Subject: " + Header(subject, "utf-8").encode())
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + "正文\r\n".encode("utf-8")


@pytest.mark.parametrize("headers, kind", [
    ({"Auto-Submitted": "auto-replied"}, "out-of-office"),
    ({"Auto-Submitted": "auto-replied; owner-email=li@example.test"}, "out-of-office"),
    ({"Auto-Submitted": "Auto-Replied"}, "out-of-office"),
    ({"X-Autoreply": "yes"}, "out-of-office"),
    ({"X-Autorespond": "true"}, "out-of-office"),
    ({"Precedence": "auto_reply"}, "out-of-office"),
    ({"Auto-Submitted": "auto-generated"}, "auto-submitted"),
    ({"Auto-Submitted": "auto-notified"}, "auto-submitted"),
    ({"Precedence": "bulk"}, "precedence"),
    ({"Precedence": "junk"}, "precedence"),
    ({"Precedence": "list"}, "precedence"),
    ({"List-Id": "<staff.lists.example.test>"}, "list"),
    ({"List-Unsubscribe": "<mailto:leave@lists.example.test>"}, "list"),
    ({"List-Post": "<mailto:all@lists.example.test>"}, "list"),
    ({"Return-Path": "<>"}, "bounce"),
    ({"Return-Path": "< >"}, "bounce"),
    # not markers of automatic mail
    ({"Auto-Submitted": "no"}, None),
    ({"X-Auto-Response-Suppress": "All"}, None),
    ({"X-Auto-Response-Suppress": "DR, OOF, AutoReply"}, None),
    ({"Precedence": "normal"}, None),
    ({"Return-Path": "<zhang@unit1.test>"}, None),
    ({}, None),
])
@pytest.mark.parametrize("subject", [TITLE, f"回复：【办请〔2026〕7号】请审批：{TITLE} 〔流转码：AB23CD〕", "休假", None])
def test_headers_decide_whatever_the_subject(headers, kind, subject):
    assert parse(_mail(headers, subject)).auto == kind


@pytest.mark.parametrize("ctype, kind", [
    ('multipart/report; report-type=delivery-status; boundary="b"', "bounce"),
    ('multipart/report; report-type="delivery-status"; boundary="b"', "bounce"),
    ('multipart/report; report-type=disposition-notification; boundary="b"', "receipt"),
])
def test_reports_are_automatic(ctype, kind):
    assert parse(_mail({}, TITLE, ctype)).auto == kind


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.test", "postmaster@example.test"])
def test_mail_from_the_mail_system_is_a_bounce(sender):
    raw = _mail({}, "退回的邮件").replace(b"From: ", b"X-Old-From: ", 1)
    assert parse(b"From: " + sender.encode() + b"\r\n" + raw).auto == "bounce"


@pytest.mark.parametrize("subject", [
    "自动回复：关于购置办公设备的请示", "自动回复: 【办请〔2026〕7号】请审批：关于购置办公设备的请示",
    "自動回覆：請審批", "自动答复: 请审批", "自动应答：请审批", "Automatic reply: 请审批", "automatic reply:x",
    "Auto reply: 请审批", "Auto-Reply: x", "AutoReply: x", "Auto Response: x", "Out of Office: 请审批",
    "Out of the office: x", "Out of Office AutoReply: x", "外出：请审批", "休假：请审批", "【自动回复】请审批",
    "[自动回复] 请审批", "（外出）请审批", "Vacation: x", "Abwesenheitsnotiz: x", "Réponse automatique : x",
    "  自动回复 ：关于" + TITLE, "[External] Automatic reply: x", "自动回复：" + TITLE,
])
def test_an_out_of_office_prefix_is_automatic(subject):
    assert parse(_mail({}, subject)).auto == "out-of-office"


@pytest.mark.parametrize("subject", [
    "Undeliverable: 请审批", "Undelivered Mail Returned to Sender", "Delivery Status Notification (Failure)",
    "Delivery Status Notification (Delay)", "Mail delivery failed: returning message to sender",
    "Returned mail: see transcript for details", "failure notice", "系统退信", "退信：关于购置办公设备的请示",
    "退信通知：x", "邮件投递失败：x", "【系统退信】x", "Delivery Failure: x", "Nicht zustellbar: x",
])
def test_a_bounce_subject_is_a_bounce(subject):
    assert parse(_mail({}, subject)).auto == "bounce"


@pytest.mark.parametrize("subject", [
    TITLE,
    "关于2027年春节休假安排的请示（第一分公司）",
    "休假安排的请示",
    "外出学习培训经费的请示",
    "关于建立自动回复系统的请示",
    "关于处理退信问题的请示",
    "关于职工带薪休假（年休假）的请示",
    "关于vacation policy的请示",
    "Request for approval: out of office policy",
    "Out of office policy for 2027",
    "关于undeliverable邮件处理的请示",
    f"回复：【办请〔2026〕7号】请审核拟办：{TITLE} 〔流转码：AB23CD〕",
    f"回复: 【办请〔2026〕7号】已受理：《{TITLE}》已进入审批",
    f"Re: 【办请〔2026〕7号】请审批：{TITLE}",
    f"答复：【办请〔2026〕7号】回执：《{TITLE}》已收悉",
    "【办请〔2026〕7号】审批结果：《关于外出：考察的请示》已批准",
    "回复：自动回复：请审批",          # a person answering an automatic reply
    "转发：Undeliverable: 请审批",
    "查询 办请〔2026〕7号",
    "",
])
def test_words_inside_a_title_or_our_subject_are_not_automatic(subject):
    assert parse(_mail({}, subject)).auto is None


_WORDS = st.sampled_from(["休假", "外出", "自动回复", "自动答复", "退信", "系统退信", "vacation", "absence",
                          "Out of Office", "Undeliverable", "Automatic reply", "不在办公室", "投递失败"])
_TEXT = st.text(alphabet=st.sampled_from("春节年度安排经费的调整工作人员2027：:（）"), max_size=12)


@settings(max_examples=examples(300), deadline=None)
@given(before=_TEXT, word=_WORDS, after=_TEXT, number=st.integers(1, 999),
       kind=st.sampled_from(["请审批", "请审核拟办", "已受理", "回执", "审批结果"]),
       prefix=st.sampled_from(["", "回复：", "Re: ", "答复: ", "RE：", "转发："]))
def test_a_request_title_with_any_such_word_and_every_reply_to_it_are_a_persons_mail(before, word, after, number,
                                                                                     kind, prefix):
    title = f"关于{before}{word}{after}的请示"
    assert parse(_mail({}, title)).auto is None
    assert parse(_mail({}, f"{prefix}【办请〔2026〕{number}号】{kind}：《{title}》")).auto is None

"""The 交办 reply reader (SPEC §6.4) against replies as people type them: every keyword with the punctuation,
spaces, full-width forms, brackets, line breaks, greetings and signatures seen in office mail; negations and
questions, which are never read as the keyword; keywords only in the quoted part of a reply, as the clients of
shared notes quote (Outlook, QQ/Exmail, Foxmail, 163, iPhone), in text and HTML-only mail. Pure: no database."""

from __future__ import annotations

import base64
import time
from html import escape

import pytest

from daemon import mime, replies
from daemon.flows.base import number_pattern
from daemon.jiaoban.reader import Word, is_greeting, read

W = Word
NUMBERS = number_pattern("督办〔{year}〕{seq}号")

# (what the person typed, the word read, the text after it or None when not checked)
CASES: list[tuple[str, Word, str | None]] = [
    # 进展 in every shape people type it
    ("进展：已与安全科对接", W.PROGRESS, "已与安全科对接"), ("进展:已与安全科对接", W.PROGRESS, "已与安全科对接"),
    ("进展 已与安全科对接", W.PROGRESS, "已与安全科对接"), ("进展　已与安全科对接", W.PROGRESS, "已与安全科对接"),
    ("进展﹕初稿已完成", W.PROGRESS, "初稿已完成"), ("进展，初稿已完成", W.PROGRESS, "初稿已完成"),
    ("进展。初稿已完成", W.PROGRESS, "初稿已完成"), ("进展\n初稿已完成", W.PROGRESS, "初稿已完成"),
    ("进展：\n\n初稿已完成", W.PROGRESS, "初稿已完成"), ("【进展】初稿已完成", W.PROGRESS, "初稿已完成"),
    ("[进展]初稿已完成", W.PROGRESS, "初稿已完成"), ("〔进展〕初稿已完成", W.PROGRESS, "初稿已完成"),
    ("［进展］初稿已完成", W.PROGRESS, "初稿已完成"), ("（进展）初稿已完成", W.PROGRESS, "初稿已完成"),
    ("进展情况：初稿已完成", W.PROGRESS, "初稿已完成"), ("进展汇报：初稿已完成", W.PROGRESS, "初稿已完成"),
    ("  进展：初稿已完成  ", W.PROGRESS, "初稿已完成"), ("\u200b进展：初稿已完成", W.PROGRESS, "初稿已完成"),
    ("\ufeff进展：初稿已完成", W.PROGRESS, "初稿已完成"), ("进展：初稿已完成\r\n下周报送", W.PROGRESS, None),
    ("进展", W.PROGRESS, ""), ("进展缓慢，请协调", W.TEXT, None), ("进展顺利", W.TEXT, None),
    # 办结 / 复命
    ("办结：通报初稿见附件", W.REPORT, "通报初稿见附件"), ("办结:通报初稿见附件", W.REPORT, "通报初稿见附件"),
    ("办结。", W.REPORT, ""), ("办结", W.REPORT, ""), ("办结！", W.REPORT, ""), ("办结 通报见附件", W.REPORT, None),
    ("【办结】通报见附件", W.REPORT, "通报见附件"), ("复命：已按要求完成", W.REPORT, "已按要求完成"),
    ("办结：\n一、完成情况\n二、存在问题\n三、后续意见", W.REPORT, None),
    ("办结：已完成，未发现问题", W.REPORT, "已完成，未发现问题"),
    ("已办结", W.TEXT, None), ("已办结，报告见附件", W.TEXT, None), ("未办结", W.TEXT, None),
    ("尚未办结", W.TEXT, None), ("尚未办结，预计下周完成", W.TEXT, None), ("不办结", W.TEXT, None),
    ("办结情况如下", W.TEXT, None), ("办结报告见附件", W.TEXT, None),
    ("办结了吗？", W.DOUBT, None), ("办结了吗", W.DOUBT, None), ("办结？", W.DOUBT, None), ("办结?", W.DOUBT, None),
    ("办结吗", W.DOUBT, None), ("办结了没有", W.DOUBT, None), ("办结，对吗？", W.DOUBT, None),
    ("办结，可以吗", W.DOUBT, None), ("办结：是否还需要报送纸质件？", W.DOUBT, None),
    ("办结：尚未完成", W.DOUBT, None), ("办结：目前还没有办完，下周报", W.DOUBT, None),
    ("复命：因故未能完成", W.DOUBT, None), ("办结不了", W.DOUBT, None), ("办结了", W.DOUBT, None),
    # 协办完毕
    ("协办完毕：问题清单见附件", W.CO_DONE, "问题清单见附件"), ("协办完毕", W.CO_DONE, ""),
    ("协办完毕。", W.CO_DONE, ""), ("协办完毕：尚未完成核对", W.DOUBT, None), ("协办完毕？", W.DOUBT, None),
    ("协办", W.TEXT, None),
    # 签收 / 收到
    ("签收", W.SIGN, ""), ("签收。", W.SIGN, ""), ("收到", W.SIGN, ""), ("收到！", W.SIGN, ""),
    ("收到，马上办", W.SIGN, "马上办"), ("收到了，谢谢", W.SIGN, "谢谢"), ("收到了", W.SIGN, ""),
    ("收到啦", W.SIGN, ""), ("【签收】", W.SIGN, ""), ("收到通知后立即部署", W.TEXT, None),
    # 申请延期 / 请求协调 / 申请改派: questions are their nature
    ("申请延期：12月8日前，因数据未齐", W.EXTEND, "12月8日前，因数据未齐"),
    ("申请延期：能否延至12月8日？", W.EXTEND, "能否延至12月8日？"), ("申请延期", W.EXTEND, ""),
    ("请求协调：需财务科提供数据", W.COORDINATE, "需财务科提供数据"),
    ("请求协调：能否请财务科提供数据？", W.COORDINATE, None),
    ("申请改派：此事宜由财务科承办", W.REASSIGN, "此事宜由财务科承办"),
    ("申请改派：是否改由财务科承办更合适？", W.REASSIGN, None),
    # the leader on the 延期申请 (the 请示 reader decides; here only the first word)
    ("同意延期", W.TEXT, None), ("不同意延期", W.TEXT, None), ("同意", W.APPROVE, ""), ("同意。", W.APPROVE, ""),
    ("不同意：请按期完成", W.REJECT, "请按期完成"), ("不同意", W.REJECT, ""), ("同意见", W.TEXT, None),
    ("同意吗？", W.DOUBT, None), ("同意不了", W.DOUBT, None), ("不同意？", W.DOUBT, None),
    # the leader on the 请阅示
    ("阅", W.READ, ""), ("阅。", W.READ, ""), ("阅。请印发", W.READ, "请印发"), ("阅，请印发", W.READ, "请印发"),
    ("已阅", W.READ, ""), ("已阅。", W.READ, ""), ("已阅，但请补充……", W.READ, "但请补充……"),
    ("可以", W.READ, ""), ("可以。请印发", W.READ, "请印发"), ("阅知", W.TEXT, None), ("阅处", W.TEXT, None),
    ("阅，是否印发？", W.DOUBT, None), ("已阅？", W.DOUBT, None), ("可以吗？", W.DOUBT, None), ("可以不？", W.DOUBT, None),
    ("可以不办", W.DOUBT, None), ("继续办理：请补充典型案例", W.CONTINUE, "请补充典型案例"),
    ("继续办理", W.CONTINUE, ""), ("重办：数据有误", W.CONTINUE, "数据有误"), ("继续办理吗？", W.DOUBT, None),
    ("阅。退回重写", W.DOUBT, None), ("阅\n请综合科再核一下数据", W.DOUBT, None), ("已阅，重办", W.DOUBT, None),
    ("阅。继续办理：补数据", W.DOUBT, None), ("同意。不行的话再说", W.DOUBT, None), ("阅。请继续跟进", W.READ, None),
    ("阅，请按此办理", W.READ, None), ("阅，很好，辛苦了", W.READ, None),
    ("好的", W.TEXT, None), ("好", W.TEXT, None), ("OK", W.TEXT, None), ("ok", W.TEXT, None), ("ＯＫ", W.TEXT, None),
    ("谢谢", W.TEXT, None), ("辛苦了", W.TEXT, None), ("知道了", W.TEXT, None),
    # 撤销 / 更正
    ("撤销：重复交办", W.WITHDRAW, "重复交办"), ("撤销", W.WITHDRAW, ""), ("撤销。", W.WITHDRAW, ""),
    ("撤销吗", W.DOUBT, None), ("撤销？", W.DOUBT, None), ("撤销，可以吗？", W.DOUBT, None), ("撤销不了", W.DOUBT, None),
    ("撤销了", W.DOUBT, None), ("不撤销", W.TEXT, None), ("暂不撤销", W.TEXT, None), ("先不撤销", W.TEXT, None),
    ("撤销的事再议", W.TEXT, None),
    ("更正：\n时限：12月8日前", W.CORRECT, ""), ("更正 时限：12月8日前", W.CORRECT, ""), ("更正？", W.DOUBT, None),
    # office staff
    ("派发", W.DISPATCH, ""), ("派发。", W.DISPATCH, ""), ("派发\n时限：12月5日前\n承办：综合科", W.DISPATCH, ""),
    ("派发 时限：12月5日前", W.DISPATCH, ""), ("派发？", W.DOUBT, None), ("派发吗", W.DOUBT, None),
    ("派发不了", W.DOUBT, None), ("派发，是否妥当？", W.DOUBT, None), ("不派发", W.TEXT, None),
    ("暂不派发", W.TEXT, None), ("派发给谁", W.TEXT, None),
    ("询问：时限是否为12月5日？", W.ASK, "时限是否为12月5日？"), ("询问", W.ASK, ""),
    ("作废：重复登记", W.VOID, "重复登记"), ("作废？", W.DOUBT, None), ("不作废", W.TEXT, None),
    ("核报", W.CHECKED, ""), ("核报\n核报意见：如实", W.CHECKED, ""), ("核报？", W.DOUBT, None),
    ("退回：请补充数据", W.SEND_BACK, "请补充数据"), ("退回吗", W.DOUBT, None),
    ("维持：仍由综合科承办", W.KEEP, "仍由综合科承办"), ("催办", W.REMIND, ""),
    ("催办一下？", W.TEXT, None), ("查询", W.QUERY, ""), ("查询 督办〔2026〕3号", W.QUERY, None),
    # greetings before the keyword
    ("李主任：\n办结：通报见附件", W.REPORT, "通报见附件"), ("各位领导：\n办结：通报见附件", W.REPORT, "通报见附件"),
    ("李总，您好！\n进展：初稿已完成", W.PROGRESS, "初稿已完成"), ("您好：\n签收", W.SIGN, ""),
    ("王总：\n\n阅。请印发", W.READ, "请印发"), ("尊敬的李副总：\n您好！\n办结：见附件", W.REPORT, "见附件"),
    ("办公室：\n申请延期：12月8日前", W.EXTEND, "12月8日前"), ("李主任：\n办结了吗？", W.DOUBT, None),
    ("李主任：\n谢谢", W.TEXT, None), ("李主任：", W.TEXT, None), ("各位：\n收到", W.SIGN, ""),
    ("关于通报的事：\n办结：见附件", W.TEXT, None),        # no greeting: a sentence before the keyword
    ("今天上午开会研究了\n办结：见附件", W.TEXT, None),
    ("李主任：\n张科长：\n李处长：\n办结", W.TEXT, None),    # more greetings than people write: as written
    # signatures below the word do not change it
    ("办结：见附件\n\n综合科 张三\n电话：12345678", W.REPORT, None), ("收到\n--\n安全科", W.SIGN, None),
    ("阅\n李明\n2026年12月4日", W.READ, None),
    # an item number or a matter's number before the word (a reply to a reminder list)
    ("2 进展：数据已收齐", W.PROGRESS, "数据已收齐"), ("第2项 进展：数据已收齐", W.PROGRESS, "数据已收齐"),
    ("2. 办结：见附件", W.REPORT, "见附件"), ("2、签收", W.SIGN, ""), ("12月5日前办结", W.TEXT, None),
    ("2026年工作已办结", W.TEXT, None),
]


@pytest.mark.parametrize(("text", "word", "rest"), CASES, ids=[c[0][:24] for c in CASES])
def test_the_reader_reads_what_the_person_meant(text, word, rest):
    said = read(text, NUMBERS)
    assert said.word == word, (text, said)
    if rest is not None:
        assert said.text == rest
    if word == W.DOUBT:
        assert said.doubt and said.doubted is not None


def test_the_table_is_large_enough():
    assert len(CASES) >= 150


DECISIVE_WORDS = ("办结", "复命", "协办完毕", "撤销", "更正", "派发", "作废", "核报", "退回", "阅", "已阅", "同意",
                  "不同意", "可以", "继续办理", "重办", "维持")
QUESTIONS = ("？", "?", "吗", "吗？", "了吗？", "了没有", "，对吗？", "，可以吗", "，是否妥当？", "，能否？", "，行不行")
NEGATIONS = ("不了", "不得", "不成", "不能", "不行", "没")


@pytest.mark.parametrize("word", DECISIVE_WORDS)
def test_a_decisive_word_asked_or_negated_is_never_the_word(word):
    for tail in QUESTIONS + NEGATIONS:
        said = read(word + tail)
        assert said.word in (W.DOUBT, W.TEXT), (word + tail, said.word)
    for head in ("不", "未", "尚未", "暂不", "先不", "没有", "别", "不要", "是否", "能否"):
        assert read(head + word + "：xx").word in (W.TEXT, W.DOUBT, W.REJECT), head + word
    assert read(word + "：xx").word not in (W.TEXT, W.DOUBT)


def test_a_greeting_line_is_a_greeting_only():
    assert is_greeting("李主任：") and is_greeting("各位领导：") and is_greeting("王总，您好！")
    assert is_greeting("您好") and is_greeting("尊敬的李副总：")
    for line in ("办结：", "关于通报的事：", "今天上午开会研究了", "请综合科牵头落实：", "撤销："):
        assert not is_greeting(line), line


def test_the_element_lines_are_kept_apart_from_the_text():
    said = read("派发\n内容：起草通报\n时限：12月5日前\n要求：不超过两页。\n承办：综合科\n协办：安全科，财务科")
    assert said.word == W.DISPATCH
    assert said.fields == {"内容": ["起草通报"], "时限": ["12月5日前"], "要求": ["不超过两页。"], "承办": ["综合科"],
                           "协办": ["安全科，财务科"]}
    assert said.text == ""
    doubted = read("派发？\n时限：12月5日前")
    assert doubted.word == W.DOUBT and doubted.fields == {"时限": ["12月5日前"]}


def test_a_number_at_the_head_is_set_apart():
    said = read("督办〔2026〕3号 办结：见附件", NUMBERS)
    assert (said.number, said.word, said.text) == ("督办〔2026〕3号", W.REPORT, "见附件")
    # a number of the 请示 series is no 交办 number: the line is read as written
    other = read("办请〔2026〕1号 办结：见附件", NUMBERS)
    assert other.number == "" and other.word == W.TEXT


# ---------------------------------------------------------------- keywords in the quote only

NUMBER = "督办〔2026〕3号"
SUBJECT = f"【{NUMBER}】交办通知单：起草年度安全生产检查通报"
OFFICE = "office@t.test"
NOTICE_LINES = [
    "〔流转码：K7Q2M9〕集团公司办公室 交办通知单",
    f"编号：{NUMBER}",
    "办结：请于12月4日（周五）前办结并报告结果",
    "撤销：本件如有变化另行通知",
    "请直接回复本邮件，首行写明：进展：…… / 办结：…… / 申请延期：……",
]
NOTICE = "\n".join(NOTICE_LINES)
NOTICE_HTML = '<div id="officeflow-mail">' + "".join(f"<p>{escape(x)}</p>" for x in NOTICE_LINES) + "</div>"


def _h(text: str) -> str:
    return "".join(f"<div>{escape(line) or '<br>'}</div>" for line in text.split("\n"))


def _q(lines: list[str]) -> str:
    return "\n".join("> " + x for x in lines)


# client: (text body, html body) builders around the person's own text, as shared notes show them
CLIENTS = {
    "outlook": (lambda t: f"{t}\n\n发件人: 集团公司办公室 <{OFFICE}>\n发送时间: 2026年12月2日 9:30\n"
                          f"收件人: 综合科 <zonghe@t.test>\n主题: {SUBJECT}\n\n{NOTICE}\n",
                lambda t: f"<div class=\"WordSection1\">{_h(t)}<div id=\"divRplyFwdMsg\"><b>发件人:</b> 集团公司办公室</div>"
                          f"{NOTICE_HTML}</div>"),
    "qq": (lambda t: f"{t}\n\n\n------------------ 原始邮件 ------------------\n发件人: \"集团公司办公室\"<{OFFICE}>;\n"
                     f"发送时间: 2026年12月2日(星期三) 上午9:30\n主题: {SUBJECT}\n\n{NOTICE}\n",
           lambda t: f"<div>{_h(t)}</div><div id=\"original-content\"><div>------------------&nbsp;原始邮件"
                     f"&nbsp;------------------</div>{NOTICE_HTML}</div>"),
    "foxmail": (lambda t: f"{t}\n\n\n发件人： 集团公司办公室<mailto:{OFFICE}>\n发送时间： 2026-12-02 09:30\n"
                          f"收件人： 综合科<mailto:zonghe@t.test>\n主题： {SUBJECT}\n\n{NOTICE}\n",
                lambda t: f"{_h(t)}<blockquote><div style=\"border:none;border-top:solid #B5C4DF 1.0pt\"><b>发件人：</b>"
                          f"集团公司办公室</div>{NOTICE_HTML}</blockquote>"),
    "163": (lambda t: f"{t}\n\n在 2026-12-02 09:30:12，\"集团公司办公室\" <{OFFICE}> 写道：\n{_q(NOTICE_LINES)}\n",
            lambda t: f"<div>{_h(t)}</div><div id=\"isReplyContent\"><div>在 2026-12-02 09:30:12，集团公司办公室 写道：</div>"
                      f"<blockquote>{NOTICE_HTML}</blockquote></div>"),
    "iphone": (lambda t: f"{t}\n\n发自我的iPhone\n\n> 在 2026年12月2日，上午9:30，集团公司办公室 <{OFFICE}> 写道：\n> \n"
                         f"{_q(NOTICE_LINES)}\n",
               lambda t: f"<div dir=\"ltr\">{_h(t)}<br><br><div>发自我的iPhone</div><blockquote type=\"cite\">"
                         f"在 2026年12月2日，上午9:30，集团公司办公室 写道：<br>{NOTICE_HTML}</blockquote></div>"),
}


def _mail(client: str, text: str, kind: str) -> mime.ParsedMail:
    plain, rich = CLIENTS[client]

    def part(ctype: str, body: str) -> str:
        return (f"Content-Type: {ctype}; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                + base64.encodebytes(body.encode("utf-8")).decode("ascii"))
    subject = base64.b64encode(("回复：" + SUBJECT).encode()).decode()
    head = (f"From: zonghe@t.test\r\nTo: {OFFICE}\r\nSubject: =?utf-8?B?{subject}?=\r\n"
            f"Message-ID: <r-{abs(hash((client, text, kind)))}@t.test>\r\nMIME-Version: 1.0\r\n")
    html = f"<html><body>{rich(text)}</body></html>"
    if kind == "text":
        raw = head + part("text/plain", plain(text))
    elif kind == "html":
        raw = head + part("text/html", html)
    else:
        raw = (head + "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n"
               + part("text/plain", plain(text))
               + "\r\n--b1\r\n" + part("text/html", html) + "\r\n--b1--\r\n")
    return mime.parse(raw.encode("ascii"))


QUOTED = [("好的", W.TEXT), ("收到", W.SIGN), ("谢谢，我们抓紧", W.TEXT), ("办结：通报初稿见附件", W.REPORT),
          ("进展：初稿已完成", W.PROGRESS), ("办结了吗？", W.DOUBT), ("李主任：\n办结：见附件", W.REPORT)]


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize("kind", ["text", "html", "both"])
def test_a_keyword_only_in_the_quote_does_not_count(client, kind):
    for text, word in QUOTED:
        new = replies.new_text(_mail(client, text, kind))
        said = read(new, NUMBERS)
        assert said.word == word, (client, kind, text, new)
        assert "请于12月4日" not in said.text and "本件如有变化" not in said.text


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_an_empty_reply_above_a_quote_full_of_keywords_is_no_keyword(client):
    for kind in ("text", "html", "both"):
        said = read(replies.new_text(_mail(client, "", kind)), NUMBERS)
        assert said.word in (W.TEXT,), (client, kind, said)


# ---------------------------------------------------------------- hostile text, bounded in time

def _fast(text: str, limit: float = 1.0) -> object:
    start = time.perf_counter()
    said = read(text, NUMBERS)
    assert time.perf_counter() - start < limit, len(text)
    return said


def test_hostile_text_is_read_in_bounded_time():
    assert _fast("进展：" + "很长的进展。" * 200_000).word == W.PROGRESS                     # 1.2 MB one line
    assert _fast("办结：\n" + "\n".join(f"第{i}行" for i in range(20_000))).word == W.REPORT
    assert _fast("派发\n" + "\n".join(f"要求：第{i}条" for i in range(300))).fields["要求"][-1] == "第299条"
    assert _fast("李主任：" * 50_000).word == W.TEXT                                     # a greeting line 200 kB long
    assert _fast("\n" * 100_000 + "办结").word == W.REPORT
    assert _fast("督办〔2026〕3号" * 20_000 + " 办结").word in (W.TEXT, W.REPORT)
    assert _fast("【" * 100_000 + "办结").word == W.TEXT
    assert _fast("办结" + "？" * 100_000).word == W.DOUBT
    assert _fast("撤销，" + "是" * 100_000 + "吗").word in (W.WITHDRAW, W.DOUBT)


def test_control_characters_are_read_as_a_client_shows_them():
    # a client shows no control characters: the word is what the person sees
    assert read("\x00\x07办\x1b结：见附件\x7f").word == W.REPORT
    assert read("办结\x00：见附件").text == "见附件"
    assert read("\x0c办结：见附件").word == W.REPORT         # a form feed is a line break before the word
    assert read("\x1b撤销\x1b吗").word == W.DOUBT
    assert read("\x00" * 100_000).word == W.TEXT


def test_the_word_as_written_is_kept_for_the_answer():
    assert [read(t).written for t in ("收到", "【已阅】", "复命：见附件", "好的", "撤销吗")] == ["收到", "已阅", "复命", "", "撤销"]


def test_a_number_alone_on_the_first_line_is_read_past():
    said = read("督办〔2026〕3号\n办结：见附件", NUMBERS)
    assert (said.number, said.word, said.text) == ("督办〔2026〕3号", W.REPORT, "见附件")
    assert read("督办〔2026〕3号\n\n撤销吗", NUMBERS).word == W.DOUBT
    assert read("督办〔2026〕3号\n督办〔2026〕4号\n办结", NUMBERS).word == W.TEXT     # two numbers: which?
    assert read("督办〔2026〕3号", NUMBERS).word == W.TEXT
    said = read("李主任：\n督办〔2026〕3号 办结：见附件", NUMBERS)
    assert (said.number, said.word, said.text) == ("督办〔2026〕3号", W.REPORT, "见附件")
    assert read("各位：\n2 进展：数据已收齐", NUMBERS).item == 2

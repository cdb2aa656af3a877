"""Reply sentences with the decision they state, and the reply formats of real mail clients to put them in."""

from __future__ import annotations

import base64
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from html import escape

from daemon.replies import Verb, fingerprint

A, C, R, T, U = Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS, Verb.REJECT, Verb.RETURN, Verb.UNKNOWN

# (new text, verb, opinion or None when not checked, target or None)
CASES: list[tuple[str, Verb, str | None, str | None]] = [
    # plain approvals
    ("同意", A, "", None), ("同意。", A, "", None), ("同意！", A, "", None), ("同 意", A, "", None),
    ("同　意。", A, "", None), ("批准", A, "", None), ("批准。", A, "", None), ("照办", A, "", None),
    ("可以", A, "", None), ("可以。", A, "", None), ("准予", A, "", None), ("照准。", A, "", None),
    ("同意。请行政科按规定办理。", A, "请行政科按规定办理。", None),
    ("同意，请综合科抓紧落实。", A, "请综合科抓紧落实。", None),
    ("同意按拟办意见办理。", A, "按拟办意见办理。", None),
    ("批准，请按程序采购。", A, "请按程序采购。", None),
    ("同意。\n李明\n2026年3月2日", A, "李明\n2026年3月2日", None),
    ("已阅，同意。", A, None, None), ("阅，同意", A, None, None), ("拟同意。", A, None, None),
    ("没有不同意见。", A, None, None), ("无不同意见", A, None, None), ("无异议。", A, None, None),
    ("没有异议，请办理。", A, None, None), ("不反对。", A, None, None), ("非常同意。", A, None, None),
    ("我同意。", A, None, None), ("经研究，同意。", A, None, None), ("按拟办意见办理。", A, None, None),
    ("approve", A, "", None), ("Approve.", A, "", None), ("approved", A, "", None), ("Approved!", A, "", None),
    ("APPROVED", A, "", None), ("LGTM", A, "", None), ("lgtm, thanks", A, None, None), ("yes", A, "", None),
    ("Yes.", A, "", None), ("I agree.", A, None, None), ("No objection.", A, None, None),
    ("No problem, go ahead.", A, None, None),
    ("ＯＫ同意", A, None, None), ("同意（请控制在预算内）", A, None, None),
    # approval with conditions
    ("原则同意", C, "", None), ("原则同意。", C, "", None),
    ("原则同意，但金额须压缩至5万元以内。", C, "但金额须压缩至5万元以内。", None),
    ("原则上同意，请财务科再核一次预算。", C, None, None), ("基本同意。", C, None, None),
    ("有条件同意：须先完成比价。", C, None, None), ("修改后同意。", C, None, None),
    ("同意，但需报集团备案。", C, "但需报集团备案。", None), ("同意，不过数量减半。", C, None, None),
    ("同意，前提是不超预算。", C, None, None), ("原则批准。", C, None, None),
    ("可以，但要控制规模。", C, None, None), ("approved with conditions: keep it under budget", C, None, None),
    ("Approve, but please cut the cost.", C, None, None),
    # rejections
    ("不同意", R, "", None), ("不同意。", R, "", None), ("不同意。预算超标。", R, "预算超标。", None),
    ("不同意，理由：不符合采购制度。", R, "理由：不符合采购制度。", None), ("不予同意。", R, "", None),
    ("暂不同意。", R, "", None), ("不能同意。", R, "", None), ("无法同意", R, None, None),
    ("难以同意。", R, None, None), ("不批准。", R, "", None), ("不予批准", R, None, None),
    ("暂不批准，明年再议。", R, None, None), ("否决。", R, None, None), ("驳回。", R, None, None),
    ("不同意，先把方案做细。", R, None, None), ("我不同意这个方案。", R, None, None),
    ("不可以。", R, None, None), ("不行。", R, None, None), ("反对。", R, None, None),
    ("未同意。", R, None, None), ("不 同 意", R, None, None), ("不同意！", R, None, None),
    ("reject", R, "", None), ("Rejected.", R, "", None), ("not approved", R, None, None),
    ("Not approved.", R, None, None), ("declined", R, None, None), ("Declined, too expensive.", R, None, None),
    ("I don't approve this.", R, None, None), ("I cannot approve this.", R, None, None), ("no", R, "", None),
    ("No.", R, "", None), ("denied", R, None, None), ("I disagree.", R, None, None),
    # return
    ("退回", T, "", None), ("退回：请补充预算明细。", T, "请补充预算明细。", None),
    ("退回: 请按公文格式重写。", T, "请按公文格式重写。", None), ("退回修改：附件不全。", T, None, None),
    ("修改后再报。", T, None, None), ("修改后再报", T, "", None), ("return", T, "", None),
    ("Return.", T, "", None), ("请退回修改。", T, None, None),
    # transfer, add signer
    ("转：李副总", Verb.TRANSFER, "", "李副总"), ("转: 李副总", Verb.TRANSFER, "", "李副总"),
    ("转交 李副总", Verb.TRANSFER, "", "李副总"), ("转交李副总审批。", Verb.TRANSFER, "", "李副总"),
    ("转给王副总处理", Verb.TRANSFER, "", "王副总"), ("转：li", Verb.TRANSFER, "", "li"),
    ("转：wang@example.test", Verb.TRANSFER, "", "wang@example.test"),
    ("转：李副总\n此事由他分管。", Verb.TRANSFER, "此事由他分管。", "李副总"),
    ("加签：王总", Verb.ADD_SIGNER, "", "王总"), ("加签: 财务科", Verb.ADD_SIGNER, "", "财务科"),
    ("加签 审计科", Verb.ADD_SIGNER, "", "审计科"),
    # withdraw, query, remind, done
    ("撤回", Verb.WITHDRAW, "", None), ("撤回。此事已另行解决。", Verb.WITHDRAW, "此事已另行解决。", None),
    ("查询", Verb.QUERY, "", ""), ("查询 办请〔2026〕7号", Verb.QUERY, "", "办请〔2026〕7号"),
    ("查询办请〔2026〕12号", Verb.QUERY, "", "办请〔2026〕12号"), ("催办", Verb.REMIND, "", None),
    ("催办。", Verb.REMIND, "", None), ("办结：已完成采购并入库。", Verb.DONE, "已完成采购并入库。", None),
    ("办结", Verb.DONE, "", None), ("已办结：设备已到位。", Verb.DONE, "设备已到位。", None),
    # not understood
    ("阅", U, None, None), ("已阅", U, None, None), ("已阅。", U, None, None), ("收到", U, None, None),
    ("收到，谢谢。", U, None, None), ("同意吗？", U, None, None), ("同意吗", U, None, None),
    ("是否同意？", U, None, None), ("能否同意", U, None, None), ("可否批准？", U, None, None),
    ("同意?", U, None, None), ("同意？", U, None, None), ("同意。不同意。", U, None, None),
    ("同意，不批准", U, None, None), ("不是不同意", U, None, None), ("并非不同意", U, None, None),
    ("同意しない", U, None, None), ("今は同意しない", U, None, None), ("同意します", U, None, None),
    ("好的", U, None, None), ("好的，收到", U, None, None), ("ok", U, None, None), ("OK!", U, None, None),
    ("行", U, None, None), ("嗯", U, None, None), ("可以考虑", U, None, None), ("可以吗？", U, None, None),
    ("请示收悉，研究后答复。", U, None, None), ("有不同意见，电话沟通。", U, None, None),
    ("approve?", U, None, None), ("approved? not yet", U, None, None), ("approve and reject", U, None, None),
    ("yes, rejected", U, None, None), ("同意，修改后再报。", U, None, None), ("ok，不同意", R, None, None),
    ("我看看再说", U, None, None), ("请稍等，我在外地出差。", U, None, None), ("", U, None, None),
    ("谢谢", U, None, None), ("不予受理", U, None, None), ("没有不同意", U, None, None),
]

# Generated: verdicts combined with opinions, so every verdict is seen with ordinary opinion text.
_OPINIONS = ["请财务科按规定办理。", "注意控制成本。", "请综合科牵头落实。", "报集团备案。"]
for _word, _verb in [("同意", A), ("批准", A), ("不同意", R), ("不予批准", R), ("暂不同意", R), ("照办", A)]:
    for _op in _OPINIONS:
        for _sep in ("。", "，", "\n"):
            CASES.append((_word + _sep + _op, _verb, _op, None))

# ------------------------------------------------------------------ our notification, quoted

CODE = "K7Q2M9"
NUMBER = "办请〔2026〕7号"
OUR_SUBJECT = f"【{NUMBER}】请审批：关于购置办公设备的请示"
OFFICE = "office@example.test"
NOTICE_LINES = [
    f"{fingerprint(CODE)}集团公司办公室 报批材料审批",
    f"请审批：关于购置办公设备的请示（{NUMBER}）",
    "拟办意见：拟同意，请财务科审核后报李副总审批。",
    "请直接回复本邮件，首行写明意见，例如：同意 / 不同意：理由 / 退回：修改意见 / 转：姓名。",
]
NOTICE_HTML = ('<div id="officeflow-mail">' + "".join(f"<p>{escape(x)}</p>" for x in NOTICE_LINES) + "</div>")


def _h(text: str) -> str:
    return "".join(f"<div>{escape(line) or '<br>'}</div>" for line in text.split("\n"))


def _q(lines: list[str]) -> str:
    return "\n".join("> " + x if x else ">" for x in lines)


NOTICE = "\n".join(NOTICE_LINES)
QQ_SIGN_HTML = ('<div><br></div><div><sign signid="1"><div><div style="color:#909090;font-family:Arial Narrow;'
                'font-size:12px">------------------</div></div><div style="font-size:14px;font-family:Verdana;'
                'color:#000;"><div><font color="#808080">李副总&nbsp;集团公司副总经理</font></div>'
                '<div><font color="#808080">电话：010-12345678</font></div></div></sign></div>')
ATTR_DATE = "2026-03-02 09:30:12"

# Each client: (reply subject prefix, text body builder, html body builder or None, signature below the answer)
CLIENTS: dict[str, tuple[str, object, object]] = {
    "qq": ("回复：",
           lambda t: f"{t}\n\n\n------------------ 原始邮件 ------------------\n发件人: \"集团公司办公室\"<{OFFICE}>;\n"
                     f"发送时间: 2026年3月2日(星期一) 上午9:30\n收件人: \"李副总\"<li@example.test>;\n主题: {OUR_SUBJECT}\n\n{NOTICE}\n",
           lambda t: f"<div>{_h(t)}</div><div><br></div><div id=\"original-content\"><div style=\"font-size:12px\">"
                     f"<div>------------------&nbsp;原始邮件&nbsp;------------------</div><div><b>发件人:</b>&nbsp;集团公司办公室</div>"
                     f"<div><b>发送时间:</b>&nbsp;2026年3月2日</div></div><br>{NOTICE_HTML}</div>"),
    # QQ Mail / Exmail with a configured signature: a gray rule of 18 dashes and a name card under the answer
    "qq-signature": ("回复：",
                     lambda t: f"{t}\n\n------------------\n李副总 集团公司副总经理\n电话：010-12345678\n\n\n"
                               f"------------------ 原始邮件 ------------------\n发件人: \"集团公司办公室\"<{OFFICE}>;\n"
                               f"发送时间: 2026年3月2日(星期一) 上午9:30\n主题: {OUR_SUBJECT}\n\n{NOTICE}\n",
                     lambda t: f"<div>{_h(t)}</div>{QQ_SIGN_HTML}<div id=\"original-content\"><div style=\"font-size:12px\">"
                               f"<div>------------------&nbsp;原始邮件&nbsp;------------------</div>"
                               f"<div><b>发件人:</b>&nbsp;集团公司办公室</div></div><br>{NOTICE_HTML}</div>"),
    "foxmail": ("回复: ",
                lambda t: f"{t}\n\n\n\n发件人： 集团公司办公室<mailto:{OFFICE}>\n发送时间： 2026-03-02 09:30\n"
                          f"收件人： 李副总<mailto:li@example.test>\n主题： {OUR_SUBJECT}\n\n{NOTICE}\n",
                lambda t: f"{_h(t)}<div><br></div><blockquote style=\"margin-Top: 0px; margin-Bottom: 0px; margin-Left: 0.5em\">"
                          f"<div style=\"border:none;border-top:solid #B5C4DF 1.0pt;padding:3.0pt 0cm 0cm 0cm\"><b>发件人：</b>&nbsp;集团公司办公室</div>"
                          f"{NOTICE_HTML}</blockquote>"),
    "coremail": ("Re:",
                 lambda t: f"{t}\n\n在 {ATTR_DATE}，\"集团公司办公室\" <{OFFICE}> 写道：\n{_q(NOTICE_LINES)}\n",
                 lambda t: f"<div style=\"line-height:1.7\">{_h(t)}</div><br><div id=\"isReplyContent\">"
                           f"<div>在 {ATTR_DATE}，\"集团公司办公室\" &lt;{OFFICE}&gt; 写道：</div><blockquote>{NOTICE_HTML}</blockquote></div>"),
    "coremail-original": ("Re:Re:",
                          lambda t: f"{t}\n\n\n-----原始邮件-----\n发件人:\"集团公司办公室\" <{OFFICE}>\n"
                                    f"发送时间:2026-03-02 09:30:12 (星期一)\n收件人: li@example.test\n主题: {OUR_SUBJECT}\n\n{NOTICE}\n",
                          None),
    "mailmaster": ("回复:",
                   lambda t: f"{t}\n\n发自网易邮箱大师\n---- 回复的原邮件 ----\n发件人 集团公司办公室<{OFFICE}>\n"
                             f"发送日期 2026年03月02日 09:30\n收件人 李副总<li@example.test>\n主题 {OUR_SUBJECT}\n{NOTICE}\n",
                   lambda t: f"{_h(t)}<div class=\"ntes-mailmaster-quote\"><div>---- 回复的原邮件 ----</div>{NOTICE_HTML}</div>"),
    "outlook": ("答复: ",
                lambda t: f"{t}\n\n发件人: 集团公司办公室 <{OFFICE}>\n发送时间: 2026年3月2日 9:30\n"
                          f"收件人: 李副总 <li@example.test>\n主题: {OUR_SUBJECT}\n\n{NOTICE}\n",
                lambda t: f"<div class=\"WordSection1\">{_h(t)}<div><div style=\"border:none;border-top:solid #E1E1E1 1.0pt\">"
                          f"<p><b>发件人:</b> 集团公司办公室</p></div></div>{NOTICE_HTML}</div>"),
    "owa": ("回复: ",
            lambda t: f"{t}\n\n________________________________\n发件人: 集团公司办公室 <{OFFICE}>\n发送时间: 2026年3月2日 9:30\n"
                      f"收件人: 李副总\n主题: {OUR_SUBJECT}\n\n{NOTICE}\n",
            lambda t: f"<div id=\"divtagdefaultwrapper\">{_h(t)}</div><div id=\"appendonsend\"></div>"
                      f"<hr style=\"display:inline-block;width:98%\" tabindex=\"-1\"><div id=\"x_divRplyFwdMsg\" dir=\"ltr\">"
                      f"<b>发件人:</b> 集团公司办公室</div><div id=\"x_officeflow-mail\">{''.join(f'<p>{escape(x)}</p>' for x in NOTICE_LINES)}</div>"),
    "gmail": ("Re: ",
              lambda t: f"{t}\n\n集团公司办公室 <{OFFICE}> 于2026年3月2日周一 09:30写道：\n\n{_q(NOTICE_LINES)}\n",
              lambda t: f"<div dir=\"ltr\">{_h(t)}</div><br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">"
                        f"集团公司办公室 &lt;{OFFICE}&gt; 于2026年3月2日周一 09:30写道：<br></div><blockquote class=\"gmail_quote\">{NOTICE_HTML}</blockquote></div>"),
    "apple": ("Re: ",
              lambda t: f"{t}\n\n> 2026年3月2日 09:30，集团公司办公室 <{OFFICE}> 写道：\n> \n{_q(NOTICE_LINES)}\n",
              lambda t: f"<body>{_h(t)}<div><br><blockquote type=\"cite\"><div>2026年3月2日 09:30，集团公司办公室 "
                        f"&lt;{OFFICE}&gt; 写道：</div><br>{NOTICE_HTML}</blockquote></div></body>"),
    "ios": ("Re: ",
            lambda t: f"{t}\n\n发自我的iPhone\n\n> 在 2026年3月2日，上午9:30，集团公司办公室 <{OFFICE}> 写道：\n> \n{_q(NOTICE_LINES)}\n",
            lambda t: f"<div dir=\"ltr\">{_h(t)}<br><br><div dir=\"ltr\">发自我的iPhone</div><div dir=\"ltr\"><br><blockquote type=\"cite\">"
                      f"在 2026年3月2日，上午9:30，集团公司办公室 写道：<br>{NOTICE_HTML}</blockquote></div></div>"),
    "thunderbird": ("Re: ",
                    lambda t: f"{t}\n\n在 2026/3/2 9:30, 集团公司办公室 写道:\n{_q(NOTICE_LINES)}\n",
                    lambda t: f"<body><p>{escape(t).replace(chr(10), '<br>')}</p><div class=\"moz-cite-prefix\">在 2026/3/2 9:30, "
                              f"集团公司办公室 写道:<br></div><blockquote type=\"cite\" cite=\"mid:x@y\">{NOTICE_HTML}</blockquote></body>"),
    "thunderbird-below": ("Re: ",
                          lambda t: f"在 2026/3/2 9:30, 集团公司办公室 写道:\n{_q(NOTICE_LINES)}\n\n{t}\n",
                          None),
    "interleaved": ("Re: ",
                    lambda t: f"在 2026/3/2 9:30, 集团公司办公室 写道:\n{_q(NOTICE_LINES[:3])}\n\n{t}\n\n{_q(NOTICE_LINES[3:])}\n",
                    None),
    "outlook-en": ("RE: ",
                   lambda t: f"{t}\n\nFrom: Office <{OFFICE}>\nSent: Monday, March 2, 2026 9:30 AM\nTo: Li <li@example.test>\n"
                             f"Subject: {OUR_SUBJECT}\n\n{NOTICE}\n", None),
    "gmail-en": ("Re: ",
                 lambda t: f"{t}\n\nOn Mon, Mar 2, 2026 at 9:30 AM 集团公司办公室 <{OFFICE}> wrote:\n\n{_q(NOTICE_LINES)}\n", None),
    "unknown-client": ("Re: ", lambda t: f"{t}\n\n{NOTICE}\n", lambda t: f"{_h(t)}<br>{NOTICE_HTML}"),
    "footer": ("回复：",
               lambda t: f"{t}\n\n本邮件及其附件含有保密信息，仅限于发送给上面地址中列出的个人或群组。未经发件人同意，"
                         f"禁止任何其他人以任何形式使用本邮件中的信息。如果您错收了本邮件，请您立即通知发件人并删除本邮件！\n\n{NOTICE}\n",
               None),
}

_WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=8)))


def _part(ctype: str, body: str, charset: str) -> str:
    codec = "gb18030" if charset == "gb2312" else charset
    data = base64.encodebytes(body.encode(codec)).decode("ascii")
    return f"Content-Type: {ctype}; charset=\"{charset}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{data}"


def build_mail(client: str, text: str, *, html: bool, charset: str = "utf-8", html_only: bool = False) -> bytes:
    """Real RFC 822 bytes of a reply written in `client`, in the given charset and body structure."""
    prefix, text_body, html_body = CLIENTS[client]
    codec = "gb18030" if charset == "gb2312" else charset
    subject = base64.b64encode((prefix + OUR_SUBJECT).encode(codec)).decode()
    head = (f"From: =?{charset}?B?{base64.b64encode('李副总'.encode(codec)).decode()}?= <li@example.test>\r\n"
            f"To: {OFFICE}\r\nSubject: =?{charset}?B?{subject}?=\r\nDate: {format_datetime(_WHEN)}\r\n"
            f"Message-ID: <reply-{abs(hash((client, text, html, charset)))}@example.test>\r\n"
            f"In-Reply-To: <notice-1@example.test>\r\nReferences: <notice-1@example.test>\r\nMIME-Version: 1.0\r\n")
    plain = text_body(text)
    if html and html_body is not None:
        rich = f"<html><head><meta charset=\"{charset}\"></head><body>{html_body(text)}</body></html>"
        if html_only:
            return (head + _part("text/html", rich, charset)).encode("ascii")
        return (head + "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n" + _part("text/plain", plain, charset)
                + "\r\n--b1\r\n" + _part("text/html", rich, charset) + "\r\n--b1--\r\n").encode("ascii")
    return (head + _part("text/plain", plain, charset)).encode("ascii")

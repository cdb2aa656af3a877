"""End to end on real Dovecot + SMTP relay: an unclear 批示 is asked about with the reading officeflow sees, a
是 from that person to that question applies it, and the one-tap (mailto:) answers of every mail that asks for
a decision count like a reply, from the entitled person only."""

from __future__ import annotations

import html
import re
import urllib.parse
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from flow import Office, crlf

pytestmark = pytest.mark.mailserver

ROUTE = "受理\n拟办意见：拟同意，请李副总审批。\n流程：李副总\n执行：综合科"


def _approval(office: Office, route: str = ROUTE):
    office.send_request()
    office.run_once()
    office.reply("clerk", office.last("clerk"), route)
    office.run_once()
    return office.last("li", "请审批")


def _state(office: Office) -> str:
    return office.db().Request.get().state


def _step(office: Office):
    db = office.db()
    return db.Step.select().where(db.Step.state == "active").get()


def links(mail) -> dict[str, tuple[str, str, str]]:
    """The one-tap answers of a mail: label → (to, subject, body), decoded as a phone's mail app does."""
    out = {}
    for href, label in re.findall(r'<a href="(mailto:[^"]+)"[^>]*>([^<]+)</a>', mail.html):
        link = html.unescape(href)
        assert link.isascii() and len(link) <= 2000, link      # percent-encoded, short enough for phones
        to, _, query = link[len("mailto:"):].partition("?")
        fields = urllib.parse.parse_qs(query)
        out[label] = (urllib.parse.unquote(to), fields["subject"][0], fields["body"][0])
    return out


def compose(office: Office, who: str, link: tuple[str, str, str], extra: str = "") -> None:
    """A fresh mail (no In-Reply-To, no References) as a phone sends it from a mailto: link."""
    to, subject, body = link
    msg = EmailMessage()
    msg["From"] = office.addr[who]
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=office.domain)
    msg.set_content(body + extra + "\n\n发自我的iPhone\n", charset="utf-8")
    office.servers.send(crlf(msg), [to], office.addr[who])
    office.run_once()


# ------------------------------------------------------------------------------------------ the question and 是

def test_a_handover_is_asked_about_and_yes_transfers_the_step(office):
    approval = _approval(office)
    office.reply("li", approval, "请王总定")
    office.run_once()
    assert _state(office) == "approving" and office.db().Opinion.select().where(
        office.db().Opinion.decision != "拟办").count() == 0, "nothing applied before he confirms"
    question = office.last("li", "请确认")
    assert "是否意为“转：王总”" in question.text and "请直接回复“是”" in question.text
    assert re.search(r"〔流转码：[A-Z0-9]+〕", question.subject), question.subject
    office.reply("li", question, "是")
    office.run_once()
    assert office.addr["wang"] in _step(office).approvers
    assert office.last("wang", "请审批")
    db = office.db()
    op = db.Opinion.select().where(db.Opinion.person == office.addr["li"]).get()
    assert op.decision == "转交" and "请王总定" in op.text


def test_yes_to_the_approval_mail_itself_applies_nothing(office):
    approval = _approval(office)
    office.reply("li", approval, "是")
    office.run_once()
    assert _state(office) == "approving" and office.addr["li"] in _step(office).approvers
    answer = office.last("li", "未能办理")
    assert "没有待您确认的事项" in answer.text


def test_yes_from_another_person_with_the_questions_code_applies_nothing(office):
    approval = _approval(office)
    office.reply("li", approval, "请王总定")
    office.run_once()
    question = office.last("li", "请确认")
    # 王总 got hold of the question (forwarded) and answers 是 with its subject: he was not asked
    msg = EmailMessage()
    msg["From"] = office.addr["wang"]
    msg["To"] = office.addr["office"]
    msg["Subject"] = "回复: " + question.subject
    msg["Message-ID"] = make_msgid(domain=office.domain)
    msg.set_content("是", charset="utf-8")
    office.servers.send(crlf(msg), [office.addr["office"]], office.addr["wang"])
    office.run_once()
    assert _step(office).approvers == [office.addr["li"]]
    assert not [m for m in office.inbox("wang") if "请审批" in m.subject]


def test_yes_after_the_step_was_decided_changes_nothing(office):
    approval = _approval(office, ROUTE.replace("流程：李副总", "流程：李副总，王总"))
    office.reply("li", approval, "请王总定")
    office.run_once()
    question = office.last("li", "请确认")
    office.reply("li", approval, "同意")        # he decides himself after all
    office.run_once()
    office.reply("li", question, "是")           # then answers the old question
    office.run_once()
    db = office.db()
    ops = [(o.decision, o.text) for o in db.Opinion.select().where(db.Opinion.person == office.addr["li"])]
    assert ops == [("同意", "同意")], ops
    assert _step(office).approvers == [office.addr["wang"]]


@pytest.mark.parametrize("text, offered", [
    ("同意，报王总定", "同意"),                # 王总 signs after this step anyway: plain approval is offered
    ("我赞成审计科的不同意见", "不同意"),
    ("同意倒是可以，不过要重新报一次", "退回"),
    ("请综合科办理", "同意"),                  # the executing unit named: he means it is approved
])
def test_the_reading_offered_is_applied_only_on_yes(office, text, offered):
    approval = _approval(office, ROUTE.replace("流程：李副总", "流程：李副总，王总"))
    office.reply("li", approval, text)
    office.run_once()
    assert _state(office) == "approving" and office.addr["li"] in _step(office).approvers
    question = office.last("li", "请确认")
    assert f"是否意为“{offered}”" in question.text, question.text
    office.reply("li", question, "对", quote="qq")
    office.run_once()
    db = office.db()
    op = db.Opinion.select().where(db.Opinion.person == office.addr["li"]).get()
    assert (op.decision, op.text) == ({"同意": "同意", "不同意": "不同意", "退回": "退回"}[offered], text)


@pytest.mark.parametrize("text, says", [
    ("若资金能落实，可以同意", "附有条件"), ("在不超预算的前提下同意", "附有条件"), ("暂缓", "暂缓决定"),
    ("同意吗？", "有疑问"), ("同意与否，等开完会再说", "有疑问"),
])
def test_no_approval_out_of_a_condition_a_deferral_or_a_question(office, text, says):
    approval = _approval(office)
    office.reply("li", approval, text)
    office.run_once()
    assert _state(office) == "approving"
    db = office.db()
    assert not db.Opinion.select().where(db.Opinion.person == office.addr["li"]).exists()
    answer = office.last("li", "未能识别")
    assert says in answer.text, answer.text
    record = db.Mail.select().where(db.Mail.direction == "in", db.Mail.sender == office.addr["li"]).get()
    assert record.ignored and "未作处理" in record.action and "（" in record.action, record.action


# ------------------------------------------------------------------------------------------ one-tap answers

def test_every_button_of_the_approval_mail_is_a_valid_short_mailto_to_the_office(office):
    approval = _approval(office)
    found = links(approval)
    assert set(found) == {"同意", "不同意", "退回"}
    code = re.search(r"〔流转码：([A-Z0-9]+)〕", approval.subject).group(1)
    for label, (to, subject, body) in found.items():
        assert to == office.addr["office"]
        assert "办请〔2026〕1号" in subject and code in subject, subject
    assert [found[k][2] for k in ("同意", "不同意", "退回")] == ["同意", "不同意：（请写理由）", "退回：（请写意见）"]
    assert "mailto:" not in approval.text       # the text part stays readable


def test_a_mail_composed_from_the_approve_button_approves(office):
    approval = _approval(office)
    compose(office, "li", links(approval)["同意"])
    assert _state(office) == "approved"
    db = office.db()
    op = db.Opinion.select().where(db.Opinion.person == office.addr["li"]).get()
    assert (op.decision, op.text) == ("同意", "同意")


def test_a_mail_composed_from_the_reject_button_with_a_reason_rejects(office):
    approval = _approval(office)
    to, subject, body = links(approval)["不同意"]
    compose(office, "li", (to, subject, body.replace("（请写理由）", "今年预算已用完。")))
    assert _state(office) == "rejected"
    db = office.db()
    op = db.Opinion.select().where(db.Opinion.person == office.addr["li"]).get()
    assert (op.decision, op.text) == ("不同意", "不同意：今年预算已用完。")


def test_the_button_from_anyone_else_decides_nothing(office):
    approval = _approval(office)
    compose(office, "wang", links(approval)["同意"])
    assert _state(office) == "approving"
    assert office.addr["li"] in _step(office).approvers and not _step(office).signed


def test_the_review_buttons_accept_from_office_staff(office):
    office.send_request()
    office.run_once()
    review = office.last("clerk")
    found = links(review)
    assert [found[k][2] for k in ("受理", "退回")] == ["受理", "退回：（请写指导意见）"]
    compose(office, "unit1", found["受理"])        # the unit cannot accept its own request
    assert _state(office) == "reviewing"
    compose(office, "clerk", found["受理"])
    assert _state(office) == "approving"
    assert office.last("caiwu", "请审核")           # the default route of a 购置 request


def test_the_yes_button_of_a_question_applies_the_offer(office):
    approval = _approval(office)
    office.reply("li", approval, "呈王总")
    office.run_once()
    question = office.last("li", "请确认")
    found = links(question)
    assert set(found) == {"是", "同意", "不同意", "退回"}
    compose(office, "li", found["是"])
    assert _step(office).approvers == [office.addr["wang"]]


def test_a_decision_button_of_a_question_decides_too(office):
    approval = _approval(office)
    office.reply("li", approval, "请王总定")
    office.run_once()
    compose(office, "li", links(office.last("li", "请确认"))["同意"])
    assert _state(office) == "approved"

"""End to end on real Dovecot + SMTP relay: who may decide. From shapes that hide another address, the office
server's Authentication-Results, each 会签 signer's own code, a subject that names another request, 催办 from a
bare number, and explanations an entitled approver can answer."""

from __future__ import annotations

import base64
import re

import pytest
from flow import DEFAULT_EXTRA, GOOD_BODY, Office

pytestmark = pytest.mark.mailserver


def _number(subject: str) -> str:
    m = re.search(r"【(.+?)】", subject)
    assert m, subject
    return m.group(1)


def _code(subject: str) -> str:
    m = re.search(r"流转码：(\w+)", subject)
    assert m, subject
    return m.group(1)


def _filed(office: Office, route: str, subject: str = "关于购置办公设备的请示", headers=()) -> str:
    office.send_request(subject=subject, body=GOOD_BODY.replace("关于购置办公设备的请示", subject))
    office.run_once()
    number = _number(office.last("unit1", subject).subject)
    office.reply("clerk", office.last("clerk", number), f"受理\n流程：{route}", headers=headers)
    office.run_once()
    assert _request(office, number).state == "approving"
    return number


def _request(office: Office, number: str):
    db = office.db()
    return db.Request.get(db.Request.number == number)


def _fresh(office: Office, who: str, subject: str, body: str) -> None:
    """A new mail (no In-Reply-To) from `who` to the office."""
    office.send_request(who=who, subject=subject, body=body, attachments=[])


def test_a_from_that_hides_another_address_decides_nothing(office):
    number = _filed(office, "李副总")
    li_mail = office.last("li", number)
    li, unit2 = office.addr["li"], office.addr["unit2"]
    encoded = "=?utf-8?b?" + base64.b64encode(f"李副总 <{li}>".encode()).decode() + "?="
    # unit2 answers a forwarded copy of 李副总's approval mail, with his address shown as the sender
    shown = [f"{li} <{unit2}>", f'"{li}" <{unit2}>', f"{encoded} <{unit2}>", f"{unit2} ({li})"]
    for value in shown:
        office.reply("unit2", li_mail, "同意", from_header=value)
    # ... or with both addresses in one From, or in two From lines
    office.reply("unit2", li_mail, "同意", from_header=f"{li}, {unit2}")
    office.reply("unit2", li_mail, "同意", from_header=[li, unit2])
    office.run_once()

    db = office.db()
    assert _request(office, number).state == "approving"
    assert not db.Opinion.select().where(db.Opinion.decision == "同意").exists()
    assert db.Mail.select().where((db.Mail.direction == "in") & (db.Mail.kind == "forgery")).count() == 6
    alerts = [m for m in office.inbox("clerk") if number in m.subject and "可疑" in m.subject]
    assert len(alerts) == 6
    for alert in alerts[:4]:                     # the real address, never the name it showed
        assert f"实际发件地址：{unit2}" in alert.text and li not in alert.subject
    # the real address is told why; nobody is answered for a From with several addresses
    told = [m for m in office.inbox("unit2") if "无法确认发件人" in m.subject]
    assert len(told) == 4 and all("流转码" not in m.subject for m in told)
    assert [m.subject for m in office.inbox("li")] == [li_mail.subject]
    # 李副总 himself still decides
    office.reply("li", li_mail, "同意")
    office.run_once()
    assert _request(office, number).state == "approved"


def test_with_an_authserv_id_only_the_office_servers_pass_counts(office):
    domain = office.domain
    office.write_config(DEFAULT_EXTRA + f'\n[security]\nauthserv_id = "mx.{domain}"\n')
    ours = f"mx.{domain}; dkim=pass header.d={domain} header.s=s1; spf=none"
    # the unit's request needs no authentication; office staff's 受理 does
    office.send_request()
    office.run_once()
    number = _number(office.last("unit1").subject)
    review = office.last("clerk", number)
    office.reply("clerk", review, "受理\n流程：李副总")
    office.run_once()
    assert _request(office, number).state == "reviewing"
    assert "无法确认发件人" in office.last("clerk", "无法确认").subject
    office.reply("clerk", review, "受理\n流程：李副总", headers=(("Authentication-Results", ours),))
    office.run_once()
    assert _request(office, number).state == "approving"

    li_mail = office.last("li", number)
    # another server's pass, the office server's own fail, a pass for another domain: none of them counts
    for headers in ((("Authentication-Results", f"mx.evil.test; dmarc=pass header.from={domain}"),),
                    (("Authentication-Results", f"mx.{domain}; dmarc=fail header.from={domain}"),
                     ("Authentication-Results", f"mx.{domain}; dmarc=pass header.from={domain}")),
                    (("Authentication-Results", f"mx.{domain}; dkim=pass header.d=evil.test"),)):
        office.reply("li", li_mail, "同意", headers=headers)
    office.run_once()
    assert _request(office, number).state == "approving"
    told = [m for m in office.inbox("li") if "无法确认发件人" in m.subject]
    assert len(told) == 3 and f"mx.{domain}" in told[0].text
    assert len([m for m in office.inbox("clerk") if "可疑" in m.subject and office.addr["li"] in m.subject]) == 3
    office.reply("li", li_mail, "同意", headers=(("Authentication-Results", ours),))
    office.run_once()
    assert _request(office, number).state == "approved"


def test_each_joint_signer_decides_only_on_the_mail_sent_to_them(office):
    number = _filed(office, "财务科+审计科，李副总")
    caiwu_mail, shenji_mail = office.last("caiwu", number), office.last("shenji", number)
    assert _code(caiwu_mail.subject) != _code(shenji_mail.subject)
    # 财务科 answers its own notification with a From naming 审计科 (a server that does not check From) ...
    office.reply("caiwu", caiwu_mail, "同意", from_header=office.addr["shenji"])
    # ... and 审计科 answers a copy of 财务科's notification
    office.reply("shenji", caiwu_mail, "同意")
    office.run_once()
    db = office.db()
    step = db.Step.get(db.Step.state == "active")
    assert step.signed == []
    # each signs on their own mail
    office.reply("caiwu", caiwu_mail, "同意")
    office.reply("shenji", shenji_mail, "同意，请严格按预算执行。")
    office.run_once()
    signed = [o.name for o in db.Opinion.select().where(db.Opinion.decision == "同意").order_by(db.Opinion.id)]
    assert signed == ["财务科", "审计科"]
    assert office.last("li", number)
    # a late mail of the finished step stays refused
    office.reply("shenji", shenji_mail, "不同意")
    office.run_once()
    assert _request(office, number).state == "approving"
    assert db.Step.get(db.Step.id == step.id).state == "approved"


def test_a_subject_naming_another_request_is_asked_about(office):
    a = _filed(office, "李副总")
    b = _filed(office, "李副总", subject="关于增加培训经费的请示")
    li_a, li_b = office.last("li", a), office.last("li", b)
    # an answer to A's approval mail whose subject names B, or carries B's code
    office.reply("li", li_a, "同意", subject=f"回复: 【{b}】请审批")
    office.reply("li", li_a, "同意", subject=f"回复: {li_b.subject}")
    office.run_once()
    assert (_request(office, a).state, _request(office, b).state) == ("approving", "approving")
    asked = [m for m in office.inbox("li") if "所指不明" in m.subject]
    assert len(asked) == 2 and a in asked[0].text and b in asked[0].text
    assert all("流转码" not in m.subject for m in asked)
    office.reply("li", li_a, "同意")
    office.run_once()
    assert (_request(office, a).state, _request(office, b).state) == ("approved", "approving")


def test_a_reminder_needs_a_mail_of_the_request(office):
    number = _filed(office, "李副总")
    before = len(office.inbox("li"))
    _fresh(office, "clerk", f"催办 {number}", "催办")
    office.run_once()
    assert len(office.inbox("li")) == before
    assert "催办" in office.last("clerk", "未能办理").text
    office.reply("clerk", office.last("clerk", "请审核"), "催办")
    office.run_once()
    assert "催办" in office.last("li", number).subject


def test_an_approver_who_wrote_on_the_wrong_mail_can_answer_the_explanation(office):
    number = _filed(office, "李副总")
    # 财务科 is not on the step: told, with nothing that decides
    _fresh(office, "caiwu", f"【{number}】", "同意")
    # 李副总 writes a fresh mail instead of answering the approval mail
    _fresh(office, "li", f"【{number}】", "同意")
    office.run_once()
    assert _request(office, number).state == "approving"
    other = office.last("caiwu", number)
    assert "流转码" not in other.subject and "报批材料审批单" not in other.text
    office.reply("caiwu", other, "同意")
    office.run_once()
    assert _request(office, number).state == "approving"
    explanation = office.last("li", "未予采用")
    assert "流转码" in explanation.subject and "报批材料审批单" in explanation.text
    office.reply("li", explanation, "同意，请抓紧办理。")
    office.run_once()
    req = _request(office, number)
    assert req.state == "approved"


def test_a_delegates_explanation_decides_for_the_principal(office):
    number = _filed(office, "李副总")
    _fresh(office, "zhao", f"【{number}】", "同意")
    office.run_once()
    explanation = office.last("zhao", "未予采用")
    assert "报批材料审批单" in explanation.text
    office.reply("zhao", explanation, "同意")
    office.run_once()
    db = office.db()
    assert _request(office, number).state == "approved"
    assert db.Opinion.get(db.Opinion.decision == "同意").name == "李副总（赵秘书代）"

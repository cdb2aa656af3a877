"""Who may decide, in process on SQLite (outgoing mail read from the outbox): the subject against the mail
answered, 或签 signers' own codes, and what an unknown sender's mail leaves behind."""

from __future__ import annotations

import re

import pytest
from test_intake_edges import BODY, world  # noqa: F401 - the same office in process

from daemon import intake
from daemon.models import Mail, Opinion, Request, Step


def _two_requests(world) -> tuple[Request, Request]:
    """A and B, both waiting on 王总."""
    for title in ("关于购置办公设备的请示", "关于增加培训经费的请示"):
        world.send("unit1@t.test", title, BODY.replace("关于购置办公设备的请示", title))
        review = world.last_to("clerk@t.test", "请审核")
        world.send("clerk@t.test", "回复：" + review.subject, "受理\n流程：王总", reply_to=review)
    a, b = Request.select().order_by(Request.id)
    assert a.state == b.state == "approving"
    return a, b


def _note(world, number: str):
    return world.last_to("wang@t.test", number)


def _code(subject: str) -> str:
    return re.search(r"流转码：(\w+)", subject).group(1)


@pytest.mark.parametrize("subject, asked", [
    ("回复：{a_subject}", False),
    ("回复：", False),
    ("Re: 同意", False),
    ("回复：【{b}】请审批：关于增加培训经费的请示", True),
    ("回复：【{a}】请审批 〔流转码：{b_code}〕", True),
    ("回复：{b_subject}", True),
    ("回复：关于{b}的意见", True),
])
def test_an_answer_whose_subject_points_elsewhere_is_asked_about(world, subject, asked):
    a, b = _two_requests(world)
    note_a, note_b = _note(world, a.number), _note(world, b.number)
    subject = subject.format(a=a.number, b=b.number, a_subject=note_a.subject, b_subject=note_b.subject,
                             b_code=_code(note_b.subject))
    world.send("wang@t.test", subject, "同意", reply_to=note_a)
    states = [r.state for r in Request.select().order_by(Request.id)]
    assert states == (["approving", "approving"] if asked else ["approved", "approving"])
    record = Mail.select().where(Mail.direction == "in").order_by(Mail.id.desc()).first()
    assert (record.kind == "ambiguous") is asked
    if asked:
        answer = world.last_to("wang@t.test", "所指不明")
        assert a.number in answer.text and "流转码" not in answer.subject


def test_a_fresh_mail_with_one_requests_number_and_anothers_code_is_asked_about(world):
    a, b = _two_requests(world)
    code_b = _code(_note(world, b.number).subject)
    world.send("wang@t.test", f"【{a.number}】同意 〔流转码：{code_b}〕", "同意")
    assert [r.state for r in Request.select()] == ["approving", "approving"]
    assert "所指不明" in world.last_to("wang@t.test").subject


def test_a_query_for_another_number_in_a_reply_is_answered(world):
    a, b = _two_requests(world)
    world.send("wang@t.test", f"查询 {b.number}", f"查询 {b.number}", reply_to=_note(world, a.number))
    assert b.number in world.last_to("wang@t.test").subject
    assert Mail.select().where(Mail.kind == "ambiguous").count() == 0


def test_or_sign_signers_decide_only_on_their_own_mail(world):
    world.filed_and_routed("李副总/王总")
    li_note, wang_note = world.last_to("li@t.test", "请审"), world.last_to("wang@t.test", "请审")
    assert _code(li_note.subject) != _code(wang_note.subject)
    # 王总 answers the copy sent to 李副总: refused, and told with a mail of his own that decides
    world.send("wang@t.test", "回复：" + li_note.subject, "不同意", reply_to=li_note)
    assert Request.get().state == "approving" and not Opinion.select().where(Opinion.step.is_null(False)).exists()
    explanation = world.last_to("wang@t.test", "未予采用")
    assert _code(explanation.subject) == _code(wang_note.subject)
    # 李副总's delegate answers 李副总's mail: decides for 李副总
    world.send("zhao@t.test", "回复：" + li_note.subject, "同意", reply_to=li_note)
    assert Request.get().state == "approved"
    assert Opinion.get(Opinion.decision == "同意").name == "李副总（赵秘书代）"
    assert Step.get().decided_by == "li@t.test"


def _raw(from_line: str, message_id: str) -> bytes:
    return (f"From: {from_line}\r\nTo: office@t.test\r\nSubject: 关于购置办公设备的请示\r\n"
            f"Message-ID: <{message_id}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{BODY}").encode()


def test_a_request_from_a_unit_whose_from_is_doubtful_is_kept_and_reported_not_registered(world):
    assert intake.handle(world.app, _raw("li@t.test <unit1@t.test>", "x1@t.test")) == intake.PROCESSED
    assert Request.select().count() == 0
    record = Mail.get(Mail.direction == "in")
    assert record.kind == "forgery" and record.ignored and record.sender == "unit1@t.test"
    alert = world.last_to("clerk@t.test", "可疑")
    assert "unit1@t.test" in alert.subject and "li@t.test" not in alert.subject
    assert "无法确认发件人" in world.last_to("unit1@t.test").subject
    assert not world.mails_to("li@t.test")


def test_spam_naming_an_address_about_no_request_is_only_recorded(world):
    assert intake.handle(world.app, _raw("unit1@t.test <spam@else.test>", "x2@else.test")) == intake.PROCESSED
    record = Mail.get(Mail.direction == "in")
    assert record.kind == "forgery" and record.ignored and "显示名" in record.action
    assert Request.select().count() == 0 and not list(world.mails_to("spam@else.test"))
    assert not world.mails_to("clerk@t.test") and not world.mails_to("unit1@t.test")

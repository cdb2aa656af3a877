"""The daily answer cap (in process, SQLite, outgoing mail read from the outbox): it stops backscatter to
strangers, and never silences an entitled person writing about what they hold."""

from __future__ import annotations

from test_intake_edges import BODY, world  # noqa: F401 - the in-process office fixture

from daemon import intake, models


def _questions(world, address, part):
    return [m for m in world.mails_to(address) if part in m.subject and "请审批" not in m.subject]


def test_an_approver_past_the_daily_cap_is_still_asked_about_their_own_step(world):
    world.filed_and_routed("王总")
    number = world.request().number
    for i in range(intake.MAX_ANSWERS_A_DAY + 3):          # a busy leader's stray mails, about no request
        world.send("wang@t.test", f"第{i}件", "请问这个怎么处理")
    assert len(world.mails_to("wang@t.test")) == 1 + intake.MAX_ANSWERS_A_DAY
    note = world.last_to("wang@t.test", "请审批")
    for text in ("阅", "同意吗？", "收到"):
        world.send("wang@t.test", "回复：" + note.subject, text, reply_to=note)
    asked = _questions(world, "wang@t.test", number)
    assert len(asked) == 3
    assert all("流转码" in m.subject or "流转码" in m.text for m in asked)
    assert world.request().state == "approving"


def test_questions_on_one_step_are_capped_per_day_and_the_rest_recorded(world, monkeypatch):
    world.filed_and_routed("王总")
    number = world.request().number
    note = world.last_to("wang@t.test", "请审批")
    for _ in range(intake.MAX_QUESTIONS_A_STEP + 2):
        world.send("wang@t.test", "回复：" + note.subject, "阅", reply_to=note)
    assert len(_questions(world, "wang@t.test", number)) == intake.MAX_QUESTIONS_A_STEP
    capped = list(models.Mail.select().where((models.Mail.direction == "in") & (models.Mail.sender == "wang@t.test")
                                             & models.Mail.action.contains("不再答复")))
    assert len(capped) == 2 and all(m.ignored for m in capped)
    # the next day the approver is answered again
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-27T09:30:00+08:00")
    world.send("wang@t.test", "回复：" + note.subject, "阅", reply_to=note)
    assert len(_questions(world, "wang@t.test", number)) == intake.MAX_QUESTIONS_A_STEP + 1


def test_the_cap_of_one_step_does_not_silence_the_next(world):
    world.filed_and_routed("李副总，王总")
    number = world.request().number
    note = world.last_to("li@t.test", "请审批")
    for _ in range(intake.MAX_QUESTIONS_A_STEP):
        world.send("li@t.test", "回复：" + note.subject, "阅", reply_to=note)
    world.send("li@t.test", "回复：" + note.subject, "同意", reply_to=note)
    wang_note = world.last_to("wang@t.test", "请审批")
    world.send("wang@t.test", "回复：" + wang_note.subject, "阅", reply_to=wang_note)
    assert len(_questions(world, "wang@t.test", number)) == 1


def test_office_staff_answering_many_reviews_are_answered_on_each(world):
    for i in range(intake.MAX_ANSWERS_A_DAY + 2):
        world.send("unit1@t.test", f"关于购置第{i}批办公设备的请示", BODY.replace("购置办公设备", f"购置第{i}批办公设备"))
    reviews = [m for m in world.mails_to("clerk@t.test") if "请审核拟办" in m.subject]
    assert len(reviews) == intake.MAX_ANSWERS_A_DAY + 2
    for review in reviews:
        world.send("clerk@t.test", "回复：" + review.subject, "看看", reply_to=review)
    answers = [m for m in world.mails_to("clerk@t.test") if "未" in m.subject and "请审核" not in m.subject]
    assert len(answers) == len(reviews)


def test_a_stranger_is_still_capped(world):
    world.filed_and_routed("王总")
    note = world.last_to("wang@t.test", "请审批")
    for _ in range(intake.MAX_ANSWERS_A_DAY + 3):
        world.send("stranger@else.test", "回复：" + note.subject, "同意", reply_to=note)
    assert len(world.mails_to("stranger@else.test")) == intake.MAX_ANSWERS_A_DAY
    assert world.request().state == "approving"


def test_a_query_left_unanswered_by_the_cap_is_listed_as_ignored(world):
    for _ in range(intake.MAX_ANSWERS_A_DAY + 2):
        world.send("unit1@t.test", "查询", "查询")
    assert len(world.mails_to("unit1@t.test")) == intake.MAX_ANSWERS_A_DAY
    rows = list(models.Mail.select().where(models.Mail.direction == "in").order_by(models.Mail.id))
    assert [r.ignored for r in rows] == [False] * intake.MAX_ANSWERS_A_DAY + [True, True]
    assert all("不再答复" in r.action for r in rows[-2:])

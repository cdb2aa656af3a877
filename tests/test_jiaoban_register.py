"""A new 交办 (SPEC §6.2 steps 1–2, §6.9 first rows): which mail is one, who may send it, the receipt to the
leader, the 核定单 to office staff with the proposed 三要素 and the findings; 代登记."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from jiaoban_world import World

from daemon import intake, models
from daemon.jiaoban import VERIFY, VERIFYING, core
from daemon.models import ACTIVE, Mail, Opinion, Request, Step

EXAMPLE = "请综合科牵头，安全科配合，本周五前拿出通报初稿，突出问题整改，不超过两页。"


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-01T10:12:00+08:00")
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    w = World(tmp_path)
    yield w
    models.close()


def count() -> int:
    return Request.select().where(Request.kind == "交办").count()


def last_in() -> Mail:
    return Mail.select().where(Mail.direction == "in").order_by(Mail.id.desc()).get()


def test_the_example_of_6_13_is_registered_with_its_three_elements(world):
    world.send("li@t.test", "交办：年度安全生产检查通报", EXAMPLE)
    req, task = world.request(), world.task()
    assert req.kind == "交办" and req.state == VERIFYING and req.number == "督办〔2026〕1号"
    assert req.unit_name == "李副总" and req.sender == "li@t.test" and req.title == "年度安全生产检查通报"
    assert task.leader == "li@t.test" and task.by == "" and task.source == "邮件"
    assert task.content == "年度安全生产检查通报" and task.requirements == EXAMPLE
    assert task.deadline_text == "本周五前" and task.deadline_at.isoformat().startswith("2026-12-04T")
    assert task.lead == "zonghe@t.test" and task.co_units == ["anquan@t.test"]
    receipt = world.last_to("li@t.test", "已登记")
    assert receipt.subject.startswith("【督办〔2026〕1号】已登记")
    assert "如非本人交办或有出入，请回复“撤销”或“更正：……”" in receipt.text
    assert "12月4日（周五）17:30前，剩 3 个工作日" in receipt.text
    verify = world.last_to("clerk@t.test", "请核定")
    step = Step.get((Step.request == req) & (Step.kind == VERIFY))
    assert step.state == ACTIVE and step.approvers == ["clerk@t.test"] and step.code in verify.subject
    for part in ("年度安全生产检查通报", "12月4日（周五）17:30前，剩 3 个工作日", EXAMPLE, "承办单位：综合科",
                 "协办单位：安全科", "时限原文：本周五前", "未发现问题"):
        assert part in verify.text, part
    rec = last_in()
    assert rec.request_id == req.id and rec.kind == "request" and "登记为督办〔2026〕1号" in rec.action
    assert Opinion.get(Opinion.request == req).text == "李副总交办"

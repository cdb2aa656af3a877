"""The 三要素 proposed from a leader's own text and confirmed by a 派发 reply (SPEC §6.2 steps 2–3): pure, on the
directory and working calendar of the test office."""

from __future__ import annotations

from datetime import datetime

import pytest
from jiaoban_world import World

from daemon import models
from daemon.jiaoban import elements
from daemon.jiaoban.elements import Elements

TUESDAY = datetime.fromisoformat("2026-12-01T10:12:00+08:00")


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    import os
    os.environ.setdefault("OFFICEFLOW_TEST_PASSWORD", "x")
    w = World(tmp_path_factory.mktemp("office"))
    yield w.app
    models.close()


def propose(app, text, subject="交办", at=TUESDAY):
    return elements.propose(text, subject, at, app.directory, app.calendar)


def local(at):
    return at.isoformat() if at else None


@pytest.mark.parametrize("subject, text, content", [
    ("交办：年度安全生产检查通报", "请综合科牵头，本周五前拿出初稿。", "年度安全生产检查通报"),
    ("Re: 交办： 年度安全生产检查通报", "请综合科牵头。", "年度安全生产检查通报"),
    ("【加急】交办：防汛准备", "请安全科牵头。", "防汛准备"),
    ("交办", "内容：盘点固定资产\n请财务科负责，月底前完成。", "盘点固定资产"),
    ("交办", "请财务科负责盘点固定资产。月底前完成。", "请财务科负责盘点固定资产"),
    ("关于盘点", "交办：盘点固定资产\n请财务科负责，月底前完成。", "盘点固定资产"),
])
def test_content(office, subject, text, content):
    assert propose(office, text, subject).content == content


@pytest.mark.parametrize("text, at, open_, urgency", [
    ("请综合科牵头，本周五前拿出通报初稿，突出问题整改，不超过两页。", "2026-12-04T17:30:00+08:00", "", ""),
    ("请尽快落实，12月5日前报送。", "2026-12-05T17:30:00+08:00", "", "加急"),
    ("请抓紧办理，12月5日前报送，尽快。", "2026-12-05T17:30:00+08:00", "", "加急"),
    ("请马上办理。", None, "", "加急"),
    ("请立即组织排查，明天下午3点前报结果。", "2026-12-02T15:00:00+08:00", "", "加急"),
    ("近期把安全检查搞一下。", None, "时限“近期”无法确定日期", ""),
    ("12月5日前报初稿，12月10日前报终稿。", None, "含两个不同的时限", ""),
    ("12月5日前报初稿，12月5日前务必报到。", "2026-12-05T17:30:00+08:00", "", ""),
    ("上周五前就该报了，请补报。", None, "不是可识别的时限", ""),
    ("请在12月32日前完成。", None, "不是有效日期", ""),
    ("5个工作日内报送。", "2026-12-08T17:30:00+08:00", "", ""),
    ("十二月五日前报送。", "2026-12-05T17:30:00+08:00", "", ""),
    ("请于１２月５日前报送。", "2026-12-05T17:30:00+08:00", "", ""),
    ("时限：下周三前\n请综合科负责。", "2026-12-09T17:30:00+08:00", "", ""),
    ("时限：尽快\n请综合科负责。", None, "时限“尽快”无法确定日期", "加急"),
    ("请安排周五例会材料。", None, "", ""),
    ("经费12.5万元，请财务科负责。", None, "", ""),
])
def test_deadline(office, text, at, open_, urgency):
    e = propose(office, text)
    assert local(e.deadline_at) == at
    assert (open_ in e.deadline_open) if open_ else e.deadline_open == ""
    assert e.urgency == urgency


@pytest.mark.parametrize("text, lead, co", [
    ("请综合科牵头，安全科配合，本周五前拿出通报初稿。", "zonghe@t.test", ["anquan@t.test"]),
    ("由财务科负责，综合科、安全科配合。", "caiwu@t.test", ["zonghe@t.test", "anquan@t.test"]),
    ("请第一分公司主办，财务科协办。", "unit1@t.test", ["caiwu@t.test"]),
    ("请安全科和财务科参与，综合科承办。", "zonghe@t.test", ["anquan@t.test", "caiwu@t.test"]),
    ("请办公室牵头。", "clerk@t.test", []),
    ("承办：财务科\n协办：综合科，第一分公司", "caiwu@t.test", ["zonghe@t.test", "unit1@t.test"]),
    ("安全检查的事抓一下。", "anquan@t.test", []),          # the 安全 rule of [[routes]], a suggestion
    ("把年终总结起草一下。", "zonghe@t.test", []),          # the default rule
])
def test_units(office, text, lead, co):
    e = propose(office, text)
    assert (e.lead, e.co_units) == (lead, co)
    assert e.units_suggested == ("牵头" not in text and "负责" not in text and "主办" not in text
                                 and "承办" not in text)


def test_unknown_units_in_lines_are_findings(office):
    e = propose(office, "承办：宣传部\n协办：财务科")
    assert e.lead == "" and e.co_units == ["caiwu@t.test"] and e.unknown_units == ["宣传部"]
    assert "“宣传部”不在单位名单中" in e.findings and any("承办单位未明确" in f for f in e.findings)


def test_requirements_are_the_lines_or_the_text_verbatim(office):
    assert propose(office, "请综合科牵头，突出问题整改。\n不超过两页。", "交办：通报").requirements == \
        "请综合科牵头，突出问题整改。\n不超过两页。"
    assert propose(office, "要求：突出问题整改\n要求：不超过两页\n请综合科牵头。", "交办：通报").requirements == \
        "突出问题整改\n不超过两页"


def test_source_and_leader_lines(office):
    e = propose(office, "交办领导：李副总\n来源：会议\n请综合科牵头。")
    assert (e.leader, e.source) == ("李副总", "会议")


def test_as_dict_round_trips(office):
    e = propose(office, "请综合科牵头，本周五前拿出通报初稿。", "交办：通报")
    back = Elements.from_dict(e.as_dict())
    assert back == e


def confirm(app, current, text, now=TUESDAY, sender="clerk@t.test", default=""):
    from daemon.jiaoban.reader import read
    return elements.confirm(current, read(text).fields, now, app.directory, app.calendar, sender, default)


def test_confirm_keeps_what_no_line_changes(office):
    e0 = propose(office, "请综合科牵头，安全科配合，本周五前拿出通报初稿。", "交办：通报")
    e = confirm(office, e0, "派发")
    assert (e.lead, e.co_units, e.deadline_at, e.content, e.problems) == \
        (e0.lead, e0.co_units, e0.deadline_at, e0.content, [])


def test_confirm_reads_the_deadline_against_the_replys_day(office):
    e0 = propose(office, "请综合科牵头。", "交办：通报")
    e = confirm(office, e0, "派发\n时限：明天", now=datetime.fromisoformat("2026-12-03T09:00:00+08:00"))
    assert local(e.deadline_at) == "2026-12-04T17:30:00+08:00" and e.problems == []


@pytest.mark.parametrize("text, problem", [
    ("派发", "未写明时限，请写明，如“时限：12月5日前”"),
    ("派发\n时限：尽快", "时限“尽快”无法确定日期，请写明，如“时限：12月5日前”"),
    ("派发\n时限：今天上午9点前", "已过"),
    ("派发\n时限：12月5日前\n紧急：很急", "紧急程度“很急”无法识别"),
    ("派发\n时限：12月5日前\n承办：后勤处", "“后勤处”不在单位名单中"),
])
def test_confirm_problems(office, text, problem):
    e0 = propose(office, "请综合科牵头。", "交办：通报")
    assert any(problem in p for p in confirm(office, e0, text).problems), confirm(office, e0, text).problems


def test_the_office_as_lead_is_the_staff_member_who_dispatches(office):
    e0 = propose(office, "请综合科牵头，周五前。", "交办：通报")
    assert confirm(office, e0, "派发\n承办：办公室", sender="director@t.test").lead == "director@t.test"


def test_a_default_deadline_fills_a_missing_one(office):
    e0 = propose(office, "请综合科牵头。", "交办：通报")
    e = confirm(office, e0, "派发", default="3d")
    assert e.problems == [] and e.default_deadline and local(e.deadline_at) == "2026-12-04T17:30:00+08:00"


@pytest.mark.parametrize("text, value", [("5d", "5d"), ("3个工作日", "3d"), ("每周", "5d"), ("4h", "4h"), ("无", "")])
def test_feedback_every(text, value):
    assert elements.feedback_every(text) == (value, "")


def test_forwarded_headers_of_common_clients(office):
    gmail = "请登记\n\n---------- Forwarded message ---------\nFrom: 李副总 <li@t.test>\nDate: Tue, Dec 1, 2026\n" \
            "Subject: 交办：x\nTo: <clerk@t.test>\n\n请综合科牵头。\n"
    written, body, part = elements.forwarded(gmail)
    assert elements.sender_named(written, office.directory) == "li@t.test" and body == "请综合科牵头。"
    assert part.startswith("---------- Forwarded message")
    assert elements.sender_named("王总", office.directory) == "wang@t.test"
    assert elements.sender_named("陌生人", office.directory) == ""
    assert elements.forwarded("请综合科牵头。") == ("", "", "")

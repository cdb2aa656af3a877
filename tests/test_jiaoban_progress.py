"""While a 交办 is done (SPEC §6.2 step 5): 进展, 签收, 请求协调, 协办完毕, 申请延期 and the leader's decision on it,
申请改派 and 维持, any other text — each through intake, in process."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from jiaoban_world import World

from daemon import mailstore, models
from daemon.jiaoban import CO, COORDINATE, DOING, EXTEND, EXTENDING, LEAD, REASSIGN, core, explain, progress
from daemon.models import ACTIVE, APPROVED_STEP, REJECTED_STEP, DeadlineChange, Mail, Opinion, Round, Step

TUESDAY = "2026-12-01T10:12:00+08:00"
NUMBER = "督办〔2026〕1号"


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", TUESDAY)
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    w = World(tmp_path)
    w.explained = []
    monkeypatch.setattr(explain, "explain", lambda act: w.explained.append(act) or progress.earlier_round(act))
    yield w
    models.close()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def step_of(req, kind: str, address: str = "") -> Step:
    steps = [s for s in core.active_steps(req, kind) if not address or address in s.approvers]
    assert len(steps) == 1, steps
    return steps[0]


def coded(world, sender: str, step: Step, body: str, **kw) -> str:
    """A reply carrying the step's code in its subject, as a unit writes when it answers a notice."""
    return world.send(sender, f"回复：【{NUMBER}】交办通知单 流转码：{step.code}", body, **kw)


def opinions(req, decision: str) -> list[Opinion]:
    return list(Opinion.select().where((Opinion.request == req) & (Opinion.decision == decision)).order_by(Opinion.id))


def noted(req) -> list[str]:
    return [m.action for m in Mail.select().where((Mail.direction == "in") & (Mail.request == req)).order_by(Mail.id)]


def rnd(req, number: int = 1) -> Round:
    return Round.get((Round.request == req) & (Round.number == number))


def refreshed(req):
    return models.Request.get_by_id(req.id)


# -- 进展 and 签收 ---------------------------------------------------------------------------------------------

def test_progress_of_the_lead_unit_is_recorded_dated_and_counts_as_signing(world):
    req = world.dispatched()
    lead = step_of(req, LEAD)
    coded(world, "zonghe@t.test", lead, "进展：初稿已完成，正在征求安全科意见。\n预计周四定稿。")
    [op] = opinions(req, "进展")
    assert op.text == "初稿已完成，正在征求安全科意见。\n预计周四定稿。" and op.step_id == lead.id
    assert op.name == "综合科"
    r = rnd(req)
    assert r.last_progress_at == at(TUESDAY) and r.signed_at == at(TUESDAY)
    assert noted(req)[-1] == "综合科报送进展"
    assert not world.mails_to("zonghe@t.test")           # nothing to pass on: the lead unit's own progress


def test_progress_of_a_co_unit_is_passed_to_the_lead_unit_with_its_code(world):
    req = world.dispatched()
    co = step_of(req, CO)
    coded(world, "anquan@t.test", co, "进展：隐患清单已整理完毕，见附件。", attachments=[("隐患清单.xlsx", b"x")])
    assert rnd(req).signed_at is None                      # a co-unit's reply is no 签收 of the matter
    passed = world.last_to("zonghe@t.test", "安全科报送进展")
    lead = step_of(req, LEAD)
    assert passed.subject.endswith(f"〔流转码：{lead.code}〕")
    assert "隐患清单已整理完毕" in passed.text and [a.filename for a in passed.attachments] == ["隐患清单.xlsx"]
    # the lead unit answers the passed-on mail: it counts, as any mail of the round sent to it does
    world.reply("zonghe@t.test", passed, "进展：已汇总安全科清单。")
    assert [o.text for o in opinions(req, "进展")] == ["隐患清单已整理完毕，见附件。", "已汇总安全科清单。"]
    assert rnd(req).signed_at is not None


def test_sign_from_the_lead_unit_dates_the_round_once(world, monkeypatch):
    req = world.dispatched()
    lead = step_of(req, LEAD)
    coded(world, "zonghe@t.test", lead, "收到")
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-01T15:00:00+08:00")
    coded(world, "zonghe@t.test", lead, "签收，将按时办理。")
    assert [o.text for o in opinions(req, "签收")] == ["", "将按时办理。"]
    assert rnd(req).signed_at == at(TUESDAY)
    coded(world, "anquan@t.test", step_of(req, CO), "签收")
    assert len(opinions(req, "签收")) == 3 and noted(req)[-1] == "安全科签收"


def test_another_address_of_a_unit_writes_for_it(world):
    req = world.dispatched(lead="unit1@t.test", co_units=())
    coded(world, "UNIT1@t.test", step_of(req, LEAD), "进展：已部署。")
    [op] = opinions(req, "进展")
    assert op.name == "第一分公司"


def test_free_text_is_progress_and_the_unit_is_told_once_how_to_report(world):
    req = world.dispatched()
    lead = step_of(req, LEAD)
    coded(world, "zonghe@t.test", lead, "通报初稿已经写好了，请看附件。", attachments=[("初稿.docx", b"d")])
    [op] = opinions(req, "进展")
    assert op.text == "通报初稿已经写好了，请看附件。"
    told = world.last_to("zonghe@t.test", "来信已记为办理进展")
    assert "办结：" in told.text and told.subject.endswith(f"〔流转码：{lead.code}〕")
    assert "一、完成情况" in told.text
    coded(world, "zonghe@t.test", lead, "另，数据已核对。")
    assert len(opinions(req, "进展")) == 2
    assert len([m for m in world.mails_to("zonghe@t.test") if "来信已记为办理进展" in m.subject]) == 1
    assert req.state == refreshed(req).state == DOING


def test_a_progress_word_inside_a_sentence_is_no_keyword(world):
    req = world.dispatched()
    coded(world, "zonghe@t.test", step_of(req, LEAD), "办结情况如下：正在起草。")
    assert refreshed(req).state == DOING                   # 办结情况 is no 办结: recorded as 进展
    assert [o.text for o in opinions(req, "进展")] == ["办结情况如下：正在起草。"]


# -- 协办完毕 -------------------------------------------------------------------------------------------------

def test_co_done_is_passed_on_and_the_co_unit_no_longer_chased(world):
    req = world.dispatched(co_units=("anquan@t.test", "caiwu@t.test"))
    co = step_of(req, CO, "anquan@t.test")
    coded(world, "anquan@t.test", co, "协办完毕：问题清单见附件", attachments=[("问题清单.docx", b"q")])
    assert Step.get_by_id(co.id).state == APPROVED_STEP
    assert [s.approvers for s in core.active_steps(req, CO)] == [["caiwu@t.test"]]
    [op] = opinions(req, "协办完毕")
    assert op.text == "问题清单见附件" and op.step_id == co.id
    passed = world.last_to("zonghe@t.test", "安全科协办完毕")
    assert [a.filename for a in passed.attachments] == ["问题清单.docx"] and "纳入办结报告" in passed.text
    assert not [m for m in world.mails_to("anquan@t.test")]
    # its step is closed: a second 协办完毕 is no longer applied
    coded(world, "anquan@t.test", co, "协办完毕：补充一份")
    assert len(opinions(req, "协办完毕")) == 1 and world.explained


def test_a_co_units_report_is_recorded_as_co_done_and_it_is_told_why(world):
    req = world.dispatched()
    co = step_of(req, CO)
    coded(world, "anquan@t.test", co, "办结：安全检查部分已完成。")
    assert refreshed(req).state == DOING                   # only the lead unit's report closes the matter
    [op] = opinions(req, "协办完毕")
    assert op.text == "安全检查部分已完成。"
    told = world.last_to("anquan@t.test", "已记为协办完毕")
    assert "以承办单位的办结报告为准" in told.text and "综合科" in told.text
    assert world.last_to("zonghe@t.test", "安全科协办完毕")
    assert "记为协办完毕" in noted(req)[-1]


# -- 请求协调 -------------------------------------------------------------------------------------------------

def test_coordination_goes_to_staff_and_their_answer_back_to_the_unit(world):
    req = world.dispatched()
    coded(world, "anquan@t.test", step_of(req, CO), "请求协调：需财务科提供2025年度安全投入数据。")
    step = step_of(req, COORDINATE)
    assert step.approvers == ["clerk@t.test"]
    forward = world.last_to("clerk@t.test", "安全科请求协调")
    assert forward.subject.endswith(f"〔流转码：{step.code}〕") and "需财务科提供" in forward.text
    # stays active (listed in the digest) until answered
    assert step_of(req, COORDINATE).id == step.id
    world.reply("clerk@t.test", forward, "已联系财务科，数据于12月2日前提供给安全科。")
    assert Step.get_by_id(step.id).state == APPROVED_STEP
    answer = world.last_to("anquan@t.test", "协调意见")
    assert "已联系财务科" in answer.text and answer.subject.endswith(f"〔流转码：{step_of(req, CO).code}〕")
    [op] = opinions(req, "答复")
    assert op.text == "已联系财务科，数据于12月2日前提供给安全科。" and op.step_id == step.id
    assert noted(req)[-1] == "办公室答复协调请求，已转告安全科" or "答复协调请求" in noted(req)[-1]


def test_coordination_from_the_lead_unit_counts_as_signing(world):
    req = world.dispatched()
    coded(world, "zonghe@t.test", step_of(req, LEAD), "请求协调：请协调各分公司报送数据。")
    assert rnd(req).signed_at is not None and step_of(req, COORDINATE)


def test_coordination_without_text_is_refused(world):
    req = world.dispatched()
    coded(world, "zonghe@t.test", step_of(req, LEAD), "请求协调")
    assert not core.active_steps(req, COORDINATE)
    assert "请写明需要协调的事项" in world.last_to("zonghe@t.test", "未能办理").text


# -- 申请延期 -------------------------------------------------------------------------------------------------

def ask_extension(world, req, body="申请延期：12月9日前，因检查组行程调整，现场检查推迟至12月7日。"):
    coded(world, "zonghe@t.test", step_of(req, LEAD), body)
    return world.last_to("li@t.test", "延期申请")


def test_an_extension_goes_to_the_leader_with_a_code_and_a_copy_to_staff(world):
    req = world.dispatched()
    mail = ask_extension(world, req)
    req = refreshed(req)
    assert req.state == EXTENDING
    step = step_of(req, EXTEND)
    assert step.approvers == ["li@t.test"] and mail.subject.endswith(f"〔流转码：{step.code}〕")
    assert "12月9日（周三）17:30前" in mail.text and "12月4日（周五）17:30前" in mail.text
    assert "因检查组行程调整" in mail.text and "妥否，请批示" in mail.text
    copy = world.last_to("clerk@t.test", "延期申请（抄送办公室）")
    assert "流转码：" not in copy.subject
    assert rnd(req).signed_at is not None
    assert noted(req)[-1] == "综合科申请延期至12月9日（周三）17:30前，已报李副总审批"


def test_an_extension_granted_moves_the_deadline_and_tells_the_units(world, monkeypatch):
    req = world.dispatched()
    mail = ask_extension(world, req)
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-01T16:00:00+08:00")
    world.reply("li@t.test", mail, "同意。")
    req, task = refreshed(req), core.task_of(req)
    assert req.state == DOING and task.deadline_at == at("2026-12-09T17:30:00+08:00")
    r = rnd(req)
    assert r.deadline_at == task.deadline_at and r.base_deadline_at == at("2026-12-04T17:30:00+08:00")
    change = DeadlineChange.select().where(DeadlineChange.how == "延期").get()
    assert (change.by, change.old_at, change.new_at) == ("li@t.test", at("2026-12-04T17:30:00+08:00"),
                                                         task.deadline_at)
    assert req.deadline.isoformat() == "2026-12-09"
    assert Step.get(Step.kind == EXTEND).state == APPROVED_STEP
    for unit in ("zonghe@t.test", "anquan@t.test"):
        told = world.last_to(unit, "延期已获批准")
        assert "12月9日（周三）17:30前" in told.text and "流转码：" in told.subject
    assert "延期已获批准" in world.last_to("clerk@t.test").subject
    assert [o.decision for o in opinions(req, "同意")] == ["同意"]


def test_a_deadline_line_in_the_approval_grants_that_date_instead(world):
    req = world.dispatched()
    mail = ask_extension(world, req)
    world.reply("li@t.test", mail, "同意\n时限：12月8日前")
    task = core.task_of(req)
    assert task.deadline_at == at("2026-12-08T17:30:00+08:00") and refreshed(req).state == DOING
    told = world.last_to("zonghe@t.test", "延期已获批准")
    assert "12月8日（周二）17:30前" in told.text and "申请延至12月9日" in told.text


def test_the_leader_may_answer_with_a_button_a_new_mail_with_the_code(world):
    import html
    import urllib.parse
    req = world.dispatched()
    mail = ask_extension(world, req)
    links = [html.unescape(h) for h in re.findall(r'href="(mailto:[^"]+)"', mail.html)]
    assert len(links) == 2
    query = urllib.parse.parse_qs(links[0].split("?", 1)[1])
    world.send("li@t.test", query["subject"][0], query["body"][0])
    assert core.task_of(req).deadline_at == at("2026-12-09T17:30:00+08:00")


def test_the_leaders_delegate_may_decide(world):
    req = world.dispatched()
    mail = ask_extension(world, req)
    world.reply("zhao@t.test", mail, "同意")
    assert core.task_of(req).deadline_at == at("2026-12-09T17:30:00+08:00")
    assert DeadlineChange.select().where(DeadlineChange.how == "延期").get().by == "zhao@t.test"


def test_an_extension_refused_keeps_the_deadline_and_tells_the_lead_unit(world):
    req = world.dispatched()
    mail = ask_extension(world, req)
    world.reply("li@t.test", mail, "不同意，请按原时限完成，有困难及时报告。")
    req = refreshed(req)
    assert req.state == DOING and core.task_of(req).deadline_at == at("2026-12-04T17:30:00+08:00")
    assert Step.get(Step.kind == EXTEND).state == REJECTED_STEP
    told = world.last_to("zonghe@t.test", "延期申请未获同意")
    assert "请按原时限完成，有困难及时报告" in told.text and "流转码：" in told.subject
    assert not [m for m in world.mails_to("anquan@t.test") if "延期" in m.subject]
    assert not DeadlineChange.select().where(DeadlineChange.how == "延期").exists()
    assert noted(req)[-1] == "李副总不同意延期：请按原时限完成，有困难及时报告。"


@pytest.mark.parametrize("answer", ["已阅", "阅", "好的，我再想想", "原则同意", "同意吗？", "不是不同意",
                                    "同意延期至12月10日", "同意，12月8日或12月10日均可",
                                    "不同意\n时限：12月7日前", "同意\n时限：节后"])
def test_a_doubtful_decision_is_asked_about_never_guessed(world, answer):
    req = world.dispatched()
    mail = ask_extension(world, req)
    world.reply("li@t.test", mail, answer)
    req = refreshed(req)
    assert req.state == EXTENDING and core.task_of(req).deadline_at == at("2026-12-04T17:30:00+08:00")
    step = step_of(req, EXTEND)
    question = world.last_to("li@t.test", "请明确对延期申请的批复")
    assert question.subject.endswith(f"〔流转码：{step.code}〕") and "同意" in question.text
    # the answer to the question decides
    world.reply("li@t.test", question, "同意")
    assert refreshed(req).state == DOING and core.task_of(req).deadline_at == at("2026-12-09T17:30:00+08:00")


def test_no_objection_is_consent_and_negation_is_refusal(world):
    req = world.dispatched()
    world.reply("li@t.test", ask_extension(world, req), "无不同意见")
    assert core.task_of(req).deadline_at == at("2026-12-09T17:30:00+08:00")
    mail = ask_extension(world, req, "申请延期：12月11日前，因数据未齐。")
    world.reply("li@t.test", mail, "不予同意")
    assert core.task_of(req).deadline_at == at("2026-12-09T17:30:00+08:00")


OUTLOOK = ("{answer}\n\n________________________________\n发件人: 集团公司办公室 <office@t.test>\n"
           "发送时间: 2026年12月1日 10:12\n收件人: 李副总 <li@t.test>\n主题: {subject}\n\n{quoted}")
FOXMAIL = ("{answer}\n\n发件人： 集团公司办公室<mailto:office@t.test>\n发送时间： 2026-12-01 10:12\n"
           "收件人： 李副总<mailto:li@t.test>\n主题： {subject}\n\n{quoted}")
COREMAIL = "{answer}\n\n在 2026-12-01 10:12:00，\"集团公司办公室\" <office@t.test> 写道：\n{quoted}"
GMAIL = "{answer}\n\n集团公司办公室 <office@t.test> 于2026年12月1日周二 10:12写道：\n{quoted}"


@pytest.mark.parametrize("client", [OUTLOOK, FOXMAIL, COREMAIL, GMAIL])
@pytest.mark.parametrize("answer, granted", [("不同意", False), ("同意", True), ("不同意。理由是时间已经很宽裕", False)])
def test_decisions_are_read_above_the_quote_of_any_client(world, client, answer, granted):
    req = world.dispatched()
    mail = ask_extension(world, req)
    quoted = "\n".join((">" if client is COREMAIL or client is GMAIL else "") + line for line in mail.text.splitlines())
    world.send("li@t.test", "Re: " + mail.subject, client.format(answer=answer, subject=mail.subject, quoted=quoted),
               reply_to=mail)
    task = core.task_of(req)
    assert task.deadline_at == at("2026-12-09T17:30:00+08:00" if granted else "2026-12-04T17:30:00+08:00")
    assert refreshed(req).state == DOING


def test_an_extension_after_the_deadline_is_refused_and_staff_told(world, monkeypatch):
    req = world.dispatched()
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-07T09:00:00+08:00")
    ask = coded(world, "zonghe@t.test", step_of(req, LEAD), "申请延期：12月11日前，因数据未齐。")
    del ask
    req = refreshed(req)
    assert req.state == DOING and not core.active_steps(req, EXTEND)
    told = world.last_to("zonghe@t.test", "未能办理")
    assert "已逾期，请报告进展并说明未按期办结原因" in told.text
    staff = world.last_to("clerk@t.test", "逾期后申请延期")
    assert "综合科" in staff.text and "流转码：" not in staff.subject
    assert not [m for m in world.mails_to("li@t.test") if "延期" in m.subject]
    assert rnd(req).signed_at is not None                  # still the lead unit's reply


def test_an_extension_from_a_co_unit_is_not_applied(world):
    req = world.dispatched()
    coded(world, "anquan@t.test", step_of(req, CO), "申请延期：12月9日前，因人手不足。")
    assert refreshed(req).state == DOING and not core.active_steps(req, EXTEND)
    assert world.explained and not [m for m in world.mails_to("li@t.test") if "延期" in m.subject]


@pytest.mark.parametrize("body, why", [("申请延期：尽快，因人手不足", "请写明日期"),
                                       ("申请延期：因检查推迟至12月7日，申请延至12月10日前", "请写明日期"),
                                       ("申请延期：节后，因人手不足", "请写明日期"),
                                       ("申请延期：12月3日前，提前完成", "不晚于现时限")])
def test_an_extension_without_a_readable_later_date_is_refused(world, body, why):
    req = world.dispatched()
    coded(world, "zonghe@t.test", step_of(req, LEAD), body)
    assert refreshed(req).state == DOING and not core.active_steps(req, EXTEND)
    assert why in world.last_to("zonghe@t.test", "未能办理").text


@pytest.mark.parametrize("body, asked, reason", [
    ("申请延期：延至12月10日前，因检查推迟至12月7日。", "12月10日（周四）17:30前", "因检查推迟至12月7日"),
    ("申请延期：12月10日前", "12月10日（周四）17:30前", "（未说明）"),
    ("申请延期：因检查推迟至12月7日，数据未齐\n时限：12月10日前", "12月10日（周四）17:30前",
     "因检查推迟至12月7日，数据未齐"),
    ("申请延期：5个工作日内，因人手不足", "12月8日（周二）17:30前", "因人手不足")])
def test_the_asked_date_and_the_reason(world, monkeypatch, body, asked, reason):
    req = world.dispatched()
    coded(world, "zonghe@t.test", step_of(req, LEAD), body)
    mail = world.last_to("li@t.test", "延期申请")
    assert f"申请延至：{asked}" in mail.text and f"延期理由：{reason}\n" in mail.text
    # read again at the decision, days later, the request means the same moment
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-03T09:00:00+08:00")
    world.reply("li@t.test", mail, "同意")
    assert core.deadline_line(world.app, core.task_of(req).deadline_at).startswith(asked)


def test_the_asked_date_may_follow_the_reason_or_stand_in_a_line(world):
    req = world.dispatched()
    coded(world, "zonghe@t.test", step_of(req, LEAD), "申请延期：因检查组行程调整，需延至12月10日前报送")
    assert "12月10日（周四）17:30前" in world.last_to("li@t.test", "延期申请").text
    req2 = world.dispatched(content="核对固定资产台账")
    world.send("zonghe@t.test", f"回复：【督办〔2026〕2号】交办通知单 流转码：{step_of(req2, LEAD).code}",
               "申请延期：资产盘点未完成\n时限：5个工作日内")
    assert "12月8日（周二）17:30前" in world.last_to("li@t.test", "核对固定资产台账").text


def test_a_forged_decision_on_an_extension_changes_nothing(world):
    req = world.dispatched()
    mail = ask_extension(world, req)
    world.reply("wang@t.test", mail, "同意")            # another leader: not this matter's
    world.reply("zonghe@t.test", mail, "同意")          # the lead unit approving its own request
    world.reply("clerk@t.test", mail, "同意")           # office staff: the leader decides
    assert refreshed(req).state == EXTENDING and core.task_of(req).deadline_at == at("2026-12-04T17:30:00+08:00")
    assert len(world.explained) == 3 and step_of(req, EXTEND).state == ACTIVE
    # the leader answering without the code (a new mail naming the number only) decides nothing either
    world.send("li@t.test", f"【{NUMBER}】延期", "同意")
    assert refreshed(req).state == EXTENDING


def test_withdrawing_while_the_extension_waits_is_the_leaders_not_progress(world):
    req = world.dispatched()
    ask_extension(world, req)
    # a second 申请延期 while one waits is not applied (the matter is 延期待批, not 办理中)
    coded(world, "zonghe@t.test", step_of(req, LEAD), "申请延期：12月11日前，再次申请。")
    assert len(core.active_steps(req, EXTEND)) == 1
    # progress is still accepted while the extension waits
    coded(world, "zonghe@t.test", step_of(req, LEAD), "进展：现场检查已安排。")
    assert opinions(req, "进展")


# -- 申请改派 and 维持 ----------------------------------------------------------------------------------------

def test_reassignment_goes_to_staff_and_keep_comes_back(world):
    req = world.dispatched()
    coded(world, "zonghe@t.test", step_of(req, LEAD), "申请改派：该事项主要涉及安全检查，建议由安全科牵头。")
    step = step_of(req, REASSIGN)
    forward = world.last_to("clerk@t.test", "综合科申请改派")
    assert forward.subject.endswith(f"〔流转码：{step.code}〕") and "建议由安全科牵头" in forward.text
    assert "派发" in forward.text and "维持：" in forward.text
    world.reply("clerk@t.test", forward, "维持：领导已明确由综合科牵头，安全科配合，请抓紧办理。")
    assert Step.get_by_id(step.id).state == APPROVED_STEP
    kept = world.last_to("zonghe@t.test", "维持原承办")
    assert "领导已明确由综合科牵头" in kept.text and kept.subject.endswith(f"〔流转码：{step_of(req, LEAD).code}〕")
    assert [o.text for o in opinions(req, "维持")] == ["领导已明确由综合科牵头，安全科配合，请抓紧办理。"]
    assert refreshed(req).state == DOING


def test_reassignment_without_a_reason_or_from_a_co_unit_is_not_applied(world):
    req = world.dispatched()
    coded(world, "zonghe@t.test", step_of(req, LEAD), "申请改派")
    assert not core.active_steps(req, REASSIGN)
    coded(world, "anquan@t.test", step_of(req, CO), "申请改派：不归我科。")
    assert not core.active_steps(req, REASSIGN) and world.explained


def test_keep_needs_the_reassignment_code(world):
    req = world.dispatched()
    coded(world, "zonghe@t.test", step_of(req, LEAD), "申请改派：人手不足。")
    coded(world, "clerk@t.test", step_of(req, LEAD), "维持：继续办理。")     # the unit's code, not the forward's
    assert step_of(req, REASSIGN).state == ACTIVE


# -- rounds, and who may write -------------------------------------------------------------------------------

def test_a_mail_of_an_earlier_round_is_answered_with_the_round(world):
    req = world.dispatched()
    old = step_of(req, LEAD)
    task = core.task_of(req)
    with models.db.atomic():
        task.round = 2
        task.save()
        core.start_round(world.app, req, task, by="li@t.test", how="新一轮")
    coded(world, "zonghe@t.test", old, "进展：已完成。")
    assert not opinions(req, "进展")
    told = world.last_to("zonghe@t.test", "未能办理")
    assert "该事项已进入第2轮，请回复最新通知" in told.text
    assert "第1轮" in noted(req)[-1]
    # the new round's code counts
    coded(world, "zonghe@t.test", step_of(req, LEAD), "进展：第二轮已启动。")
    assert [o.text for o in opinions(req, "进展")] == ["第二轮已启动。"]


def test_a_unit_not_on_the_matter_changes_nothing(world):
    req = world.dispatched()
    coded(world, "caiwu@t.test", step_of(req, LEAD), "进展：已完成。")
    assert not opinions(req, "进展") and world.explained


def test_a_unit_with_another_units_code_changes_nothing(world):
    req = world.dispatched(co_units=("anquan@t.test", "caiwu@t.test"))
    coded(world, "caiwu@t.test", step_of(req, CO, "anquan@t.test"), "协办完毕：完成。")
    # caiwu holds its own step, and answers with anquan's code: it is not anquan's 协办完毕
    assert step_of(req, CO, "anquan@t.test").state == ACTIVE


# -- the mails themselves ------------------------------------------------------------------------------------

def every_mail(world) -> list:
    """Every mail of this part, in each of its forms, from one matter that goes through all of them."""
    req = world.dispatched(co_units=("anquan@t.test", "caiwu@t.test"))
    lead, co = step_of(req, LEAD), step_of(req, CO, "anquan@t.test")
    coded(world, "anquan@t.test", co, "进展：隐患清单已整理完毕。", attachments=[("隐患清单.xlsx", b"x")])
    coded(world, "zonghe@t.test", lead, "初稿已写好。")
    coded(world, "anquan@t.test", co, "请求协调：需财务科提供数据。")
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "请求协调"), "已联系财务科，12月2日前提供。")
    coded(world, "zonghe@t.test", lead, "申请改派：建议安全科牵头。")
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "申请改派"), "维持：请综合科继续牵头。")
    coded(world, "zonghe@t.test", lead, "申请延期：12月9日前，因检查组行程调整。")
    world.reply("li@t.test", world.last_to("li@t.test", "延期申请"), "已阅")
    world.reply("li@t.test", world.last_to("li@t.test", "请明确"), "同意\n时限：12月8日前")
    coded(world, "zonghe@t.test", lead, "申请延期：12月11日前，因数据未齐。")
    world.reply("li@t.test", world.last_to("li@t.test", "延期申请"), "不同意：请按时完成。")
    coded(world, "anquan@t.test", co, "办结：已完成。")
    coded(world, "caiwu@t.test", step_of(req, CO, "caiwu@t.test"), "协办完毕：数据已提供。")
    return [(m.kind, m.subject) for m in Mail.select().where(Mail.direction == "out").order_by(Mail.id)]


def test_every_mail_of_this_part_reads_as_the_office_writes(world, monkeypatch):
    from daemon import mime
    from daemon.models import Outbox
    kinds = every_mail(world)
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-09T09:00:00+08:00")
    coded(world, "zonghe@t.test", step_of(world.request(), LEAD), "申请延期：12月15日前，因数据未齐。")
    assert {k for k, _ in kinds} >= {"jb_passed", "jb_only_report", "jb_coordinate", "jb_coordinate_answer",
                                    "jb_reassign", "jb_keep", "jb_extend", "jb_extend_result"}
    for row in Outbox.select().order_by(Outbox.id):
        m = mime.parse(mailstore.message(row))
        if not row.mail.kind.startswith("jb_"):
            continue
        assert m.subject.startswith(f"【{NUMBER}】"), m.subject
        first = m.text.splitlines()[0]
        assert first == f"集团公司办公室 · {NUMBER} 〔流转码：{row.mail.code}〕", first
        assert m.html.lstrip().startswith('<div id="officeflow-mail"') and m.html.rstrip().endswith("</div>")
        for part in (m.subject, m.text, m.html):
            assert "None" not in part and "！" not in part and "Undefined" not in part
        html = re.sub(r"<!--.*?-->", "", m.html, flags=re.S)
        for tag in ("table", "tr", "td", "p", "div"):
            assert len(re.findall(rf"<{tag}\b", html)) == len(re.findall(rf"</{tag}>", html)), (row.mail.kind, tag)
        # a mail that expects an answer says so in its subject, with its step's code; the others do not
        if row.mail.step_id:
            assert m.subject.endswith(f" 〔流转码：{row.mail.code}〕"), m.subject
            assert "直接回复本邮件" in m.text
        else:
            assert "流转码" not in m.subject, m.subject


def test_what_a_unit_writes_is_escaped_in_the_html(world):
    req = world.dispatched()
    coded(world, "anquan@t.test", step_of(req, CO), "进展：<b>完成</b><script>x</script>")
    passed = world.last_to("zonghe@t.test", "安全科报送进展")
    assert "<script>" not in passed.html and "&lt;script&gt;" in passed.html
    assert "<b>完成</b><script>x</script>" in passed.text


@pytest.mark.parametrize("client", [OUTLOOK, FOXMAIL, COREMAIL, GMAIL])
def test_a_units_reply_is_read_above_the_quote_that_names_every_keyword(world, client):
    req = world.dispatched()
    coded(world, "anquan@t.test", step_of(req, CO), "进展：清单已整理。")
    passed = world.last_to("zonghe@t.test", "安全科报送进展")
    assert "办结：" in passed.text and "请求协调：" in passed.text        # the quote names every keyword
    quoted = "\n".join((">" if client in (COREMAIL, GMAIL) else "") + line for line in passed.text.splitlines())
    world.send("zonghe@t.test", "答复: " + passed.subject,
               client.format(answer="进展：已汇总安全科清单，\n正在修改初稿。", subject=passed.subject, quoted=quoted),
               reply_to=passed)
    assert [o.text for o in opinions(req, "进展")][-1] == "已汇总安全科清单，\n正在修改初稿。"
    assert refreshed(req).state == DOING and not core.active_steps(req, COORDINATE)


def test_a_unit_that_writes_nothing_above_the_quote_reports_nothing(world):
    req = world.dispatched()
    coded(world, "anquan@t.test", step_of(req, CO), "进展：清单已整理。")
    passed = world.last_to("zonghe@t.test", "安全科报送进展")
    world.reply("zonghe@t.test", passed, "")
    assert refreshed(req).state == DOING and len(opinions(req, "办结")) == 0
    assert [o.text for o in opinions(req, "签收")] == [""] and rnd(req).signed_at is not None
    assert noted(req)[-1] == "综合科回复无正文，记为签收"

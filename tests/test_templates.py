"""Every mail template renders with realistic contexts and keeps the conventions the reply reader relies on."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from daemon.docform import FormData, OpinionView, StepView
from daemon.outbox import Renderer

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CST = timezone(timedelta(hours=8))
UTC = timezone.utc
CODE = "K7QX2A"
NUMBER = "办请〔2026〕7号"
FINGERPRINT = f"〔流转码：{CODE}〕"
HAS_FORM = (TEMPLATES / "_form.html").exists() and (TEMPLATES / "_form.txt").exists()


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _local(value):
    return value.astimezone(CST) if isinstance(value, datetime) else value


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    from zoneinfo import ZoneInfo

    from daemon import outbox
    if hasattr(outbox, "_office_tz"):
        outbox._office_tz = ZoneInfo("Asia/Shanghai")        # what outbox.configure(cfg) sets at start
    r = Renderer(TEMPLATES)
    for env in (r.html, r.text):
        env.filters.setdefault("local", _local)
    return r


def make_req(title="关于购置办公设备的请示", **changes):
    fields = dict(
        number=NUMBER, title=title, unit_name="第一分公司", sender="unit1@example.test",
        received_at=utc(2026, 11, 20, 1, 12), urgency="加急", deadline=date(2026, 12, 5), state="approving",
        proposal="拟同意购置，经费从年度办公经费中列支。请财务科、审计科会签后，呈李副总阅示。",
        route="财务科+审计科，李副总", result="", done_report="", code=CODE,
        findings=[
            {"rule": "contact", "severity": "提示", "message": "未写明联系人及联系电话",
             "reason": "请示应注明联系人和联系电话", "suggestion": "在落款后注明联系人姓名及电话"},
            {"rule": "closing", "severity": "退回", "message": "缺少请示结束语",
             "reason": "请示应以“妥否，请批示”等语句结尾", "suggestion": "在正文末尾加“妥否，请批示。”"},
        ],
        attachments=[{"name": "办公设备购置清单.xlsx"}, {"name": "供应商报价单.pdf"}],
    )
    fields.update(changes)
    return NS(**fields)


def make_form(req) -> FormData:
    ops = (OpinionView("财务科", "同意", "经费在年度预算内，可以列支。", utc(2026, 11, 23, 1, 40).astimezone(CST)),
           OpinionView("审计科", "原则同意", "请按规定履行比价程序。", utc(2026, 11, 24, 7, 5).astimezone(CST)))
    return FormData(
        office_name="集团公司办公室", number=req.number, received_at=req.received_at.astimezone(CST),
        unit_name=req.unit_name, sender=req.sender, title=req.title, doc_number="", urgency=req.urgency,
        deadline=req.deadline, classification="", attachments=tuple(a["name"] for a in req.attachments),
        proposal=req.proposal, proposal_by="张明", proposal_at=utc(2026, 11, 21, 2, 3).astimezone(CST),
        steps=(StepView(1, "会签", "财务科、审计科", "科室意见", "已同意", ops),
               StepView(2, "", "李副总", "领导批示", "待审批", ())),
        execute="综合科", copies=("行政科", "审计科"), state="审批中", result="", done_report="",
        closed_at=None, printed_at=utc(2026, 11, 27, 6, 5).astimezone(CST))


def base(req=None) -> dict:
    return {"office": NS(name="集团公司办公室", address="office@example.test", timezone="Asia/Shanghai"),
            "code": CODE, "now": utc(2026, 11, 27, 6, 5), "tz": "Asia/Shanghai", "req": req}


def workflow(req=None, **extra) -> dict:
    req = req or make_req()
    return {**base(req), "form": make_form(req), "state_label": "审批中", **extra}


MAIL = NS(subject="回复：【办请〔2026〕7号】请审批：关于购置办公设备的请示", from_addr="li@example.test",
          from_name="李副总", text="好的\n\n> 原邮件……")
STEP = NS(position=2, kind="one", approvers=["li@example.test"], code=CODE, state="active",
          activated_at=utc(2026, 11, 24, 8, 0), decided_at=None, decided_by="", reminders=1)
REPLY = NS(verb=NS(value="未识别"), new_text="好的\n我看一下再说\n" + "\n".join(f"第{i}行" for i in range(3, 15)),
           opinion="", target="")


def message(**extra) -> dict:
    return {**base(make_req()), "mail": MAIL, **extra}


def approver_ctx(**extra) -> dict:
    return workflow(step=STEP, approver="li@example.test", approver_name="李副总", step_label="李副总", **extra)


ROW = {"number": NUMBER, "title": "关于购置办公设备的请示", "unit": "第一分公司", "state_label": "审批中",
       "holder": "李副总", "waited": "2个工作日3小时", "overdue": True, "since": utc(2026, 11, 24, 8, 0)}

CASES: dict[str, tuple[dict, bool]] = {   # name: (context, needs the 审批单 partial)
    "receipt": (workflow(), True),
    "receipt_resubmitted": (workflow(resubmitted=True), True),
    "review": (workflow(reason="new", note="", route=NS(steps="财务科，李副总", execute="综合科",
                                                         copy=("行政科",))), True),
    "review_returned": (workflow(reason="returned_by_approver", note="李副总退回：请补充三家比价材料。",
                                 route=None), True),
    "accepted": (workflow(), True),
    "approval": (approver_ctx(), True),
    "approval_transferred": (approver_ctx(transferred_by="王总"), True),
    "returned": (workflow(guidance="请按审核意见修改后重新报送。", auto=False, model=""), True),
    "returned_auto": (workflow(guidance="经办公室按请示行文规范审核，该请示存在须修改后再报的问题，现予退回。",
                               auto=True, model="关于××××的请示\n\n集团公司：\n    ……\n    妥否，请批示。"), True),
    "rejected": (workflow(by="李副总", reason="今年预算已用完，明年再议。"), True),
    "result_execute": (workflow(), True),
    "result_copy": (workflow(), True),
    "result_unit": (workflow(), True),
    "withdrawn": (workflow(), True),
    "form_resend": (workflow(), True),
    "done": (workflow(by="综合科"), True),
    "supplement": (workflow(text="补充报价单一份，请审阅。", names=["补充报价单.pdf"]), True),
    "classified": ({**base(None), "mail": MAIL, "level": "机密"}, False),
    "classified_alert": ({**base(None), "mail": MAIL, "level": "机密"}, False),
    "unmatched": ({**base(None), "mail": MAIL}, False),
    "refused": ({**base(None), "mail": MAIL}, False),
    "refused_action": (message(reply=REPLY, reason="该请示已办结，不能撤回。"), False),
    "not_understood": (message(reply=REPLY), False),
    "not_understood_offered": (message(reply=NS(verb=NS(value="未识别"), new_text="请王总定", opinion="", target="",
                                                shape="handover"), offered="转：王总", ask=True), False),
    "not_understood_condition": (message(reply=NS(verb=NS(value="未识别"), new_text="若资金能落实，可以同意",
                                                  opinion="", target="", shape="condition"), offered="", ask=True),
                                 False),
    "not_entitled": (message(reply=NS(verb=NS(value="同意"), new_text="同意", opinion="", target="")), False),
    "forgery_alert": (message(reply=NS(verb=NS(value="同意"), new_text="同意", opinion="", target="")), False),
    "forgery_alert_unverified": (message(reply=NS(verb=NS(value="同意"), new_text="同意", opinion="", target=""),
                                         why="发件人显示名中写有另一个邮箱地址"), False),
    "not_entitled_answerable": (approver_ctx(mail=MAIL, answerable=True, reply=NS(
        verb=NS(value="同意"), new_text="同意", opinion="", target="")), True),
    "not_understood_answerable": (approver_ctx(mail=MAIL, answerable=True, reply=REPLY), True),
    "refused_action_answerable": (approver_ctx(mail=MAIL, answerable=True, reply=REPLY,
                                               reason="未找到“孙总”。"), True),
    "unverified": (message(reply=NS(verb=NS(value="同意"), new_text="同意", opinion="", target=""),
                           why="邮件服务器（mx.example.test）未能验证该邮件确由example.test发出（dmarc=fail）"), False),
    "ambiguous": (message(reply=REPLY, why="所回复的是办请〔2026〕7号的邮件，主题中写的却是办请〔2026〕8号"), False),
    "late": (message(step=STEP, decided_by="王副总", decided_at=utc(2026, 11, 26, 2, 30)), False),
    "late_unknown_time": (message(step=STEP, decided_by="王副总", decided_at=None), False),
    "reminder": (approver_ctx(count=1, waited="1个工作日2小时", overdue=False), True),
    "reminder_firm": (approver_ctx(count=3, waited="4个工作日", overdue=True), True),
    "escalation": (workflow(step=STEP, approver_name="李副总", count=2, waited="3个工作日"), True),
    "away_notice": (workflow(step=STEP, approver_name="李副总", delegate_name="赵主任",
                             away_text="我于11月25日至29日出差，期间邮件不能及时处理。"), True),
    "digest": ({**base(None), "items": [ROW, {**ROW, "number": "办请〔2026〕9号", "overdue": False}],
                "not_reported": [{**ROW, "state_label": "已批准，待办结", "holder": "综合科"}],
                "ignored": [{"at": utc(2026, 11, 26, 9, 0), "sender": "spam@example.com", "subject": "推广",
                             "reason": "发件人不在单位名单"}],
                "warnings": ["2027年节假日数据缺失，按周一至周五计算"], "day": date(2026, 11, 27),
                "items_total": 2, "overdue_total": 1, "not_reported_total": 1, "ignored_total": 1}, False),
    "weekly": ({**base(None), "stats": {"received": 12, "done": 7, "approved": 8, "rejected": 1, "returned": 2,
                                        "withdrawn": 1},
                "per_approver": [{"name": "李副总", "count": 5, "median": "4小时", "longest": "2个工作日", "bar": 100},
                                 {"name": "财务科", "count": 3, "median": "1个工作日", "longest": "3个工作日",
                                  "bar": 60}],
                "per_step": [{"name": "办公室审核", "count": 12, "median": "2小时", "longest": "1个工作日"}],
                "week_start": date(2026, 11, 23), "week_end": date(2026, 11, 27)}, False),
    "status": (workflow(holder="李副总", since=utc(2026, 11, 24, 8, 0),
                        mails=[{"at": utc(2026, 11, 20, 1, 12), "direction": "收", "who": "第一分公司",
                                "subject": "关于购置办公设备的请示", "action": "登记"},
                               {"at": utc(2026, 11, 20, 1, 13), "direction": "发", "who": "第一分公司",
                                "subject": "回执", "action": "回执"}]), True),
    "status_nobody": (workflow(holder="", since=None, mails=[]), True),
    "status_list": ({**base(None), "unit_name": "第一分公司",
                     "requests": [{"number": NUMBER, "title": "关于购置办公设备的请示", "state_label": "审批中",
                                   "holder": "李副总", "since": utc(2026, 11, 24, 8, 0)}]}, False),
    "status_list_empty": ({**base(None), "unit_name": "第一分公司", "requests": []}, False),
    "query_denied": ({**base(None), "mail": MAIL, "number": "办请〔2026〕99号"}, False),
    "not_request": ({**base(None), "mail": MAIL}, False),
    "flood_alert": ({**base(None), "sender": "unit1@example.test", "unit_name": "第一分公司", "limit": 30}, False),
    "flood_notice": ({**base(None), "mail": MAIL, "limit": 30}, False),
    "loop_alert": ({**base(None), "mail": MAIL, "sender": "unit1@example.test", "count": 3}, False),
}
JB_REQ = NS(number="督办〔2026〕3号", title="起草年度安全生产检查通报", unit_name="李副总", urgency="加急",
            deadline=date(2026, 12, 4), state="jb_doing", attachments=[], code=CODE)
JB_ITEM = {"seq": 1, "number": "督办〔2026〕3号", "leader": "李副总", "content": "起草年度安全生产检查通报",
           "urgency": "加急", "deadline_line": "12月4日（周五）17:30前，逾期 2 个工作日", "overdue": True,
           "role": "承办", "lead_name": "综合科", "last_progress": utc(2026, 12, 2, 2, 0), "ask_progress": True,
           "due": ["催办", "请报进展"], "extending": False}
JB_LIST = {**base(None), "unit_name": "综合科", "left": 0, "kind": "催办", "by_office": False, "due_total": 2,
           "reply_by": "12月8日（周二）", "example": 1, "example_number": "督办〔2026〕3号",
           "items": [JB_ITEM, {**JB_ITEM, "seq": 2, "number": "督办〔2026〕5号", "leader": "王总", "urgency": "",
                               "deadline_line": "12月9日（周三）17:30前，剩 2 个工作日", "overdue": False,
                               "role": "协办", "last_progress": None, "ask_progress": False, "due": ["临期提醒"],
                               "extending": True}]}
JB_DIGEST = {"total": 2, "sections": [
    {"key": "unsigned", "title": "未签收", "waiting": False, "count": 1, "more": 0, "rows": [
        {"number": "督办〔2026〕3号", "content": "起草年度安全生产检查通报", "leader": "李副总", "lead": "综合科",
         "deadline": "12月4日（周五）17:30前，剩 3 个工作日", "waited": "1个工作日", "note": "派发于12月1日10:12"}]},
    {"key": "verifying", "title": "待核定", "waiting": True, "count": 101, "more": 100, "rows": [
        {"number": "督办〔2026〕4号", "content": "研究食堂管理办法", "leader": "王总", "lead": "",
         "deadline": "待明确", "waited": "2小时", "note": ""}]}], "overdue": []}
CASES.update({
    "jb_list": (JB_LIST, False),
    "jb_list_remind": ({**JB_LIST, "kind": "临期提醒", "items": JB_LIST["items"][1:], "example": 2,
                        "example_number": "督办〔2026〕5号"}, False),
    "jb_list_office": ({**JB_LIST, "by_office": True, "left": 3}, False),
    "jb_list_which": ({**base(None), "mail": MAIL, "reply": REPLY, "why": "来信开头未写明序号或编号",
                       "items": [{"seq": 1, "number": "督办〔2026〕3号", "content": "起草年度安全生产检查通报"}]}, False),
    "jb_escalation": ({**base(JB_REQ), "task": NS(content=JB_REQ.title), "state_label": "办理中",
                       "leader_name": "李副总", "lead_name": "综合科", "co_names": ["安全科"],
                       "deadline_line": "12月4日（周五）17:30前，逾期 2 个工作日", "step_labels": {},
                       "overdue_days": 2, "reminders": 2, "round_number": 1, "dispatched_at": utc(2026, 12, 1, 2, 12),
                       "co_open": ["安全科"], "co_done": [], "lead_open": True, "extending": False,
                       "last_progress": NS(at=utc(2026, 12, 3, 2, 0), name="综合科", text="初稿已完成。")}, False),
    "digest_jiaoban": ({**CASES["digest"][0], "jiaoban": JB_DIGEST}, False),
})
DECIDING = {"review", "approval", "reminder"}


NAMES = ("receipt review accepted approval returned rejected result_execute result_copy result_unit withdrawn done "
         "supplement classified classified_alert unmatched refused refused_action not_understood not_entitled "
         "forgery_alert unverified ambiguous late reminder escalation away_notice digest weekly status status_list "
         "query_denied form_resend not_request flood_alert flood_notice loop_alert jb_list jb_list_which jb_escalation").split() + [
             "jb_status", "jb_ledger"]


# 交办 (SPEC §6): the 查询 answer about one matter or a leader's open ones, and the weekly 台账
def _jb_ledger(whole: bool):
    from daemon.jiaoban.ledger import Ledger
    row = {"number": "督办〔2026〕3号", "title": "起草年度安全生产检查通报", "lead": "综合科", "leader": "李副总",
           "deadline": "12月4日（周五）17:30前", "reminders": 2}
    change = {"round": 1, "old": "12-04 17:30", "new": "12-09 17:30", "how": "延期", "by": "李副总", "at": "12-03 10:00"}
    counts = {"new": 3, "new_cancelled": 1, "closed": 2, "按期": 1, "延期后办结": 1, "逾期办结": 0, "deemed": 1, "open": 4,
              "not_due": 1, "overdue": 2, "reading": 1, "year_closed": 9, "year_on_time": 7, "rate": "77.8%",
              "year": 2026}
    led = Ledger(date(2026, 11, 30), date(2026, 12, 6), utc(2026, 12, 6, 16, 0), True,
                 "" if whole else "李副总", whole, counts,
                 overdue=[{**row, "days": 2, "last_progress": "12-02 初稿已完成"}],
                 reading=[{**row, "reported_at": utc(2026, 12, 4, 8, 40), "checked_at": None, "result": "按期"}],
                 running=[{**row, "state_label": "办理中", "left": "剩 3 个工作日"}],
                 closed=[{**row, "result": "延期后办结", "deemed": True, "days": "6.2", "changes": [change]}],
                 changes=[{**change, "number": "督办〔2026〕3号", "title": "起草年度安全生产检查通报"}],
                 units=[{"name": "综合科", "open": 2, "overdue": 1, "closed": 5, "on_time": 4}] if whole else [])
    return {**base(None), "ledger": led, "c": counts}


JB_REQ = make_req(number="督办〔2026〕3号", title="起草年度安全生产检查通报", unit_name="李副总", sender="li@example.test",
                  attachments=[], findings=[], urgency="加急")
JB_TASK = NS(content="起草年度安全生产检查通报", requirements="突出问题整改，不超过两页。")
JB_ROUND = {"number": 1, "dispatched_at": utc(2026, 12, 1, 3, 0), "signed_at": utc(2026, 12, 1, 4, 0),
            "reminders": 1, "reported_at": utc(2026, 12, 4, 8, 40), "result": "按期", "checked_at": utc(2026, 12, 4, 9, 0),
            "checked_by": "办公室", "check_opinion": "报告如实", "read_at": None, "deemed": False, "instruction": ""}
CASES.update({
    "jb_status": ({**base(JB_REQ), "mail": MAIL, "task": JB_TASK, "state_label": "待阅示", "holder": "李副总",
                   "since": utc(2026, 12, 4, 9, 0), "leader_name": "李副总", "lead_name": "综合科", "co_names": ["安全科"],
                   "deadline_line": "12月4日（周五）17:30前", "rounds": [JB_ROUND],
                   "last_progress": {"at": utc(2026, 12, 2, 1, 0), "name": "综合科", "decision": "进展", "text": "初稿已完成"},
                   "changes": ["第1轮 2026-12-04 17:30 → 2026-12-09 17:30（延期，李副总，2026-12-03 10:00）"],
                   "opinions": [{"at": utc(2026, 12, 2, 1, 0), "name": "综合科", "decision": "进展", "text": "初稿已完成"}],
                   "mails": [{"at": utc(2026, 12, 1, 2, 12), "direction": "收", "who": "李副总", "subject": "交办",
                              "action": "登记"}]}, False),
    "jb_status_listing": ({**base(None), "mail": MAIL, "listing": True, "leader_name": "李副总",
                           "matters": [{"number": "督办〔2026〕3号", "title": "起草年度安全生产检查通报", "state_label": "办理中",
                                        "holder": "综合科", "lead": "综合科", "deadline": "12月4日（周五）17:30前",
                                        "left": "逾期 2 个工作日", "overdue": 2}]}, False),
    "jb_status_listing_empty": ({**base(None), "mail": MAIL, "listing": True, "leader_name": "李副总", "matters": []},
                                False),
    "jb_ledger": (_jb_ledger(False), False),
    "jb_ledger_head": (_jb_ledger(True), False),
    "query_denied_jiaoban": ({**base(None), "mail": MAIL, "number": "督办〔2026〕99号", "noun": "交办事项"}, False),
})


def template_of(case: str) -> str:
    for name in sorted(NAMES, key=len, reverse=True):
        if case == name or case.startswith(name + "_"):
            return name
    raise LookupError(case)


def render(renderer, case):
    ctx, needs_form = CASES[case]
    if needs_form and not HAS_FORM:
        pytest.skip("the 审批单 partials (_form.html, _form.txt) are not there yet")
    if not (TEMPLATES / template_of(case)).is_dir():
        pytest.skip(f"{template_of(case)} is not written yet")      # test_every_template_has_a_case fails then
    return renderer.render(template_of(case), ctx)


def test_every_template_has_a_case():
    # the 交办's mails (jb_*) are rendered by the tests of the 交办, from the mails a matter really sends
    names = {p.name for p in TEMPLATES.iterdir() if p.is_dir() and not p.name.startswith((".", "_", "jb_"))} - {"guide"}
    assert names <= set(NAMES), names - set(NAMES)
    assert {template_of(c) for c in CASES} == set(NAMES)
    for name in NAMES:
        for part in ("subject.txt", "body.txt", "body.html"):
            assert (TEMPLATES / name / part).is_file(), f"{name}/{part}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_renders(renderer, case):
    subject, text, html = render(renderer, case)
    ctx = CASES[case][0]
    assert subject and "\n" not in subject
    if ctx.get("req") is not None:
        assert subject.startswith(f"【{ctx['req'].number}】"), subject
    first = text.splitlines()[0]
    assert FINGERPRINT in first, first
    assert html.lstrip().startswith('<div id="officeflow-mail"') and html.rstrip().endswith("</div>")
    assert FINGERPRINT in html.split("</td>", 1)[0]
    body = text.split("\n", 1)[1]
    assert len(body.strip()) > 40, "empty body"
    assert len(re.sub(r"<[^>]+>", "", html).strip()) > 60, "empty html"
    for part in (subject, text, html):
        assert "！" not in part and "!" not in re.sub(r"<!--.*?-->|<!\[endif\]-->", "", part, flags=re.S)
        assert "None" not in part and "Undefined" not in part
    assert "<script>" not in html


@pytest.mark.parametrize("template", sorted(DECIDING))
def test_decision_subjects_carry_the_code(renderer, template):
    subject, _, _ = render(renderer, template)
    assert subject.endswith(f" {FINGERPRINT}"), subject


@pytest.mark.parametrize("case", ["not_entitled", "not_understood", "refused_action"])
def test_an_explanation_to_an_approver_of_the_step_is_answerable(renderer, case):
    """With a signer's code it carries the code, the form and how to answer; without one, none of them."""
    subject, text, html = render(renderer, case + "_answerable")
    assert subject.endswith(f" {FINGERPRINT}"), subject
    for part in (text, html):
        assert "报批材料审批单" in part and "直接回复本邮件" in part
    subject, text, html = render(renderer, case)
    assert "流转码" not in subject and "报批材料审批单" not in text and "报批材料审批单" not in html


def test_other_subjects_do_not_ask_for_a_decision(renderer):
    for case in ("receipt", "accepted", "result_unit", "digest"):
        subject, _, _ = render(renderer, case)
        assert "流转码" not in subject, subject


@pytest.mark.parametrize("case", sorted(c for c, (ctx, _) in CASES.items() if ctx.get("req") is not None))
def test_title_is_escaped_in_html(renderer, case):
    ctx, needs_form = CASES[case]
    if needs_form and not HAS_FORM:
        pytest.skip("the 审批单 partials are not there yet")
    if not (TEMPLATES / template_of(case)).is_dir():
        pytest.skip(f"{template_of(case)} is not written yet")
    req = make_req(title="关于<script>alert(1)</script>的请示")
    ctx = {**ctx, "req": req}
    if "form" in ctx:
        ctx["form"] = make_form(req)
    subject, text, html = renderer.render(template_of(case), ctx)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<script>alert(1)</script>" in text        # the text part is not escaped


def test_findings_must_return_first(renderer):
    _, text, html = render(renderer, "review")
    assert text.index("缺少请示结束语") < text.index("未写明联系人")
    assert html.index("缺少请示结束语") < html.index("未写明联系人")
    req = make_req(findings=[])
    _, text, html = renderer.render("review", {**CASES["review"][0], "req": req, "form": make_form(req)})
    assert "未发现格式问题" in text and "未发现格式问题" in html


def test_decision_instruction_is_one_line(renderer):
    for case in ("approval", "reminder"):
        _, text, _ = render(renderer, case)
        lines = [line for line in text.splitlines() if "不同意：" in line]
        assert len(lines) == 1 and "同意" in lines[0] and "退回：" in lines[0], lines


def test_times_are_local(renderer):
    _, text, _ = render(renderer, "receipt")
    assert "2026年11月20日 09:12" in text          # 01:12 UTC in Asia/Shanghai


def test_not_understood_quotes_at_most_ten_lines(renderer):
    _, text, _ = render(renderer, "not_understood")
    assert "我看一下再说" in text and "第10行" in text and "第12行" not in text


@pytest.mark.parametrize("case", sorted(c for c, (ctx, _) in CASES.items() if "mail" in ctx))
def test_what_strangers_wrote_is_escaped(renderer, case):
    ctx = dict(CASES[case][0])
    ctx["mail"] = NS(subject="<img src=x onerror=alert(1)>", from_addr="x@example.com", from_name="<b>某人</b>",
                     text="<script>x</script>")
    if "reply" in ctx:
        ctx["reply"] = NS(verb=ctx["reply"].verb, new_text="<script>alert(2)</script>", opinion="", target="")
    _, _, html = renderer.render(template_of(case), ctx)
    assert "<img" not in html and "<script>" not in html and "<b>某人" not in html


@pytest.mark.parametrize("case", ["digest", "weekly", "classified", "unmatched", "refused", "query_denied"])
def test_mail_without_code_has_no_empty_fingerprint(renderer, case):
    """Mails not tied to a request go out with code "": the first line names the office, no empty 〔流转码：〕."""
    subject, text, html = renderer.render(template_of(case), {**CASES[case][0], "code": ""})
    assert text.splitlines()[0] == "集团公司办公室"
    assert "流转码" not in text and "流转码" not in html and "流转码" not in subject


@pytest.mark.parametrize("case", sorted(CASES))
def test_html_tables_are_balanced(renderer, case):
    _, _, html = render(renderer, case)
    html = re.sub(r"<!--.*?-->", "", html, flags=re.S)
    for tag in ("table", "tr", "td", "p", "div"):
        assert len(re.findall(rf"<{tag}\b", html)) == len(re.findall(rf"</{tag}>", html)), tag


def test_mailto_links_are_rfc6068_utf8_and_bounded():
    import urllib.parse

    from daemon.outbox import MAX_MAILTO, mailto
    link = mailto("office@example.test", "【办请〔2026〕7号】答复 〔流转码：K7QX2A〕", "不同意：（请写理由）\n第二行 & =?")
    assert link.isascii() and link.startswith("mailto:office@example.test?subject=")
    query = urllib.parse.parse_qs(link.split("?", 1)[1])
    assert query["subject"] == ["【办请〔2026〕7号】答复 〔流转码：K7QX2A〕"]
    assert query["body"] == ["不同意：（请写理由）\n第二行 & =?"]
    with pytest.raises(ValueError):
        mailto("office@example.test", "长" * MAX_MAILTO, "同意")


def test_every_mail_that_asks_for_a_decision_has_one_tap_buttons(renderer):
    import html as html_lib
    for name in ("approval", "reminder", "review"):
        ctx = {**CASES[name][0], "code": CODE}
        _, _, body = renderer.render(name, ctx)
        links = [html_lib.unescape(h) for h in re.findall(r'href="(mailto:[^"]+)"', body)]
        assert len(links) >= 2, name
        assert all(len(x) <= 2000 and CODE in urllib_unquote(x) for x in links), name
        assert "class=" not in body.split("mailto:")[1].split("</table>")[0], "inline styles only"


def urllib_unquote(link: str) -> str:
    import urllib.parse
    return urllib.parse.unquote(link)


def test_a_question_says_what_was_understood_and_offers_it(renderer):
    subject, text, body = renderer.render("not_understood", {**CASES["not_understood_offered"][0], "code": CODE})
    assert "请确认" in subject and FINGERPRINT in subject
    assert "您的回复“请王总定”，是否意为“转：王总”？如是，请直接回复“是”；如不是，请写明“同意”“不同意”或“退回：意见”。" in text
    assert ">是</a>" in body
    _, text, _ = renderer.render("not_understood", {**CASES["not_understood_condition"][0], "code": CODE})
    assert "附有条件" in text and "是否意为" not in text


def test_the_jiaoban_list_and_digest_section(renderer):
    subject, text, html = render(renderer, "jb_list")
    assert subject == f"【交办提醒】综合科：2件 {FINGERPRINT}"
    assert "1. 督办〔2026〕3号（加急）〔催办〕" in text and "请报进展" in text and "延期申请待批" in text
    assert text.index("督办〔2026〕3号") < text.index("督办〔2026〕5号")
    _, text, _ = render(renderer, "jb_list_remind")
    assert "交办事项临期提醒" in text and "〔临期〕" in text
    _, text, html = render(renderer, "digest_jiaoban")
    assert "四、交办事项" in text and "（1）未签收1件" in text and "五、系统提示" in text
    assert "四、交办事项" in html and "五、系统提示" in html and "（另有100件未列出。）" in html
    assert "（2）待核定101件" in text and "（另有100件未列出。）" in text
    _, text, _ = render(renderer, "digest")
    assert "交办" not in text and "四、系统提示" in text

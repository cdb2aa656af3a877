"""Records for people, end to end on real Dovecot + SMTP relay: 查询 by mail, the 审批单 .docx, 办结回告,
the register as CSV, the .eml dump and the form at any stage."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import re
from email.message import EmailMessage
from email.utils import make_msgid
from zoneinfo import ZoneInfo

import pytest
from flow import GOOD_BODY, Office, crlf, docx_bytes

from daemon import models

pytestmark = pytest.mark.mailserver

CST = ZoneInfo("Asia/Shanghai")
DAY = "2026-11-26"          # a Thursday; the office works 08:30-12:00, 13:30-17:30


@pytest.fixture
def office(mailservers, maildomain, tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", f"{DAY}T09:00:00+08:00")
    o = Office(mailservers, maildomain, tmp_path)
    yield o
    models.close()


def at(monkeypatch, moment: str) -> None:
    """Move the office clock, e.g. at(mp, "2026-11-27T10:30")."""
    monkeypatch.setenv("OFFICEFLOW_NOW", moment + ":00+08:00")


def number_of(subject: str) -> str:
    m = re.search(r"【(.+?)】", subject)
    assert m, subject
    return m.group(1)


def file_request(office: Office, who: str = "unit1", subject: str = "关于购置办公设备的请示") -> str:
    before = len(office.inbox(who))
    office.send_request(who=who, subject=subject, body=GOOD_BODY.replace("关于购置办公设备的请示", subject))
    office.run_once()
    receipts = office.inbox(who)[before:]
    assert len(receipts) == 1, [m.subject for m in receipts]
    return number_of(receipts[0].subject)


def accept(office: Office, number: str, text: str) -> None:
    office.reply("clerk", office.last("clerk", number), text)
    office.run_once()


def decide(office: Office, who: str, number: str, text: str) -> None:
    office.reply(who, office.last(who, number), text)
    office.run_once()


def new_mail(office: Office, who: str, subject: str, body: str = "") -> None:
    """A new mail (no reply) to the office from a bare address, the way a person types a 查询."""
    msg = EmailMessage()
    msg["From"] = office.addr[who]
    msg["To"] = office.addr["office"]
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=office.domain)
    msg.set_content(body or "\n", charset="utf-8")
    office.servers.send(crlf(msg), [office.addr["office"]], office.addr[who])
    office.run_once()


def answers_to(office: Office, who: str, count_before: int) -> list:
    return office.inbox(who)[count_before:]


def docx_text(data: bytes) -> str:
    from docx import Document
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def form_of(mail):
    found = [a for a in mail.attachments if "审批单" in a.filename and a.filename.endswith(".docx")]
    assert len(found) == 1, [a.filename for a in mail.attachments]
    return found[0]


def request(office: Office, number: str):
    db = office.db()
    return db.Request.get(db.Request.number == number)


def in_approval(office: Office, monkeypatch) -> str:
    """A request accepted at 09:30, approved by 财务科 at 10:30 and now waiting on 李副总 since then."""
    number = file_request(office)
    at(monkeypatch, f"{DAY}T09:30")
    accept(office, number, "受理\n拟办意见：拟同意，请财务科审核后报李副总审批。\n流程：财务科，李副总\n执行：综合科\n抄送：行政科")
    at(monkeypatch, f"{DAY}T10:30")
    decide(office, "caiwu", number, "同意。经费可从年度办公经费列支。")
    at(monkeypatch, f"{DAY}T11:00")
    return number


# -- 查询 by mail ---------------------------------------------------------------------------------------

def assert_full_status(mail, number: str) -> None:
    assert number in mail.subject
    text = mail.text
    for what in ("审批中", "李副总", "10:30", "财务科", "经费可从年度办公经费列支", "拟同意，请财务科审核后报李副总审批",
                 "收发记录", "回执"):
        assert what in text, (what, text)
    assert "<table" in (mail.html or ""), "the 收发记录 is a table in the HTML part"
    for what in ("经费可从年度办公经费列支", "李副总"):
        assert what in mail.html


@pytest.mark.parametrize("how", ["subject", "first_line", "reply"])
def test_a_unit_gets_the_status_of_its_request(office, monkeypatch, how):
    number = in_approval(office, monkeypatch)
    n = len(office.inbox("unit1"))
    if how == "subject":
        new_mail(office, "unit1", f"查询 {number}", "请告知办理进展，谢谢。")
    elif how == "first_line":
        new_mail(office, "unit1", "进度", f"查询 {number}\n\n第一分公司 张三")
    else:
        office.reply("unit1", office.last("unit1", "回执"), "查询")
        office.run_once()
    got = answers_to(office, "unit1", n)
    assert len(got) == 1, [m.subject for m in got]
    assert_full_status(got[0], number)
    assert request(office, number).state == "approving"
    db = office.db()
    query = db.Mail.get((db.Mail.direction == "in") & (db.Mail.kind == "query"))
    assert query.request.number == number and not query.ignored


def test_a_subject_only_query_gets_the_status(office, monkeypatch):
    number = in_approval(office, monkeypatch)
    n = len(office.inbox("unit1"))
    new_mail(office, "unit1", f"查询 {number}", "")
    got = answers_to(office, "unit1", n)
    assert len(got) == 1
    assert_full_status(got[0], number)


def same(a: str, b: str) -> bool:
    """Two mail texts equal but for their 流转码."""
    code = re.compile(r"流转码：[A-Z0-9]+")
    return code.sub("", a) == code.sub("", b)


def test_strangers_and_other_units_learn_nothing(office, monkeypatch):
    number = in_approval(office, monkeypatch)
    secrets = ("关于购置办公设备", "第一分公司", "李副总", "财务科", "经费", "审批中", "综合科")
    missing = "办请〔2026〕99号"
    new_mail(office, "stranger", f"查询 {missing}", "请告知。")
    (nothing,) = office.inbox("stranger")
    for who in ("stranger", "unit2"):
        n = len(office.inbox(who))
        new_mail(office, who, f"查询 {number}", "请告知。")
        # a forwarded mail of the request, answered with 查询
        office.reply(who, office.last("unit1", "回执"), "查询")
        office.run_once()
        got = answers_to(office, who, n)
        assert len(got) == 2, [m.subject for m in got]
        for mail in got:
            for secret in secrets:
                assert secret not in mail.subject + mail.text + (mail.html or ""), (who, secret)
            # the same answer as for a number that does not exist: existence is not revealed
            salutation = {"stranger": office.addr["stranger"], "unit2": "第二分公司"}[who]
            assert same(mail.text.replace(number, missing).replace(salutation, "X"),
                        nothing.text.replace(office.addr["stranger"], "X"))
            assert not [a for a in mail.attachments]
    db = office.db()
    denied = list(db.Mail.select().where((db.Mail.direction == "in") & (db.Mail.kind == "query")))
    assert len(denied) == 5 and all(m.ignored for m in denied)
    assert request(office, number).state == "approving"
    # the unit's own status does not show who else asked
    n = len(office.inbox("unit1"))
    new_mail(office, "unit1", f"查询 {number}", "请告知。")
    (status,) = answers_to(office, "unit1", n)
    assert office.addr["stranger"] not in status.text and "无权" not in status.text


def test_query_alone_lists_the_units_open_requests(office, monkeypatch):
    first = file_request(office)
    second = file_request(office, subject="关于增设服务网点的请示")
    withdrawn = file_request(office, subject="关于举办业务培训的请示")
    others = file_request(office, who="unit2", subject="关于维修办公楼的请示")
    accept(office, second, "受理\n流程：王总")
    office.reply("unit1", office.last("unit1", withdrawn), "撤回")
    office.run_once()
    assert request(office, withdrawn).state == "withdrawn"
    n = len(office.inbox("unit1"))
    new_mail(office, "unit1", "查询", "")
    (listing,) = answers_to(office, "unit1", n)
    for what in (first, second, "关于购置办公设备的请示", "关于增设服务网点的请示", "王总", "待办公室审核", "审批中"):
        assert what in listing.text, what
    for what in (withdrawn, others, "业务培训", "维修办公楼"):
        assert what not in listing.text + (listing.html or ""), what
    # office staff get every unit's open requests
    n = len(office.inbox("clerk"))
    new_mail(office, "clerk", "查询", "")
    (listing,) = answers_to(office, "clerk", n)
    for what in (first, second, others, "维修办公楼"):
        assert what in listing.text, what
    assert withdrawn not in listing.text


@pytest.mark.parametrize("who", ["li", "zhao", "caiwu", "clerk", "director", "zonghe"])
def test_people_around_the_request_may_query(office, monkeypatch, who):
    """On the route (not yet reached, already done, or the delegate), executing, and office staff."""
    number = in_approval(office, monkeypatch)
    n = len(office.inbox(who))
    new_mail(office, who, f"查询 {number}", "请告知进展。")
    got = answers_to(office, who, n)
    assert len(got) == 1, [m.subject for m in got]
    assert_full_status(got[0], number)


def test_staff_see_ignored_mails_in_the_record(office, monkeypatch):
    number = in_approval(office, monkeypatch)
    office.reply("stranger", office.last("li", number), "同意")
    office.run_once()
    n = len(office.inbox("clerk"))
    new_mail(office, "clerk", f"查询 {number}", "请告知。")
    (status,) = answers_to(office, "clerk", n)
    assert office.addr["stranger"] in status.text


# -- the finished 审批单 and 办结回告 -------------------------------------------------------------------------

def test_the_result_mails_carry_the_completed_form(office, monkeypatch):
    number = file_request(office)
    accept(office, number, "受理\n拟办意见：拟同意，请财务科、审计科会签后报李副总或王总审批。\n"
                           "流程：财务科+审计科，李副总/王总\n执行：综合科\n抄送：行政科")
    at(monkeypatch, f"{DAY}T10:00")
    decide(office, "caiwu", number, "同意。经费可从年度办公经费列支。")
    at(monkeypatch, f"{DAY}T10:20")
    decide(office, "shenji", number, "原则同意，请按规定履行比价程序。")
    at(monkeypatch, f"{DAY}T14:05")
    decide(office, "li", number, "同意，请综合科抓紧办理。")
    req = request(office, number)
    assert req.state == "approved" and req.result == "原则同意"
    opinions = [("财务科", "经费可从年度办公经费列支"), ("审计科", "请按规定履行比价程序"),
                ("李副总", "请综合科抓紧办理")]
    for who in ("zonghe", "xingzheng", "unit1"):
        result = office.last(who, number)
        text = docx_text(form_of(result).data)
        for name, opinion in opinions:
            assert name in text and opinion in text, (who, name, opinion)
            assert name in text.split(opinion, 1)[1][:40], (who, name, "signed right below the opinion")
        for what in (number, "第一分公司", "关于购置办公设备的请示", "拟同意，请财务科、审计科会签", "综合科",
                     "2026年11月26日"):
            assert what in text, (who, what)
    assert "14:05" in docx_text(form_of(office.last("zonghe", number)).data)


def finished(office: Office) -> str:
    number = file_request(office)
    accept(office, number, "受理\n拟办意见：请审批。\n流程：李副总\n执行：综合科\n抄送：行政科")
    decide(office, "li", number, "同意")
    assert request(office, number).state == "approved"
    return number


def test_done_report_from_the_executing_unit_closes_the_request(office, monkeypatch):
    number = finished(office)
    result = office.last("zonghe", number)
    # 办结 from anyone else changes nothing
    for who, original in (("unit1", office.last("unit1", number)), ("li", office.last("li", number)),
                          ("xingzheng", office.last("xingzheng", number)), ("stranger", result)):
        office.reply(who, original, "办结：已经办完了。")
        office.run_once()
        req = request(office, number)
        assert req.state == "approved" and req.done_report == "" and req.closed_at is None, who
    n_unit, n_clerk = len(office.inbox("unit1")), len(office.inbox("clerk"))
    at(monkeypatch, "2026-11-30T15:00")
    office.reply("zonghe", result, "办结：设备已于11月30日采购到位并发放。")
    office.run_once()
    req = request(office, number)
    assert req.state == "done" and req.done_report == "设备已于11月30日采购到位并发放。"
    assert req.closed_at.astimezone(CST).strftime("%Y-%m-%d") == "2026-11-30"
    for who, n in (("unit1", n_unit), ("clerk", n_clerk)):
        told = [m for m in answers_to(office, who, n) if number in m.subject]
        assert told and "采购到位并发放" in told[-1].text, who
    # a second report changes nothing
    office.reply("zonghe", result, "办结：另一个说法。")
    office.run_once()
    assert request(office, number).done_report == "设备已于11月30日采购到位并发放。"


# -- the command line ---------------------------------------------------------------------------------------

def test_export_csv_is_the_register(office, monkeypatch, tmp_path):
    at(monkeypatch, "2026-11-24T09:00")
    early = file_request(office, subject="关于举办业务培训的请示")
    at(monkeypatch, "2026-11-25T09:00")
    rejected = file_request(office, who="unit2", subject="关于维修办公楼的请示")
    accept(office, rejected, "受理\n流程：王总")
    decide(office, "wang", rejected, "不同意。今年预算已用完。")
    at(monkeypatch, f"{DAY}T09:00")
    done = file_request(office)
    accept(office, done, "受理\n拟办意见：请审批。\n流程：财务科+审计科，李副总/王总\n执行：综合科\n抄送：行政科")
    decide(office, "caiwu", done, "同意。经费可列支。")
    decide(office, "shenji", done, "同意")
    at(monkeypatch, f"{DAY}T14:00")
    decide(office, "wang", done, "同意，抓紧办理。")
    at(monkeypatch, f"{DAY}T16:00")
    office.reply("zonghe", office.last("zonghe", done), "办结：已采购到位。")
    office.run_once()
    assert request(office, done).state == "done"

    path = tmp_path / "register.csv"
    out = office.run_cli("export", "-c", str(office.config_path), "--csv", str(path))
    assert out.returncode == 0, out.stderr
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [r["收文编号"] for r in rows] == [early, rejected, done]
    db = office.db()
    for row in rows:
        req = db.Request.get(db.Request.number == row["收文编号"])
        assert row["收文时间"] == req.received_at.astimezone(CST).strftime("%Y-%m-%d %H:%M")
        assert row["来文单位"] == req.unit_name and row["紧急程度"] == (req.urgency or "普通")
        assert row["标题"] == req.title
        assert row["状态"] == models.STATE_LABELS[req.state] and row["结果"] == req.result
    by = {r["收文编号"]: r for r in rows}
    assert by[early]["收文时间"] == "2026-11-24 09:00" and by[early]["第1环节审批人"] == ""
    assert by[early]["状态"] == "待办公室审核"
    assert by[rejected]["第1环节审批人"] == "王总" and by[rejected]["第1环节决定"] == "不同意"
    assert "今年预算已用完" in by[rejected]["第1环节意见"]
    assert by[rejected]["用时（工作时间）"] == "0分钟"   # received and decided within the same minute
    d = by[done]
    assert d["收文时间"] == "2026-11-26 09:00" and d["来文单位"] == "第一分公司"
    assert d["第1环节审批人"] == "财务科、审计科" and d["第1环节决定"] == "已同意"
    assert "财务科：同意。经费可列支。" in d["第1环节意见"] and "审计科：同意" in d["第1环节意见"]
    assert d["第1环节时间"] == "2026-11-26 09:00"
    assert d["第2环节审批人"] == "王总" and d["第2环节时间"] == "2026-11-26 14:00"
    assert "抓紧办理" in d["第2环节意见"]
    assert d["执行部门"] == "综合科" and d["抄送"] == "行政科"
    assert d["办结时间"] == "2026-11-26 16:00" and d["办结情况"] == "已采购到位。"
    # 09:00-12:00 and 13:30-16:00 are office time: 5 hours 30 minutes
    assert d["用时（工作时间）"] == "5小时30分钟" and d["用时（工作小时）"] == "5.5"

    # --since/--until take whole days, both ends included
    for args, expected in ((["--since", "2026-11-25"], [rejected, done]),
                           (["--until", "2026-11-25"], [early, rejected]),
                           (["--since", "2026-11-25", "--until", "2026-11-25"], [rejected]),
                           (["--since", "2026-11-27"], [])):
        out = office.run_cli("export", "-c", str(office.config_path), "--csv", str(path), *args)
        assert out.returncode == 0, out.stderr
        with open(path, encoding="utf-8-sig", newline="") as f:
            assert [r["收文编号"] for r in csv.DictReader(f)] == expected, args


def test_show_writes_every_mail_as_eml(office, monkeypatch, tmp_path):
    number = finished(office)
    office.reply("unit1", office.last("unit1", number), "查询")
    office.run_once()
    out = office.run_cli("show", "-c", str(office.config_path), number, "--eml", str(tmp_path / "eml"))
    assert out.returncode == 0, out.stderr
    assert "收发记录" in out.stdout and "答复查询" in out.stdout
    db = office.db()
    req = db.Request.get(db.Request.number == number)
    rows = list(db.Mail.select().where(db.Mail.request == req))
    files = sorted((tmp_path / "eml").glob("*.eml"))
    assert len(files) == len(rows) and {m.direction for m in rows} == {"in", "out"}
    ids = set()
    for path in files:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert msg["Message-ID"] and msg["From"] and msg["Subject"]
        ids.add(msg["Message-ID"].strip("<> "))
    assert ids == {m.message_id for m in rows}
    # the request mail comes back byte for byte
    raw = next(p for p in files if "收" in p.name).read_bytes()
    assert raw in office.servers.messages(office.addr["office"], "Processed")


def test_form_at_any_stage(office, monkeypatch, tmp_path):
    number = file_request(office)
    paths = []

    def form(stage):
        path = tmp_path / f"{stage}.docx"
        out = office.run_cli("form", "-c", str(office.config_path), number, str(path))
        assert out.returncode == 0, out.stderr
        paths.append(path)
        return docx_text(path.read_bytes())

    text = form("received")
    assert number in text and "关于购置办公设备的请示" in text
    accept(office, number, "受理\n拟办意见：拟同意，请财务科审核后报李副总审批。\n流程：财务科，李副总\n执行：综合科")
    decide(office, "caiwu", number, "同意。经费可列支。")
    text = form("approving")
    assert "拟同意，请财务科审核后报李副总审批" in text and "经费可列支" in text and "李副总" in text
    decide(office, "li", number, "同意，请抓紧。")
    text = form("approved")
    assert "请抓紧" in text
    bad = office.run_cli("form", "-c", str(office.config_path), "办请〔2026〕99号", str(tmp_path / "x.docx"))
    assert bad.returncode != 0 and not (tmp_path / "x.docx").exists()


def test_a_supplement_is_recorded_on_the_request(office, monkeypatch):
    """补充材料 shows in the status, so the unit sees its mail was passed on."""
    number = in_approval(office, monkeypatch)
    office.reply("unit1", office.last("unit1", "回执"), "补充报价单一份。",
                 attachments=[("报价单.docx", docx_bytes(["报价单"]))])
    office.run_once()
    n = len(office.inbox("unit1"))
    new_mail(office, "unit1", f"查询 {number}", "请告知。")
    (status,) = answers_to(office, "unit1", n)
    assert "补充" in status.text


def test_register_cells_never_start_a_formula():
    from daemon.records import _cell
    for text in ("=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(A1)", "\t=1"):
        assert _cell(text) == "'" + text
    for text in ("关于购置办公设备的请示", "", "5.5", "2026-11-26 09:00"):
        assert _cell(text) == text


def test_a_resubmitted_request_mail_is_in_the_record(office, monkeypatch, tmp_path):
    number = file_request(office)
    accept(office, number, "退回：请补充资金来源。")
    office.reply("unit1", office.last("unit1", number), "已补充资金来源，请审核。",
                 attachments=[("关于购置办公设备的请示（修改稿）.docx", docx_bytes(GOOD_BODY.splitlines()))])
    office.run_once()
    assert request(office, number).state == "reviewing"
    db = office.db()
    incoming = list(db.Mail.select().where(db.Mail.direction == "in"))
    assert all(m.request is not None and m.request.number == number for m in incoming), \
        [(m.action, m.request_id) for m in incoming]

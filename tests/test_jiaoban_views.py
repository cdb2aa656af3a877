"""What people see of a 交办 (SPEC §6.11, §6.4 查询): the list line, the 交办单 of `show`, the 交办台账 CSV and the
查询 answer by mail; in process, with matters made by World.dispatched() and the rounds' dates set directly."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from jiaoban_world import World, world  # noqa: F401 - the office in process

from daemon import flows, models, records
from daemon.jiaoban import CHECKING, CLOSED, READING, VERIFYING, core
from daemon.models import DeadlineChange, Mail, Opinion, Request, Round

REPO = Path(__file__).resolve().parents[1]
NOW = "2026-12-01T10:12:00+08:00"      # a Tuesday


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def round_of(req) -> Round:
    return core.round_of(req, core.task_of(req).round)


def update_round(req, **fields) -> Round:
    rnd = round_of(req)
    for k, v in fields.items():
        setattr(rnd, k, v)
    rnd.save()
    return rnd


def close(req, reported: str, read: str = "2026-12-04T17:50:00+08:00", **fields) -> None:
    update_round(req, reported_at=at(reported), checked_at=at(reported), read_at=at(read), **fields)
    core.cancel_steps(req)
    core.set_state(req, CLOSED)


def a_qingshi(world) -> Request:
    world.send("unit1@t.test", "关于购置办公设备的请示", "集团公司：\n    拟购置打印机两台。\n    妥否，请批示。\n\n第一分公司\n")
    return Request.select().where(Request.kind != "交办").order_by(Request.id.desc()).get()


# -- the list ------------------------------------------------------------------------------------------------

def test_a_list_line_says_who_assigned_it_who_does_it_and_the_time_left(world):
    world.dispatched()
    overdue = world.dispatched(content="核实第一分公司安全台账", deadline="2026-11-27T17:30:00+08:00", lead="anquan@t.test",
                               co_units=(), leader="wang@t.test")
    lines = records.list_lines(world.app)
    assert lines[0].split("\t") == ["督办〔2026〕1号", "办理中", "李副总", "综合科", "起草年度安全生产检查通报",
                                    "12月4日（周五）17:30前", "剩 3 个工作日"]
    assert lines[1].split("\t")[-1] == "逾期 2 个工作日" and overdue.number in lines[1]


@pytest.mark.parametrize("options, expected", [
    ({}, ["办请〔2026〕1号", "督办〔2026〕1号", "督办〔2026〕2号", "督办〔2026〕3号"]),
    ({"kind": "请示"}, ["办请〔2026〕1号"]),
    ({"kind": "交办"}, ["督办〔2026〕1号", "督办〔2026〕2号", "督办〔2026〕3号"]),
    ({"overdue": True}, ["督办〔2026〕2号"]),
    ({"leader": "王总"}, ["督办〔2026〕2号"]),
    ({"leader": "li"}, ["督办〔2026〕1号", "督办〔2026〕3号"]),
    ({"unit": "安全科"}, ["督办〔2026〕1号", "督办〔2026〕2号"]),          # a co-unit, a lead unit
    ({"unit": "caiwu@t.test"}, ["督办〔2026〕3号"]),
    ({"unit": "第一分公司"}, ["办请〔2026〕1号"]),
    ({"pending": True, "kind": "交办"}, ["督办〔2026〕1号", "督办〔2026〕2号"]),
])
def test_list_options(world, options, expected):
    a_qingshi(world)
    world.dispatched()
    world.dispatched(content="核实安全台账", deadline="2026-11-27T17:30:00+08:00", lead="anquan@t.test", co_units=(),
                     leader="wang@t.test")
    closed = world.dispatched(content="统计财务数据", lead="caiwu@t.test", co_units=())
    close(closed, "2026-12-01T09:00:00+08:00")
    assert [line.split("\t")[0] for line in records.list_lines(world.app, **options)] == expected


def test_the_list_reads_a_few_queries_whatever_the_number_of_matters(world):
    for n in range(12):
        world.dispatched(content=f"事项{n}")
    queries = []
    db = models.db.obj
    real = db.execute_sql

    def counting(sql, *args, **kw):
        queries.append(sql)
        return real(sql, *args, **kw)

    db.execute_sql = counting
    try:
        lines = records.list_lines(world.app, kind="交办")
    finally:
        db.execute_sql = real
    assert len(lines) == 12
    assert len(queries) <= 8, queries


# -- show -----------------------------------------------------------------------------------------------------

def test_show_is_the_jiaoban_form_with_every_round_and_change(world):
    req = world.dispatched()
    update_round(req, signed_at=at("2026-12-01T11:00:00+08:00"), last_progress_at=at("2026-12-02T09:00:00+08:00"),
                 reminders=1)
    core.record(req, "anquan@t.test", "安全科", "协办完毕", "问题清单见附件")
    core.record(req, "zonghe@t.test", "综合科", "进展", "初稿已完成，正在征求意见")
    DeadlineChange.create(request=req, round=1, old_at=at("2026-12-04T17:30:00+08:00"),
                          new_at=at("2026-12-08T17:30:00+08:00"), by="li@t.test", how="延期",
                          at=at("2026-12-03T10:00:00+08:00"))
    update_round(req, deadline_at=at("2026-12-08T17:30:00+08:00"))
    close(req, "2026-12-07T16:00:00+08:00", read="2026-12-08T09:00:00+08:00", instruction="阅，请印发",
          check_opinion="报告如实，同意呈阅")
    text = records.show_text(world.app, req)
    for part in ("督办〔2026〕1号  起草年度安全生产检查通报", "交办领导：李副总 <li@t.test>", "状态：已办结",
                 "要求：突出问题整改，不超过两页。", "承办：综合科    协办：安全科", "第1轮：",
                 "时限：2026-12-08 17:30（延期前：2026-12-04 17:30）", "签收：2026-12-01 11:00", "催办：1次",
                 "办结报告：2026-12-07 16:00", "核报：2026-12-07 16:00｜报告如实，同意呈阅",
                 "阅示：2026-12-08 09:00｜阅，请印发", "结果：延期后办结",
                 "第1轮 2026-12-04 17:30 → 2026-12-08 17:30（延期，李副总，2026-12-03 10:00）",
                 "安全科 协办完毕：问题清单见附件", "综合科 进展：初稿已完成", "收发记录："):
        assert part in text, (part, text)


def test_show_of_a_qingshi_is_unchanged(world):
    req = a_qingshi(world)
    text = records.show_text(world.app, req)
    assert text.startswith(f"{req.number}  关于购置办公设备的请示\n  单位：第一分公司 <unit1@t.test>")
    assert "交办" not in text


# -- export -----------------------------------------------------------------------------------------------------

COLUMNS = ["编号", "交办领导", "交办日期", "来源", "内容", "要求", "承办", "协办", "紧急", "原定时限", "现时限", "时限变更",
           "状态", "轮次", "签收日期", "最近进展日期", "催办次数", "办结报告日期", "核报日期", "阅示日期", "结果", "用时（工作日）"]


def read_csv(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == COLUMNS
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def test_export_writes_the_jiaoban_ledger_with_exactly_its_columns(world, tmp_path):
    a_qingshi(world)
    req = world.dispatched(urgency="加急")
    update_round(req, signed_at=at("2026-12-01T11:00:00+08:00"), last_progress_at=at("2026-12-02T09:00:00+08:00"),
                 reminders=2)
    DeadlineChange.create(request=req, round=1, old_at=at("2026-12-04T17:30:00+08:00"),
                          new_at=at("2026-12-03T17:30:00+08:00"), by="clerk@t.test", how="更正",
                          at=at("2026-12-01T15:00:00+08:00"))
    update_round(req, base_deadline_at=at("2026-12-03T17:30:00+08:00"), deadline_at=at("2026-12-03T17:30:00+08:00"))
    task = core.task_of(req)
    task.deadline_at = at("2026-12-03T17:30:00+08:00")
    task.save()
    close(req, "2026-12-03T16:00:00+08:00", read="2026-12-03T17:00:00+08:00")
    world.dispatched(content="=cmd|' /C calc'!A0", lead="caiwu@t.test", co_units=())
    path = tmp_path / "jb.csv"
    assert records.export_csv(world.app, path, kind="交办") == 2
    rows = read_csv(path)
    assert rows[0] == {
        "编号": "督办〔2026〕1号", "交办领导": "李副总", "交办日期": "2026-12-01", "来源": "邮件",
        "内容": "起草年度安全生产检查通报", "要求": "突出问题整改，不超过两页。", "承办": "综合科", "协办": "安全科",
        "紧急": "加急", "原定时限": "2026-12-04 17:30", "现时限": "2026-12-03 17:30",
        "时限变更": "第1轮 2026-12-04 17:30 → 2026-12-03 17:30（更正，办公室，2026-12-01 15:00）", "状态": "已办结",
        "轮次": "1", "签收日期": "2026-12-01", "最近进展日期": "2026-12-02", "催办次数": "2",
        "办结报告日期": "2026-12-03", "核报日期": "2026-12-03", "阅示日期": "2026-12-03", "结果": "按期",
        "用时（工作日）": "2.7"}
    assert rows[1]["内容"].startswith("'=") and rows[1]["状态"] == "办理中" and rows[1]["结果"] == ""


def test_the_register_of_qingshi_leaves_the_jiaoban_out(world, tmp_path):
    a_qingshi(world)
    world.dispatched()
    path = tmp_path / "reg.csv"
    assert records.export_csv(world.app, path) == 1
    assert "督办" not in path.read_text(encoding="utf-8-sig")


# -- 查询 by mail -----------------------------------------------------------------------------------------------

def test_the_leader_queries_a_matter_by_number(world):
    req = world.dispatched()
    core.record(req, "zonghe@t.test", "综合科", "进展", "初稿已完成")
    world.send("li@t.test", "查询 督办〔2026〕1号", "")
    answer = world.last_to("li@t.test", "查询结果")
    assert answer.subject.startswith("【督办〔2026〕1号】查询结果：办理中")
    for part in ("当前状态：办理中", "当前办理：综合科、安全科", "12月4日（周五）17:30前，剩 3 个工作日", "承　　办：综合科",
                 "协　　办：安全科", "最近进展：", "初稿已完成", "第1轮：", "办理记录：", "收发记录："):
        assert part in answer.text, (part, answer.text)
    assert Mail.get((Mail.direction == "in") & (Mail.kind == "query")).request_id == req.id


@pytest.mark.parametrize("who", ["li@t.test", "zhao@t.test", "clerk@t.test", "director@t.test", "zonghe@t.test",
                                 "anquan@t.test"])
def test_those_around_the_matter_may_query(world, who):
    world.dispatched()
    world.send(who, "查询 督办〔2026〕1号", "")
    assert world.last_to(who, "查询结果").subject.startswith("【督办〔2026〕1号】")


@pytest.mark.parametrize("who", ["wang@t.test", "caiwu@t.test", "unit1@t.test"])
def test_others_are_told_nothing(world, who):
    world.dispatched()
    world.send(who, "查询 督办〔2026〕1号", "")
    answer = world.last_to(who, "查询结果")
    assert answer.subject == "查询结果：未查到督办〔2026〕1号"
    assert "且在查询范围内的交办事项" in answer.text and "综合科" not in answer.text
    world.send(who, "查询 督办〔2026〕9号", "")            # the same answer as for a number that does not exist
    again = world.last_to(who, "查询结果").text
    assert again.replace("9号", "1号").split("\n", 1)[1] == answer.text.split("\n", 1)[1]


def test_a_unit_sees_its_own_mail_in_the_record_not_the_office_s(world):
    req = world.dispatched()
    core.send(world.app, "jb_status", ["clerk@t.test"], req, rounds=[], last_progress=None, changes=[],
              opinions=[], mails=[], holder="", since=None, action="给办公室的内部邮件")
    world.send("zonghe@t.test", "查询 督办〔2026〕1号", "")
    assert "给办公室的内部邮件" not in world.last_to("zonghe@t.test", "查询结果").text
    world.send("li@t.test", "查询 督办〔2026〕1号", "")
    assert "给办公室的内部邮件" in world.last_to("li@t.test", "查询结果").text


def test_a_query_replying_to_a_mail_of_the_matter_goes_through_its_table(world):
    world.dispatched()
    world.send("li@t.test", "查询 督办〔2026〕1号", "")
    first = world.last_to("li@t.test", "查询结果")
    world.reply("li@t.test", first, "查询")
    assert len([m for m in world.mails_to("li@t.test") if "查询结果" in m.subject]) == 2


def test_a_leader_s_query_without_number_lists_their_open_matters(world):
    world.dispatched()
    world.dispatched(content="核实安全台账", deadline="2026-11-27T17:30:00+08:00", lead="anquan@t.test", co_units=())
    world.dispatched(content="王总的事", leader="wang@t.test")
    close(world.dispatched(content="已办结的事"), "2026-12-01T09:00:00+08:00")
    world.send("zhao@t.test", "查询", "")              # the delegate asks for the leader
    answer = world.last_to("zhao@t.test", "查询结果")
    assert answer.subject == "查询结果：李副总交办在办事项2件"
    text = answer.text
    assert text.index("督办〔2026〕2号") < text.index("督办〔2026〕1号")     # overdue first
    assert "逾期 2 个工作日" in text and "王总的事" not in text and "已办结的事" not in text


def test_a_query_without_number_from_a_unit_is_as_before(world):
    a_qingshi(world)
    world.dispatched()
    world.send("unit1@t.test", "查询", "")
    assert world.last_to("unit1@t.test", "查询结果").subject == "查询结果：第一分公司在办请示1件"
    world.send("clerk@t.test", "查询", "")              # the office's list of 请示 leaves the 交办 out
    answer = world.last_to("clerk@t.test", "查询结果")
    assert answer.subject == "查询结果：各单位在办请示1件" and "督办" not in answer.text


# -- the command line ---------------------------------------------------------------------------------------------

def run(world, *args, config: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "OFFICEFLOW_NOW": NOW, "OFFICEFLOW_TEST_PASSWORD": "x"}
    tail = ["-c", str(world.cfg.path)] if config else []
    return subprocess.run([sys.executable, "-m", "daemon", *args, *tail], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_the_command_line(world, tmp_path):
    a_qingshi(world)
    world.dispatched()
    world.dispatched(content="核实安全台账", deadline="2026-11-27T17:30:00+08:00", lead="anquan@t.test", co_units=(),
                     leader="wang@t.test")
    out = run(world, "list", "--kind", "交办", "--overdue")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["督办〔2026〕2号\t办理中\t王总\t安全科\t核实安全台账\t11月27日（周五）17:30前\t逾期 2 个工作日"]
    out = run(world, "list", "--leader", "李副总")
    assert [line.split("\t")[0] for line in out.stdout.splitlines()] == ["督办〔2026〕1号"]
    out = run(world, "show", "督办〔2026〕1号")
    assert out.returncode == 0 and "交办领导：李副总" in out.stdout
    out = run(world, "export", "--csv", str(tmp_path / "jb.csv"), "--kind", "交办")
    assert out.returncode == 0 and out.stdout.strip() == f"2 交办 written to {tmp_path / 'jb.csv'}"
    assert [r["编号"] for r in read_csv(tmp_path / "jb.csv")] == ["督办〔2026〕1号", "督办〔2026〕2号"]
    out = run(world, "rules", config=False)
    assert "【交办】" in out.stdout and "派发" in out.stdout


def test_nothing_changes_for_the_qingshi_without_leaders(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", NOW)
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    w = World(tmp_path, leaders=())
    try:
        req = a_qingshi(w)
        lines = records.list_lines(w.app)
        holder, since = records.holder_and_since(w.app, req)
        assert lines == ["\t".join((req.number, flows.label(req), "第一分公司", "关于购置办公设备的请示", holder or "-",
                                    since.astimezone(w.app.tz).strftime("%Y-%m-%d %H:%M") if since else "-"))]
        assert records.list_lines(w.app, kind="all") == records.list_lines(w.app, kind="请示") == lines
        w.send("unit1@t.test", "查询", "")
        assert w.last_to("unit1@t.test", "查询结果").subject == "查询结果：第一分公司在办请示1件"
        w.send("li@t.test", "查询", "")
        assert "未写明" in w.last_to("li@t.test", "查询结果").subject
        path = tmp_path / "reg.csv"
        assert records.export_csv(w.app, path) == 1
        assert path.read_text(encoding="utf-8-sig").splitlines()[0].startswith(",".join(records.REGISTER_HEAD))
        assert records.show_text(w.app, req).startswith(f"{req.number}  关于购置办公设备的请示\n  单位：第一分公司")
    finally:
        models.close()


def test_checking_and_reading_are_no_time_left(world):
    req = world.dispatched()
    core.set_state(req, CHECKING)
    assert records.list_lines(world.app)[0].split("\t")[1:] == ["待核报", "李副总", "综合科", "起草年度安全生产检查通报",
                                                               "12月4日（周五）17:30前", "-"]
    core.set_state(req, READING)
    assert records.list_lines(world.app)[0].split("\t")[1] == "待阅示"
    core.set_state(req, VERIFYING)
    assert records.list_lines(world.app)[0].split("\t")[1] == "待核定"
    assert Opinion.select().count() == 0                  # a view records nothing


# -- the sandbox: a leader of the example office mails a sample 交办 ------------------------------------------

def example_config():
    from daemon.config import load_config
    from daemon.sandbox import DEFAULT_CONFIG
    return load_config(DEFAULT_CONFIG, need_secrets=False)


def test_the_sample_jiaoban_is_a_leader_s_mail_the_office_can_read():
    from email import message_from_bytes
    from email.policy import default

    from daemon import deadline, sandbox
    from daemon.workcal import WorkCalendar
    cfg = example_config()
    msg = message_from_bytes(sandbox.sample_jiaoban(cfg).as_bytes(), policy=default)
    leader = cfg.leaders[0]
    assert msg["From"].addresses[0].addr_spec == leader.email and msg["Subject"].startswith("交办：")
    text = msg.get_body(("plain",)).get_content()
    assert "请财务科牵头，审计科配合" in text and text.rstrip().endswith(leader.name)
    found = deadline.read(text, datetime.fromisoformat(NOW), WorkCalendar())
    assert found.ok and found.at.date().isoformat() == "2026-12-08"
    assert "交办领导" in sandbox.mailboxes(cfg)[leader.email] or "may 交办" in sandbox.mailboxes(cfg)[leader.email]


def test_send_sample_jiaoban_reaches_the_office_mailbox(capsys):
    from imap_tools import MailBoxUnencrypted

    from daemon import sandbox
    cfg = example_config()
    with sandbox.MailSandbox(sandbox.mailboxes(cfg)) as sb:
        assert sandbox.main(["--send-sample", "交办", "--smtp-port", str(sb.smtp_port)]) == 0
        with MailBoxUnencrypted(sb.host, sb.imap_port, timeout=10).login(cfg.office.address, sandbox.PASSWORD) as mb:
            [got] = list(mb.fetch(mark_seen=False))
    assert got.subject == "交办：办公经费使用情况自查" and got.from_ == cfg.leaders[0].email
    assert "已发送" in capsys.readouterr().out


def test_the_banner_tells_how_to_send_a_sample_jiaoban():
    from daemon import sandbox
    cfg = example_config()
    sb = sandbox.MailSandbox(sandbox.mailboxes(cfg))
    text = sandbox._banner(cfg, sandbox.mailboxes(cfg), sb, Path("/tmp/sb"), sandbox.DEFAULT_CONFIG, True)
    assert "officeflow sandbox --send-sample 交办 --smtp-port 0" in text and "请核定" in text


def test_a_unit_s_text_that_begins_with_the_word_is_no_query(world):
    world.dispatched()
    world.send("li@t.test", "查询 督办〔2026〕1号", "李副总\n")          # the subject alone, a signature below
    answer = world.last_to("li@t.test", "查询结果")
    assert answer.subject.startswith("【督办〔2026〕1号】查询结果")
    world.reply("zonghe@t.test", answer, "查询了去年的通报，正在起草")
    assert not [m for m in world.mails_to("zonghe@t.test") if "查询结果" in m.subject]


def test_show_and_export_list_every_round(world, tmp_path):
    req = world.dispatched()
    close(req, "2026-12-03T16:00:00+08:00", read="2026-12-04T09:00:00+08:00", instruction="继续办理：补充整改清单")
    task = core.task_of(req)
    task.round, task.requirements = 2, "补充整改清单"
    task.deadline_at = at("2026-12-09T17:30:00+08:00")
    task.save()
    core.start_round(world.app, req, task, by="li@t.test", how="新一轮")
    text = records.show_text(world.app, req)
    assert "第1轮：" in text and "第2轮：" in text and "    要求：补充整改清单" in text and "轮次：第2轮" in text
    assert "第2轮 2026-12-04 17:30 → 2026-12-09 17:30（新一轮，李副总" in text
    records.export_csv(world.app, tmp_path / "jb.csv", kind="交办")
    [row] = read_csv(tmp_path / "jb.csv")
    assert (row["轮次"], row["状态"], row["原定时限"], row["现时限"], row["办结报告日期"]) == (
        "2", "办理中", "2026-12-04 17:30", "2026-12-09 17:30", "")

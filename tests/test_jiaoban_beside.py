"""The 交办 beside the 请示 (SPEC §6.10, issue 13's last bullets): an office without leaders behaves exactly as
before, and one with leaders but no 交办 sends the same 请示 mail; the weekly 请示 summary leaves the 交办 out; a
unit's 查询 lists the 交办 it leads or helps with.

The golden files under tests/fixtures/qingshi_golden/ were written by this file's `traffic()` run on the last commit
before the 交办 existed (ffc86d6, "The rules listing test counts the rows of every kind"), with that commit's
daemon first on the path:

    git archive <commit> | tar -x -C <dir> && cd <dir> && PYTHONPATH=. python <this file> --write <golden dir>

`traffic()` therefore uses only what that commit had: intake.handle, the outbox table, chase's periodic jobs and
the command line. Codes (流转码) and the random part of our Message-IDs are numbered in order of appearance;
everything else is compared byte for byte.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "qingshi_golden"

CONFIG = """
[office]
name = "集团公司办公室"
address = "office@t.test"
staff = ["clerk@t.test"]
head = "director@t.test"
[imap]
host = "127.0.0.1"
username = "office@t.test"
password_env = "OFFICEFLOW_TEST_PASSWORD"
[smtp]
host = "127.0.0.1"
[database]
url = "sqlite:///{tmp}/db.sqlite"
[archive]
path = "{tmp}/archive"
[[people]]
id = "li"
name = "李副总"
email = "li@t.test"
delegate = "zhao"
superior = "wang"
{leader}
[[people]]
id = "zhao"
name = "赵秘书"
email = "zhao@t.test"
[[people]]
id = "wang"
name = "王总"
email = "wang@t.test"
{leader}
[[people]]
id = "zonghe"
name = "综合科"
email = "zonghe@t.test"
[[people]]
id = "anquan"
name = "安全科"
email = "anquan@t.test"
[[units]]
id = "unit1"
name = "第一分公司"
emails = ["unit1@t.test"]
[[units]]
id = "unit2"
name = "第二分公司"
emails = ["unit2@t.test"]
[[routes]]
match = ["安全"]
steps = "王总"
execute = "安全科"
[[routes]]
steps = "李副总"
execute = "综合科"
"""

BODY_A = textwrap.dedent("""\
    关于购置办公设备的请示

    集团公司办公室：
        因业务需要，拟购置计算机10台，预算6万元。
        妥否，请批示。

    第一分公司
    2026年11月27日
    （联系人：张三，联系电话：010-12345678）
    """)

BODY_B = textwrap.dedent("""\
    关于开展冬季安全培训的请示

    集团公司办公室：
        为做好冬季安全生产，拟于12月中旬组织全员安全培训，所需经费2万元。
        妥否，请批示。

    第二分公司
    2026年11月30日
    """)


class _Office:
    """The office in process: mail in through intake.handle, out of the outbox table (both as of that commit)."""

    def __init__(self, tmp: Path, leaders: bool):
        from daemon import models
        from daemon.app import App
        from daemon.config import load_config
        self.tmp = tmp
        self.config = tmp / "officeflow.toml"
        self.config.write_text(CONFIG.format(tmp=tmp, leader="leader = true" if leaders else ""), encoding="utf-8")
        self.cfg = load_config(self.config)
        models.connect(self.cfg.database.url)
        self.app = App(self.cfg)
        self.sent = 0

    def at(self, when: str) -> None:
        os.environ["OFFICEFLOW_NOW"] = when

    def send(self, sender: str, subject: str, body: str, reply_to=None) -> str:
        from email.message import EmailMessage

        from daemon import intake
        self.sent += 1
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, "office@t.test", subject
        msg["Message-ID"] = f"<in{self.sent}@t.test>"
        msg["Date"] = "Mon, 30 Nov 2026 09:00:00 +0800"
        if reply_to is not None:
            msg["In-Reply-To"] = f"<{reply_to.message_id}>"
            msg["References"] = f"<{reply_to.message_id}>"
            body = body + f"\n\n------------------ 原始邮件 ------------------\n主题: {reply_to.subject}\n\n{reply_to.text}"
        msg.set_content(body)
        return intake.handle(self.app, msg.as_bytes())

    def reply(self, sender: str, original, body: str) -> str:
        return self.send(sender, "回复：" + original.subject, body, reply_to=original)

    def last_to(self, address: str, part: str):
        from daemon import mime
        from daemon.models import Outbox
        whole = _whole([r for r in Outbox.select().order_by(Outbox.id) if address in r.rcpts])
        found = [m for m in (mime.parse(data) for data in whole.values()) if part in m.subject]
        assert found, (address, part)
        return found[-1]

    def cli(self, *args: str) -> str:
        import daemon
        root = str(Path(daemon.__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": root}
        out = subprocess.run([sys.executable, "-m", "daemon", *args[:1], "-c", str(self.config), *args[1:]],
                             capture_output=True, text=True, env=env, cwd=root, timeout=120)
        return f"exit {out.returncode}\n{out.stdout}"


def traffic(tmp: Path, leaders: bool = False) -> dict[str, str]:
    """The 请示 of a week: two requests registered and reviewed, reminders, one approved and its 办结回告, a
    查询 by a unit and by number, the daily digest, the weekly summary, and list, show and export. Returns
    what came out, by name, normalised (see the module's docstring)."""
    from daemon import chase, models
    from daemon.app import App
    o = _Office(tmp, leaders)
    try:
        o.at("2026-11-30T09:05:00+08:00")                   # a Monday
        o.send("unit1@t.test", "关于购置办公设备的请示", BODY_A)
        review = o.last_to("clerk@t.test", "关于购置办公设备的请示")
        o.at("2026-11-30T09:40:00+08:00")
        o.reply("clerk@t.test", review, "受理\n流程：李副总\n执行：综合科")
        o.at("2026-11-30T10:15:00+08:00")
        o.send("unit2@t.test", "关于开展冬季安全培训的请示", BODY_B)
        review_b = o.last_to("clerk@t.test", "关于开展冬季安全培训的请示")
        o.at("2026-11-30T11:00:00+08:00")
        o.reply("clerk@t.test", review_b, "受理")
        for when in ("2026-12-01T10:00:00+08:00", "2026-12-02T10:00:00+08:00", "2026-12-03T10:00:00+08:00"):
            o.at(when)
            chase.run_due(App(o.cfg))
        o.at("2026-12-02T09:00:00+08:00")
        chase.run_digest(App(o.cfg), force=True)
        o.at("2026-12-02T14:20:00+08:00")
        approval = o.last_to("li@t.test", "关于购置办公设备的请示")
        o.reply("li@t.test", approval, "同意。请综合科按程序采购。")
        o.at("2026-12-03T15:00:00+08:00")
        result = o.last_to("zonghe@t.test", "关于购置办公设备的请示")
        o.reply("zonghe@t.test", result, "办结：已于12月3日购置到位并分发使用。")
        o.at("2026-12-03T16:00:00+08:00")
        o.send("unit1@t.test", "查询", "")
        o.send("unit2@t.test", "查询", "")
        o.send("unit2@t.test", "查询 办请〔2026〕2号", "")
        o.send("zonghe@t.test", "查询 办请〔2026〕1号", "")
        o.at("2026-12-07T09:30:00+08:00")                   # the next Monday
        chase.run_weekly(App(o.cfg), force=True)
        out = _mails()
        out["cli-list"] = o.cli("list")
        out["cli-list-pending"] = o.cli("list", "--pending")
        out["cli-show-1"] = o.cli("show", "办请〔2026〕1号")
        out["cli-show-2"] = o.cli("show", "办请〔2026〕2号")
        csv_path = tmp / "register.csv"
        out["cli-export"] = o.cli("export", "--csv", str(csv_path)) + csv_path.read_text(encoding="utf-8-sig")
        codes = _codes()
    finally:
        models.close()
        os.environ.pop("OFFICEFLOW_NOW", None)
    return _normalise(out, tmp, codes)


def _codes() -> list[str]:
    """Every code the database holds (a request's, a step's, a signer's, a mail's)."""
    from daemon import models
    db = models.db
    found = set()
    for table in db.get_tables():
        if any(c.name == "code" for c in db.get_columns(table)):
            found.update(row[0] for row in db.execute_sql(f'SELECT code FROM "{table}"') if row[0])
    return sorted(found, key=lambda c: (-len(c), c))


def _whole(rows) -> dict[int, bytes]:
    """The whole message of each outbox row, by row id, in the rows' order."""
    try:
        from daemon import mailstore        # stored once since schema 5: rebuilt whole
    except ImportError:                     # the commit the golden files were made with kept whole messages
        return {r.id: bytes(r.data) for r in rows}
    whole = mailstore.messages(rows)
    return {r.id: whole[r.id] for r in rows}


def _mails() -> dict[str, str]:
    """Every mail in the outbox, in order: recipients, subject, text, HTML and the names of its attachments."""
    from daemon.models import Outbox
    rows = list(Outbox.select().order_by(Outbox.id))
    whole = _whole(rows)
    out = {}
    for n, row in enumerate(rows, 1):
        msg = email.message_from_bytes(whole[row.id], policy=email.policy.default)
        plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
        files = [p.get_filename() for p in msg.iter_attachments() if p.get_filename()]
        out[f"mail-{n:02d}"] = "\n".join((
            f"To: {msg['To']}", f"Cc: {msg['Cc'] or ''}", f"Subject: {msg['Subject']}",
            f"In-Reply-To: {msg['In-Reply-To'] or ''}", f"Attachments: {' '.join(files)}",
            "--- text ---", plain.get_content() if plain else "", "--- html ---", html.get_content() if html else ""))
    return out


def _normalise(out: dict[str, str], tmp: Path, codes: list[str]) -> dict[str, str]:
    names: dict[tuple[str, str], str] = {}

    def number(kind: str, value: str) -> str:
        key = (kind, value)
        if key not in names:
            names[key] = f"{kind}{sum(1 for k in names if k[0] == kind) + 1}"
        return names[key]

    text = "\x00".join(f"{k}\x01{v}" for k, v in out.items())
    text = text.replace(str(tmp), "{tmp}")
    text = re.sub(r"(of\.\d{14}\.)([0-9a-f]{12})(@)", lambda m: m[1] + number("ID", m[2]) + m[3], text)
    if codes:
        text = re.sub("|".join(map(re.escape, codes)), lambda m: number("CODE", m[0]), text)
    return dict(part.split("\x01", 1) for part in text.split("\x00"))


def write(folder: Path) -> None:
    import tempfile
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in traffic(Path(tmp)).items():
            (folder / f"{name}.txt").write_text(text, encoding="utf-8")


def golden() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(GOLDEN.glob("*.txt"))}


def _digest(mails: dict[str, str]) -> str:
    [name] = [k for k, v in mails.items() if "\nSubject: 待办汇总" in v]
    return name


@pytest.mark.slow
def test_an_office_without_leaders_sends_and_prints_exactly_what_it_did_before(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    expected = golden()
    assert len(expected) > 20 and "cli-export" in expected
    now = traffic(tmp_path)
    assert sorted(now) == sorted(expected)
    for name in expected:
        assert now[name] == expected[name], name


@pytest.mark.slow
def test_an_office_with_leaders_but_no_jiaoban_sends_the_same_qingshi_mail(tmp_path, monkeypatch):
    """The same 请示 traffic with 李副总 and 王总 as leaders (both also approve 请示): every mail and every line of
    the command line is the same, but for the daily digest, which adds its 交办 section (SPEC §6.6) at the end."""
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    expected = golden()
    now = traffic(tmp_path, leaders=True)
    assert sorted(now) == sorted(expected)
    digest = _digest(expected)
    for name in expected:
        if name != digest:
            assert now[name] == expected[name], name
    before, after = expected[digest], now[digest]
    assert before != after
    text_before, html_before = before.split("--- html ---")
    text_after, html_after = after.split("--- html ---")
    # the 请示 sections are word for word those of before; the 交办 section comes after them
    head = text_before.split("\n\n　　对某件催办")[0]
    assert text_after.startswith(head)
    assert text_after[len(head):].lstrip("\n").startswith("四、交办事项\n无待办事项。")
    assert text_after.endswith(text_before[len(head):])


if __name__ == "__main__":
    if sys.argv[1:2] != ["--write"] or len(sys.argv) != 3:
        sys.exit("usage: python tests/test_jiaoban_beside.py --write DIR")
    sys.path.insert(0, os.getcwd())
    write(Path(sys.argv[2]))


# -- beside the 请示, in an office with leaders ------------------------------------------------------------------

EXAMPLE = "请综合科牵头，安全科配合，本周五前拿出通报初稿，突出问题整改，不超过两页。"


@pytest.fixture
def world(tmp_path, monkeypatch):
    from jiaoban_world import World

    from daemon import models
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-01T10:12:00+08:00")      # a Tuesday
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    w = World(tmp_path)
    yield w
    models.close()


def _qingshi(world, sender="unit1@t.test"):
    world.send(sender, "关于购置办公设备的请示", BODY_A)
    review = world.last_to("clerk@t.test", "请审核拟办")
    world.reply("clerk@t.test", review, "受理\n流程：王总")


def test_the_weekly_qingshi_summary_leaves_the_jiaoban_out(world, monkeypatch):
    from datetime import date

    from daemon import chase
    from daemon.jiaoban import CHECK, DOING, VERIFY
    from daemon.models import Opinion, Step
    _qingshi(world)
    world.send("li@t.test", "交办：年度安全生产检查通报", EXAMPLE)
    jb = world.request()
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "请核定"), "派发")
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-03T15:00:00+08:00")
    world.reply("zonghe@t.test", world.last_to("zonghe@t.test", "交办通知"), "办结：通报初稿已完成，见附件。")
    world.reply("clerk@t.test", world.last_to("clerk@t.test", "核报"), "退回：请补充问题整改的具体措施后重报")
    assert world.request(jb.number).state == DOING
    # the 交办 did make steps and a 退回 in that week: they are the 台账's, not the 请示 summary's
    assert Step.select().where((Step.request == jb) & Step.kind.in_((VERIFY, CHECK))
                               & Step.decided_at.is_null(False)).count() == 2
    assert Opinion.select().where((Opinion.request == jb) & (Opinion.decision == "退回")).count() == 1
    week = chase.weekly_context(world.app, date(2026, 12, 7))
    assert week["stats"] == {"received": 1, "done": 0, "rejected": 0, "withdrawn": 0, "approved": 0, "returned": 0}
    assert [r["name"] for r in week["per_step"]] == ["办公室审核"]
    assert week["per_approver"] == []


def _close(req):
    from daemon.jiaoban import CLOSED, core
    core.cancel_steps(req)
    core.set_state(req, CLOSED)


def test_a_units_query_lists_the_jiaoban_it_leads_or_helps_with(world):
    led = world.dispatched("起草年度安全生产检查通报", lead="zonghe@t.test", co_units=("anquan@t.test",))
    helped = world.dispatched("修订安全生产责任制", deadline="2026-11-30T17:30:00+08:00", lead="anquan@t.test",
                              co_units=("zonghe@t.test",), leader="wang@t.test")
    _close(world.dispatched("整理年度会议纪要", lead="zonghe@t.test", co_units=()))
    world.dispatched("核对差旅费报销", lead="caiwu@t.test", co_units=())
    world.send("li@t.test", "交办：年度安全生产检查通报", EXAMPLE)          # proposed to 综合科, not dispatched
    waiting = world.request()
    assert waiting.state == "jb_verifying" and world.task(waiting.number).lead == "zonghe@t.test"
    world.send("zonghe@t.test", "查询", "")
    answer = world.last_to("zonghe@t.test", "查询结果")
    assert answer.subject == "查询结果：综合科承办协办交办事项2件"
    text = answer.text
    assert "截至2026年12月1日 10:12，综合科承办或协办、尚未办结的交办事项共2件" in text
    assert "没有在办的请示" not in text and "在办的请示" not in text
    # overdue first: the one 综合科 helps with was due yesterday
    assert text.index(helped.number) < text.index(led.number)
    assert f"{helped.number}　修订安全生产责任制（协办）" in text and "承办：安全科" in text
    assert f"{led.number}　起草年度安全生产检查通报（承办）" in text
    for absent in ("整理年度会议纪要", "核对差旅费报销", waiting.number):
        assert absent not in text
    assert f"发送主题为“查询 编号”的邮件（如“查询 {helped.number}”）" in text
    assert "修订安全生产责任制" in answer.html and "协办" in answer.html


def test_a_unit_with_qingshi_and_jiaoban_is_told_both(world):
    from daemon import records
    world.send("unit1@t.test", "查询", "")
    before = world.last_to("unit1@t.test", "查询结果")
    assert before.subject == "查询结果：第一分公司在办请示0件"          # no 交办 for it: the answer of before
    assert "交办" not in before.text and "交办" not in before.html
    _qingshi(world)
    req = world.dispatched("统计第一分公司年度安全投入", lead="anquan@t.test", co_units=("unit1@t.test",))
    world.send("unit1@t.test", "查询", "")
    answer = world.last_to("unit1@t.test", "查询结果")
    assert answer.subject == "查询结果：第一分公司在办请示1件、交办事项1件"
    assert "第一分公司在办的请示共1件" in answer.text and "关于购置办公设备的请示" in answer.text
    assert f"{req.number}　统计第一分公司年度安全投入（协办）" in answer.text
    assert [r["part"] for r in records.unit_matters(world.app, "unit1@t.test")] == ["协办"]
    # office staff's 查询 stays the list of every unit's 请示
    world.send("clerk@t.test", "查询", "")
    assert world.last_to("clerk@t.test", "查询结果").subject == "查询结果：各单位在办请示1件"


def test_the_digest_counts_each_kind_in_its_own_section(world):
    from daemon import chase
    _qingshi(world)
    world.send("li@t.test", "交办：年度安全生产检查通报", EXAMPLE)            # waits for 核定
    waiting = world.request()
    late = world.dispatched("修订安全生产责任制", deadline="2026-11-30T17:30:00+08:00", lead="anquan@t.test",
                            co_units=())
    ctx = chase.digest_context(world.app)
    assert [i["number"] for i in ctx["items"]] == ["办请〔2026〕1号"] and ctx["items_total"] == 1
    jb = ctx["jiaoban"]
    assert [r["number"] for r in jb["verifying"]] == [waiting.number]
    assert [r["number"] for r in jb["overdue"]] == [late.number]
    assert chase.run_digest(world.app, force=True)
    digest = world.last_to("director@t.test", "待办汇总")
    assert digest.subject == "待办汇总（2026年12月1日）：在办1件，交办逾期1件"
    qingshi, jiaoban = digest.text.split("四、交办事项")
    assert "办请〔2026〕1号" in qingshi and "督办" not in qingshi
    assert "（1）待核定1件" in jiaoban and late.number in jiaoban and "办请" not in jiaoban.split("系统提示")[0]


def test_list_without_a_kind_shows_both_each_in_its_own_words(world):
    from daemon import records
    _qingshi(world)
    req = world.dispatched("起草年度安全生产检查通报", lead="zonghe@t.test", co_units=("anquan@t.test",))
    lines = records.list_lines(world.app)
    assert lines == records.list_lines(world.app, kind="请示") + records.list_lines(world.app, kind="交办")
    qingshi, jiaoban = lines
    assert qingshi == "办请〔2026〕1号\t审批中\t第一分公司\t关于购置办公设备的请示\t王总\t2026-12-01 10:12"
    assert jiaoban == (f"{req.number}\t办理中\t李副总\t综合科\t起草年度安全生产检查通报\t"
                       "12月4日（周五）17:30前\t剩 3 个工作日")


def test_the_register_stays_the_qingshi_and_the_jiaoban_ledger_is_asked_for_by_kind(world, tmp_path):
    import csv

    from daemon import records
    _qingshi(world)
    req = world.dispatched("起草年度安全生产检查通报", lead="zonghe@t.test", co_units=("anquan@t.test",))
    assert records.export_csv(world.app, tmp_path / "r.csv") == 1
    with open(tmp_path / "r.csv", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "收文编号" and [r[0] for r in rows[1:]] == ["办请〔2026〕1号"]
    assert records.export_csv(world.app, tmp_path / "j.csv", kind="交办") == 1
    with open(tmp_path / "j.csv", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "编号" and [r[0] for r in rows[1:]] == [req.number]

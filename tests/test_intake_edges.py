"""Edge cases of the intake pipeline, in process on SQLite (outgoing mail read from the outbox): forged
decisions, duplicates, broken and hostile mail, numbering, mail an admin moves back from the failed folder."""

from __future__ import annotations

import textwrap
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from inprocess import Office

from daemon import intake, models
from daemon.models import Mail, Request, Step

CONFIG = """
[office]
name = "集团公司办公室"
address = "office@t.test"
staff = ["clerk@t.test"]
head = "director@t.test"
number_format = "{fmt}"
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
[reminders]
digest_at = "23:00"
[[people]]
id = "li"
name = "李副总"
email = "li@t.test"
delegate = "zhao"
[[people]]
id = "zhao"
name = "赵秘书"
email = "zhao@t.test"
[[people]]
id = "wang"
name = "王总"
email = "wang@t.test"
[[people]]
id = "zonghe"
name = "综合科"
email = "zonghe@t.test"
[[units]]
id = "unit1"
name = "第一分公司"
emails = ["unit1@t.test"]
[[routes]]
steps = "王总"
execute = "综合科"
"""

BODY = textwrap.dedent("""\
    关于购置办公设备的请示

    集团公司办公室：
        因业务需要，拟购置计算机10台，预算6万元。
        妥否，请批示。

    第一分公司
    2026年11月20日
    （联系人：张三，联系电话：010-12345678）
    """)


class World(Office):
    def __init__(self, tmp, fmt="办请〔{year}〕{seq}号"):
        super().__init__(tmp, CONFIG.format(tmp=tmp, fmt=fmt))

    def request(self):
        return Request.get()

    def filed_and_routed(self, route="王总"):
        assert self.send("unit1@t.test", "关于购置办公设备的请示", BODY) == intake.PROCESSED
        review = self.last_to("clerk@t.test")
        self.send("clerk@t.test", "回复：" + review.subject, f"受理\n流程：{route}", reply_to=review)
        assert self.request().state == "approving"
        return review


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    w = World(tmp_path)
    yield w
    models.close()


def test_an_answer_mail_cannot_be_used_to_forge_a_decision(world):
    world.send("unit1@t.test", "关于购置办公设备的请示", BODY)
    number = world.request().number
    # a stranger writes about the request and is told they may not decide ...
    world.send("stranger@else.test", f"{number} 受理", "受理\n流程：王总")
    answer = world.last_to("stranger@else.test")
    # ... then answers that mail with office staff's address as From
    world.send("clerk@t.test", "回复：" + answer.subject, "受理\n流程：王总\n执行：stranger@else.test", reply_to=answer)
    req = world.request()
    assert req.state == "reviewing" and req.execute == []


def test_a_delegate_on_the_same_joint_step_does_not_sign_twice(world):
    world.filed_and_routed("李副总+赵秘书")
    note = world.last_to("zhao@t.test", "请审批")
    world.send("zhao@t.test", "回复：" + note.subject, "同意", reply_to=note)
    world.send("zhao@t.test", "回复：" + note.subject, "同意", reply_to=note)
    step = Step.get(Step.state == "active")
    assert step.signed == ["zhao@t.test"]
    assert world.request().state == "approving"


def test_a_second_acceptance_is_told_who_accepted(world):
    review = world.filed_and_routed()
    world.send("clerk@t.test", "回复：" + review.subject, "受理\n流程：李副总", reply_to=review)
    answer = world.last_to("clerk@t.test", "未")
    assert "受理" in answer.text and "办公室" in answer.text
    assert [s.approvers for s in Step.select()] == [["wang@t.test"]]


def test_transfer_only_to_configured_people_not_already_on_the_route(world):
    world.filed_and_routed("王总，李副总")
    note = world.last_to("wang@t.test", "请审批")
    world.send("wang@t.test", "回复：" + note.subject, "转：outsider@else.test", reply_to=note)
    world.send("wang@t.test", "回复：" + note.subject, "转：李副总", reply_to=note)
    assert [s.approvers for s in Step.select().order_by(Step.position)] == [["wang@t.test"], ["li@t.test"]]
    assert not world.mails_to("outsider@else.test")
    assert "后续审批环节" in world.last_to("wang@t.test").text


def test_a_huge_message_id_and_title_are_registered(world):
    title = "关于" + "购置办公设备" * 60 + "的请示"
    assert world.send("unit1@t.test", title, BODY.replace("关于购置办公设备的请示", title),
                      message_id=f"<{'x' * 900}@t.test>") == intake.PROCESSED
    req = world.request()
    assert len(req.title) == 200 and req.title.endswith("…")       # the archived mail keeps all of it
    assert Mail.get(Mail.direction == "in").message_id.startswith("officeflow-")


def test_numbers_without_a_year_keep_counting_across_years(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-12-30T09:00:00+08:00")
    w = World(tmp_path, fmt="办请{seq}号")
    try:
        w.send("unit1@t.test", "关于购置办公设备的请示", BODY)
        monkeypatch.setenv("OFFICEFLOW_NOW", "2027-01-04T09:00:00+08:00")
        w.send("unit1@t.test", "关于增加培训经费的请示", BODY.replace("购置办公设备", "增加培训经费"))
        assert sorted(r.number for r in Request.select()) == ["办请1号", "办请2号"]
    finally:
        models.close()


def test_a_mail_moved_back_from_the_failed_folder_is_processed_again(world, monkeypatch):
    def broken(self):
        raise RuntimeError("a bug")

    monkeypatch.setattr(intake.Pipeline, "run", broken)
    msg_id = make_msgid(domain="t.test")
    assert world.send("unit1@t.test", "关于购置办公设备的请示", BODY, message_id=msg_id) == intake.FAILED
    assert Mail.get(Mail.direction == "in").action.startswith("处理出错")
    monkeypatch.undo()
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T10:00:00+08:00")
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    assert world.send("unit1@t.test", "关于购置办公设备的请示", BODY, message_id=msg_id) == intake.PROCESSED
    assert Request.select().count() == 1


def test_a_mail_that_kept_killing_the_daemon_goes_to_the_failed_folder(world):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "unit1@t.test", "office@t.test", "关于购置办公设备的请示"
    msg.set_content(BODY)
    raw = msg.as_bytes()
    import hashlib
    marker = world.app.archive_root() / ".attempts" / ("officeflow-" + hashlib.sha256(raw).hexdigest()[:32])
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(intake.MAX_ATTEMPTS))          # three earlier runs died while handling it
    assert intake.handle(world.app, raw) == intake.FAILED
    assert Request.select().count() == 0 and not marker.exists()
    assert "中断" in Mail.get(Mail.direction == "in").action


def test_a_new_request_sent_as_a_reply_to_a_finished_one_is_registered(world):
    world.filed_and_routed()
    note = world.last_to("wang@t.test", "请审批")
    world.send("wang@t.test", "回复：" + note.subject, "不同意", reply_to=note)
    assert world.request().state == "rejected"
    told = world.last_to("unit1@t.test", "未")
    world.send("unit1@t.test", "回复：" + told.subject, BODY.replace("购置办公设备", "购置打印机"), reply_to=told)
    assert sorted(r.title for r in Request.select()) == ["关于购置办公设备的请示", "关于购置打印机的请示"]


def test_a_thank_you_after_a_return_is_not_taken_as_the_revised_request(world):
    world.send("unit1@t.test", "关于购置办公设备的请示", BODY)
    review = world.last_to("clerk@t.test")
    world.send("clerk@t.test", "回复：" + review.subject, "退回：请补充资金来源。", reply_to=review)
    receipt = world.last_to("unit1@t.test", "回执")
    world.send("unit1@t.test", "回复：" + receipt.subject, "好的，收到，我们修改后再报。", reply_to=receipt)
    assert world.request().state == "returned"


def test_answers_to_one_address_stop_after_the_daily_limit(world):
    for i in range(intake.MAX_ANSWERS_A_DAY + 5):
        world.send("robot@else.test", f"第{i}封", "请问")
    assert len(world.mails_to("robot@else.test")) == intake.MAX_ANSWERS_A_DAY
    assert Mail.select().where(Mail.direction == "in").count() == intake.MAX_ANSWERS_A_DAY + 5


def test_an_archived_original_and_its_name_are_on_disk_before_it_is_registered(world, monkeypatch):
    """The mail leaves the inbox once it is registered: the copy kept of it must survive a power cut by then,
    its bytes and the folder entry that names it."""
    import os
    flushed = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (flushed.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    assert world.send("unit1@t.test", "关于购置办公设备的请示", BODY) == intake.PROCESSED
    [row] = Mail.select().where(Mail.direction == "in")
    path = world.app.archive_root() / row.archive
    # the bytes under the temporary name they are written to, then the folder once it names them
    ours = [f for f in flushed if f.startswith(str(path.with_suffix(""))) or f == str(path.parent)]
    assert len(ours) == 2 and ours[0].startswith(str(path.with_suffix(".tmp"))) and ours[1] == str(path.parent)

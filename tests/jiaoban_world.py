"""An office with leaders, in process on SQLite, for the 交办 (SPEC §6): mail goes in through intake.handle and
comes out of the outbox table, with OFFICEFLOW_NOW set by the test. No mail server: the end-to-end tests on real
servers use tests/flow.py's Office, which has the same people.

Its people: 李副总 (li, leader, delegate 赵秘书 zhao), 王总 (wang, leader), office staff clerk, the head
director; 综合科 (zonghe), 安全科 (anquan), 财务科 (caiwu) as [[people]]; 第一分公司 (unit1) as a unit.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import make_msgid

import pytest
from inprocess import Office

from daemon import models
from daemon.jiaoban import core
from daemon.models import Request

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
{extra}
[[people]]
id = "li"
name = "李副总"
email = "li@t.test"
delegate = "zhao"
superior = "wang"
{leader_li}
[[people]]
id = "zhao"
name = "赵秘书"
email = "zhao@t.test"
[[people]]
id = "wang"
name = "王总"
email = "wang@t.test"
{leader_wang}
[[people]]
id = "zonghe"
name = "综合科"
email = "zonghe@t.test"
[[people]]
id = "anquan"
name = "安全科"
email = "anquan@t.test"
[[people]]
id = "caiwu"
name = "财务科"
email = "caiwu@t.test"
[[units]]
id = "unit1"
name = "第一分公司"
emails = ["unit1@t.test"]
[[routes]]
match = ["安全"]
steps = "王总"
execute = "安全科"
[[routes]]
steps = "王总"
execute = "综合科"
"""


TUESDAY = "2026-12-01T10:12:00+08:00"       # SPEC §6.13: the leader's mail arrives


@pytest.fixture
def world(request, tmp_path, monkeypatch):
    """The office in process at Tuesday 2026-12-01 10:12 — or at the test module's `WORLD_NOW`."""
    monkeypatch.setenv("OFFICEFLOW_NOW", getattr(request.module, "WORLD_NOW", TUESDAY))
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    w = World(tmp_path)
    yield w
    models.close()


class World(Office):
    def __init__(self, tmp, leaders=("li", "wang"), extra: str = ""):
        flags = {f"leader_{p}": "leader = true" if p in leaders else "" for p in ("li", "wang")}
        super().__init__(tmp, CONFIG.format(tmp=tmp, extra=extra, **flags))

    def reply(self, sender: str, original, body: str, **kw) -> str:
        """Answer `original` as a mail client does: 回复： before its subject, its text quoted below."""
        quoted = f"\n\n------------------ 原始邮件 ------------------\n发件人: 集团公司办公室\n主题: {original.subject}\n\n"
        return self.send(sender, "回复：" + original.subject, body + quoted + original.text, reply_to=original, **kw)

    def request(self, number: str | None = None) -> Request:
        return Request.get(Request.number == number) if number else Request.select().order_by(Request.id.desc()).get()

    def task(self, number: str | None = None):
        return core.task_of(self.request(number))

    def dispatched(self, content: str = "起草年度安全生产检查通报", deadline: str = "2026-12-04T17:30:00+08:00",
                   lead: str = "zonghe@t.test", co_units=("anquan@t.test",), leader: str = "li@t.test",
                   urgency: str = "", requirements: str = "突出问题整改，不超过两页。"):
        """A 交办 registered and dispatched without mail (for tests of what comes after 派发)."""
        from types import SimpleNamespace
        with models.db.atomic():
            mail = SimpleNamespace(text=f"交办：{content}", message_id=make_msgid(domain="t.test").strip("<>"))
            req, task = core.create(self.app, leader=leader, by=leader, mail=mail, content=content,
                                    requirements=requirements, urgency=urgency, deadline_text=deadline,
                                    deadline_at=datetime.fromisoformat(deadline), lead=lead, co_units=list(co_units))
            core.start_round(self.app, req, task, by="clerk@t.test")
        return req

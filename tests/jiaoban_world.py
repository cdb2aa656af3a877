"""An office with leaders, in process on SQLite, for the 交办 (SPEC §6): mail goes in through intake.handle and
comes out of the outbox table, with OFFICEFLOW_NOW set by the test. No mail server: the end-to-end tests on real
servers use tests/flow.py's Office, which has the same people.

Its people: 李副总 (li, leader, delegate 赵秘书 zhao), 王总 (wang, leader), office staff clerk, the head
director; 综合科 (zonghe), 安全科 (anquan), 财务科 (caiwu) as [[people]]; 第一分公司 (unit1) as a unit.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

import fresh_db
import pytest

from daemon import intake, mailstore, mime, models
from daemon.app import App
from daemon.config import load_config
from daemon.jiaoban import core
from daemon.models import Outbox, Request

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


class World:
    def __init__(self, tmp, leaders=("li", "wang"), extra: str = ""):
        path = tmp / "officeflow.toml"
        flags = {f"leader_{p}": "leader = true" if p in leaders else "" for p in ("li", "wang")}
        path.write_text(CONFIG.format(tmp=tmp, extra=extra, **flags), encoding="utf-8")
        self.cfg = load_config(path)
        fresh_db.lay(tmp / "db.sqlite")
        models.connect(self.cfg.database.url)
        self.app = App(self.cfg)
        self._sent: dict[int, object] = {}     # outbox id → the parsed mail: sent mail never changes

    def send(self, sender: str, subject: str, body: str, reply_to=None, message_id: str | None = None,
             attachments: list[tuple[str, bytes]] = ()) -> str:
        """A mail to the office; `reply_to`: the ParsedMail it answers (In-Reply-To/References)."""
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, "office@t.test", subject
        msg["Message-ID"] = message_id or make_msgid(domain="t.test")
        if reply_to is not None:
            msg["In-Reply-To"] = f"<{reply_to.message_id}>"
            msg["References"] = " ".join(f"<{r}>" for r in (*reply_to.references, reply_to.message_id))
        msg.set_content(body)
        for name, data in attachments:
            msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
        return intake.handle(self.app, msg.as_bytes())

    def reply(self, sender: str, original, body: str, **kw) -> str:
        """Answer `original` as a mail client does: 回复： before its subject, its text quoted below."""
        quoted = f"\n\n------------------ 原始邮件 ------------------\n发件人: 集团公司办公室\n主题: {original.subject}\n\n"
        return self.send(sender, "回复：" + original.subject, body + quoted + original.text, reply_to=original, **kw)

    def mails_to(self, address: str) -> list:
        rows = [r for r in Outbox.select().order_by(Outbox.id) if address in r.rcpts]
        new = [r for r in rows if r.id not in self._sent]
        whole = mailstore.messages(new)
        self._sent.update((r.id, mime.parse(whole[r.id])) for r in new)
        return [self._sent[r.id] for r in rows]

    def last_to(self, address: str, part: str = ""):
        found = [m for m in self.mails_to(address) if part in m.subject]
        assert found, [m.subject for m in self.mails_to(address)]
        return found[-1]

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

"""An office in process on SQLite, for the tests that drive intake without a mail server: mail goes in through
intake.handle and comes out of the outbox table. Each test module gives its own config (tests/flow.py's Office
is the same on real servers).

Creating the tables and indexes was most of what setting up such an office cost, and the fast lane sets up about
a thousand of them: the empty database is made once per test process, through `models.connect` as the daemon
makes it, and each office gets a copy of the file. Tests of creating and upgrading a database
(test_migrations.py) do not use it.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from daemon import intake, mailstore, mime, models
from daemon.app import App
from daemon.config import load_config
from daemon.models import Outbox


@functools.cache
def _empty_database() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="officeflow-schema-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "db.sqlite"
    models.connect(f"sqlite:///{path}")
    models.close()               # the last connection checkpoints the WAL: the file alone is the database
    return path


class Office:
    """`config` is the text of officeflow.toml, its database at `tmp`/db.sqlite (which must not exist yet)."""

    def __init__(self, tmp: Path, config: str):
        path = tmp / "officeflow.toml"
        path.write_text(config, encoding="utf-8")
        self.cfg = load_config(path)
        shutil.copyfile(_empty_database(), tmp / "db.sqlite")
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

"""An office on the test mail servers: config, mailboxes, and people who write and answer mail like real users."""

from __future__ import annotations

import email
import email.policy
import io
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon import mime, models, service
from daemon.config import load_config

REPO = Path(__file__).resolve().parents[1]
PEOPLE = ["office", "clerk", "director", "caiwu", "shenji", "zonghe", "xingzheng", "li", "zhao", "wang",
          "unit1", "unit2", "stranger", "anquan"]


SH = ZoneInfo("Asia/Shanghai")      # the test offices' time zone

def docx_bytes(paragraphs: list[str]) -> bytes:
    from docx import Document
    doc = Document()
    for p in paragraphs:
        doc.add_paragraph(p)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


GOOD_BODY = """关于购置办公设备的请示

集团公司办公室：
    因业务量增加，我公司现有计算机老化严重，已影响正常办公。为保障工作顺利开展，拟购置台式计算机10台，预算约6万元，资金从年度办公经费中列支。建议采购国产品牌设备。
    妥否，请批示。

附件：1.办公设备购置清单

第一分公司
2026年11月20日
（联系人：张三，联系电话：010-12345678）
"""


# the daily digest would otherwise arrive first thing in every test's mailboxes
DEFAULT_EXTRA = """
[reminders]
digest_at = "23:00"
"""


@dataclass
class Office:
    servers: object
    domain: str
    tmp: Path
    extra: str = ""
    addr: dict = field(default_factory=dict)
    leaders: tuple = ("li", "wang")  # people who may 交办 (leader = true); () = an office without 交办
    imap_security: str = "none"     # ssl / starttls need servers started with a certificate
    smtp_security: str = "none"

    def __post_init__(self):
        self.addr = self.servers.users_for(self.domain, PEOPLE)
        self.config_path = self.tmp / "officeflow.toml"
        self.write_config()
        os.environ["OFFICEFLOW_TEST_PASSWORD"] = self.servers.password

    def write_config(self, extra: str = "") -> None:
        a = self.addr
        s = self.servers
        imap_port = s.imaps_port if self.imap_security == "ssl" else s.imap_port
        smtp_port = s.smtps_port if self.smtp_security == "ssl" else s.smtp_port
        ca_file = f'ca_file = "{s.ca}"' if getattr(s, "ca", None) else ""
        leader = {p: "\nleader = true" if p in self.leaders else "" for p in ("li", "wang")}
        self.config_path.write_text(f"""
[office]
name = "集团公司办公室"
address = "{a['office']}"
staff = ["{a['clerk']}"]
head = "{a['director']}"

[imap]
host = "127.0.0.1"
port = {imap_port}
security = "{self.imap_security}"
username = "{a['office']}"
password_env = "OFFICEFLOW_TEST_PASSWORD"
{ca_file}

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "{self.smtp_security}"
{ca_file}
from = "集团公司办公室 <{a['office']}>"

[database]
url = "sqlite:///{self.tmp}/officeflow.db"

[archive]
path = "{self.tmp}/archive"

{extra or self.extra or DEFAULT_EXTRA}

[[people]]
id = "caiwu"
name = "财务科"
email = "{a['caiwu']}"

[[people]]
id = "shenji"
name = "审计科"
email = "{a['shenji']}"

[[people]]
id = "zonghe"
name = "综合科"
email = "{a['zonghe']}"

[[people]]
id = "xingzheng"
name = "行政科"
email = "{a['xingzheng']}"

[[people]]
id = "li"
name = "李副总"
email = "{a['li']}"
superior = "wang"
delegate = "zhao"{leader['li']}

[[people]]
id = "zhao"
name = "赵秘书"
email = "{a['zhao']}"

[[people]]
id = "wang"
name = "王总"
email = "{a['wang']}"{leader['wang']}

[[people]]
id = "anquan"
name = "安全科"
email = "{a['anquan']}"

[[units]]
id = "unit1"
name = "第一分公司"
emails = ["{a['unit1']}"]

[[units]]
id = "unit2"
name = "第二分公司"
emails = ["{a['unit2']}"]

[[routes]]
match = ["采购", "购置"]
steps = ["财务科", "李副总"]
execute = "综合科"
copy = ["行政科"]

[[routes]]
steps = ["王总"]
execute = "综合科"
""", encoding="utf-8")

    @property
    def cfg(self):
        return load_config(self.config_path)

    def run_once(self) -> None:
        assert service.run(self.cfg, once=True) == 0

    def run_cli(self, *args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "daemon", *args], cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, timeout=timeout)

    def db(self):
        models.connect(self.cfg.database.url)
        return models

    # -- writing mail like a person ----------------------------------------------------------------

    def send_request(self, who: str = "unit1", subject: str = "关于购置办公设备的请示", body: str = GOOD_BODY,
                     attachments: list[tuple[str, bytes]] | None = None, charset: str = "utf-8") -> str:
        msg = EmailMessage()
        msg["From"] = f"第一分公司 <{self.addr[who]}>"
        msg["To"] = self.addr["office"]
        msg["Subject"] = subject
        mid = make_msgid(domain=self.domain)
        msg["Message-ID"] = mid
        msg.set_content(body, charset=charset)
        if attachments is None:
            attachments = [("办公设备购置清单.docx", docx_bytes(["办公设备购置清单", "台式计算机 10台 6万元"]))]
        for name, data in attachments:
            msg.add_attachment(data, maintype="application",
                               subtype="vnd.openxmlformats-officedocument.wordprocessingml.document", filename=name)
        self.servers.send(crlf(msg), [self.addr["office"]], self.addr[who])
        return mid.strip("<>")

    def inbox(self, who: str) -> list:
        return [mime.parse(raw) for raw in self.servers.messages(self.addr[who])]

    def raw_inbox(self, who: str) -> list[bytes]:
        return self.servers.messages(self.addr[who])

    def last(self, who: str, subject_part: str = ""):
        found = [m for m in self.inbox(who) if subject_part in m.subject]
        assert found, f"no mail with {subject_part!r} for {who}: {[m.subject for m in self.inbox(who)]}"
        return found[-1]

    def reply(self, who: str, original, text: str, quote: str = "foxmail", subject: str | None = None,
              attachments: list[tuple[str, bytes]] = (), from_header: str | list[str] | None = None,
              headers: tuple[tuple[str, str], ...] = ()) -> str:
        """Answer `original` (a ParsedMail) the way a Chinese mail client does, quote below the new text.
        `from_header` replaces the From line, written as given, one line per item (the envelope stays
        `who`'s); `headers` go on top, as a receiving server adds them."""
        msg = EmailMessage()
        for name, value in headers:
            msg[name] = value
        if from_header is None:
            msg["From"] = self.addr[who]
        msg["To"] = self.addr["office"]
        msg["Subject"] = subject if subject is not None else f"回复: {original.subject}"
        mid = make_msgid(domain=self.domain)
        msg["Message-ID"] = mid
        msg["In-Reply-To"] = f"<{original.message_id}>"
        msg["References"] = " ".join(f"<{r}>" for r in (*original.references, original.message_id))
        if quote == "foxmail":
            quoted = (f"\n\n发件人： 集团公司办公室\n发送时间： 2026-11-27 10:00\n收件人： {self.addr[who]}\n"
                      f"主题： {original.subject}\n\n{original.text}")
        elif quote == "qq":
            quoted = (f"\n\n------------------ 原始邮件 ------------------\n发件人: \"集团公司办公室\"<{self.addr['office']}>;\n"
                      f"发送时间: 2026年11月27日(星期五) 上午10:00\n收件人: <{self.addr[who]}>;\n主题: {original.subject}\n\n"
                      f"{original.text}")
        else:
            quoted = ""
        msg.set_content(text + quoted, charset="utf-8")
        for name, data in attachments:
            msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
        raw = crlf(msg)
        if from_header is not None:
            lines = [from_header] if isinstance(from_header, str) else from_header
            raw = b"".join(f"From: {line}\r\n".encode("utf-8") for line in lines) + raw
        self.servers.send(raw, [self.addr["office"]], self.addr[who])
        return mid.strip("<>")


def at(office: Office, when: str) -> None:
    """Move the clock to `when` (Shanghai wall time, e.g. "2026-11-27 10:00") and run the daemon once."""
    office.monkeypatch.setenv("OFFICEFLOW_NOW", datetime.fromisoformat(when).replace(tzinfo=SH).isoformat())
    office.run_once()


def sent(office: Office, who: str, kind: str, number: str = "") -> list:
    """The mails in `who`'s inbox that officeflow recorded as `kind` (a template name), oldest first."""
    db = office.db()
    ids = {m.message_id for m in db.Mail.select().where((db.Mail.direction == "out") & (db.Mail.kind == kind))}
    return [m for m in office.inbox(who) if m.message_id in ids and number in m.subject]


def until(predicate, timeout: float = 30.0, what: str = "condition", every: float = 0.1):
    """Poll `predicate` until it returns something true; fail naming `what` after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def crlf(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def message(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)

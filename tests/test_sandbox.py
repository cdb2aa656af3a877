"""`officeflow sandbox`: its mail servers on free loopback ports, the sample 请示, and the command's start and stop."""

import asyncio
import email
import io
import os
import signal
import socket
import sys
import threading
import types
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import aiosmtplib
import docx
import pytest
from imap_tools import MailBoxUnencrypted, MailboxLoginError

import daemon
from daemon import sandbox
from daemon.config import load_config

pytestmark = pytest.mark.mailserver   # the sandbox's own IMAP and SMTP servers

EXAMPLE = sandbox.DEFAULT_CONFIG


@pytest.fixture(scope="module")
def cfg():
    return load_config(EXAMPLE, need_secrets=False)


@pytest.fixture
def servers():
    sb = sandbox.MailSandbox(["office@example.test", "clerk@example.test", "unit1@example.test"],
                             folders={"office@example.test": ["Processed", "Failed"]})
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()
        assert not sb.running


def login(sb, user, password=sandbox.PASSWORD):
    return MailBoxUnencrypted(sb.host, sb.imap_port, timeout=10).login(user, password)


def mail(to, subject="请审批：采购申请", sender="unit1@example.test", body="妥否，请批示。"):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(body)
    return msg


def smtp_send(sb, msg, **kwargs):
    return asyncio.run(aiosmtplib.send(msg, hostname=sb.host, port=sb.smtp_port, timeout=10, **kwargs))


def port_is_open(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_it_listens_on_loopback_only(servers):
    assert servers.host == "127.0.0.1"
    assert servers.imap_port and servers.smtp_port
    assert port_is_open(servers.imap_port) and port_is_open(servers.smtp_port)


def test_two_users_log_in_with_the_sandbox_password(servers):
    with login(servers, "office@example.test") as office, login(servers, "clerk@example.test") as clerk:
        assert {f.name for f in office.folder.list()} >= {"INBOX", "Processed", "Failed"}
        assert [f.name for f in clerk.folder.list()] == ["INBOX"]
    with pytest.raises(MailboxLoginError):
        login(servers, "clerk@example.test", "wrong")
    with pytest.raises(MailboxLoginError):
        login(servers, "stranger@example.test")


def test_mail_sent_by_smtp_arrives_in_that_inbox_only(servers):
    assert smtp_send(servers, mail("clerk@example.test"))[1] == "OK delivered"
    with login(servers, "clerk@example.test") as clerk:
        [got] = list(clerk.fetch(mark_seen=False))
        assert got.subject == "请审批：采购申请"
        assert got.text.strip() == "妥否，请批示。"
        assert got.headers["delivered-to"] == ("clerk@example.test",)
        assert got.headers["return-path"] == ("<unit1@example.test>",)
    with login(servers, "office@example.test") as office:
        assert list(office.fetch()) == []


def test_idle_wakes_when_mail_arrives(servers):
    # Raw IDLE on imaplib's blocking reader: imap-tools' non-blocking idle.poll() can
    # split a response line that pymap writes in pieces, which is a client-side matter.
    with login(servers, "clerk@example.test") as clerk:
        client = clerk.client
        client.sock.settimeout(5)
        client.send(b"i1 IDLE\r\n")
        assert client.readline().startswith(b"+")
        smtp_send(servers, mail("clerk@example.test", subject="加急"))
        lines = [client.readline()]
        while b"EXISTS" not in lines[-1]:
            lines.append(client.readline())
        assert lines[-1] == b"* 1 EXISTS\r\n"
        client.send(b"DONE\r\n")
        while not lines[-1].startswith(b"i1 "):
            lines.append(client.readline())
        assert lines[-1].startswith(b"i1 OK")
        assert [m.subject for m in clerk.fetch(mark_seen=False)] == ["加急"]


def test_mail_to_an_unknown_address_is_refused(servers):
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as exc:
        smtp_send(servers, mail("nobody@example.test"))
    assert exc.value.recipients[0].code == 550
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        smtp_send(servers, mail("someone@elsewhere.test"))


def test_smtp_auth_is_optional_but_works(servers):
    assert smtp_send(servers, mail("clerk@example.test"),
                     username="unit1@example.test", password=sandbox.PASSWORD)[1] == "OK delivered"
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        smtp_send(servers, mail("clerk@example.test"), username="unit1@example.test", password="wrong")


def test_every_full_address_of_the_config_is_a_mailbox(cfg):
    boxes = sandbox.mailboxes(cfg)
    expected = {cfg.office.address, cfg.office.head, cfg.imap.username, *cfg.office.staff,
                *(p.email for p in cfg.people),
                *(e for u in cfg.units for e in u.emails if not e.startswith("@"))}
    assert set(boxes) == {a.lower() for a in expected}
    assert not any(a.startswith("@") for a in boxes)
    assert "office staff" in boxes[cfg.office.staff[0].lower()]
    assert "office head" in boxes[cfg.office.head.lower()]
    assert cfg.units[0].name in boxes[cfg.units[0].emails[0].lower()]


def test_the_config_is_pointed_at_the_sandbox(cfg, tmp_path):
    run = sandbox.sandbox_config(cfg, tmp_path, 2143, 2025)
    assert (run.imap.host, run.imap.port, run.imap.security, run.imap.password) == \
        ("127.0.0.1", 2143, "none", "officeflow")
    assert run.imap.username == cfg.imap.username
    assert (run.smtp.host, run.smtp.port, run.smtp.security, run.smtp.username, run.smtp.password) == \
        ("127.0.0.1", 2025, "none", None, None)
    assert run.database.url == f"sqlite:///{tmp_path.resolve()}/officeflow.db"
    assert run.archive.path == tmp_path.resolve() / "archive"
    assert run.people == cfg.people and run.office == cfg.office


def test_the_sample_request_is_a_valid_mail_with_a_docx(cfg):
    raw = sandbox.sample_request(cfg).as_bytes()
    msg = email.message_from_bytes(raw, policy=default_policy)
    assert msg["Subject"] == "关于购置办公设备的请示"
    assert msg["From"].addresses[0].addr_spec == "unit1@example.test"
    assert msg["To"].addresses[0].addr_spec == cfg.office.address
    assert msg["Message-ID"] and msg["Date"]
    text = msg.get_body(("plain",)).get_content()
    assert "妥否，请批示" in text and "联系人" in text and "附件：办公设备购置清单" in text
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "办公设备购置清单.docx"
    document = docx.Document(io.BytesIO(att.get_content()))
    cells = [c.text for row in document.tables[0].rows for c in row.cells]
    assert "台式计算机" in cells and "合计" in cells


def test_send_sample_delivers_to_the_office_mailbox(cfg, capsys):
    with sandbox.MailSandbox(sandbox.mailboxes(cfg)) as sb:
        assert sandbox.main(["--send-sample", "--smtp-port", str(sb.smtp_port)]) == 0
        with login(sb, cfg.office.address) as office:
            [got] = list(office.fetch(mark_seen=False))
        assert got.subject == "关于购置办公设备的请示"
        assert got.from_ == "unit1@example.test"
        assert [a.filename for a in got.attachments] == ["办公设备购置清单.docx"]
    assert "已发送" in capsys.readouterr().out


def test_send_sample_without_a_sandbox_says_so(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # bound but not listening: connection refused
        assert sandbox.main(["--send-sample", "--smtp-port", str(port)]) == 1
    assert "Is `officeflow sandbox` running" in capsys.readouterr().err


@pytest.fixture
def fake_service(monkeypatch):
    """Stands in for daemon.service: records what it was given, then acts as told."""
    calls = []
    module = types.ModuleType("daemon.service")

    def run(cfg, *, once=False, stop=None):
        calls.append((cfg, stop))
        return module.behaviour(cfg, stop)

    module.run = run
    monkeypatch.setitem(sys.modules, "daemon.service", module)
    monkeypatch.setattr(daemon, "service", module, raising=False)
    return module, calls


def test_the_command_runs_the_daemon_on_the_sandbox_and_stops_on_sigterm(fake_service, tmp_path, capsys):
    module, calls = fake_service
    seen = {}

    def behaviour(cfg, stop):
        with MailBoxUnencrypted(cfg.imap.host, cfg.imap.port, timeout=10).login(
                cfg.imap.username, cfg.imap.password) as mb:
            seen["folders"] = {f.name for f in mb.folder.list()}
        seen["ports"] = (cfg.imap.port, cfg.smtp.port)
        os.kill(os.getpid(), signal.SIGTERM)
        return 0 if stop.wait(5) else 99

    module.behaviour = behaviour
    rc = sandbox.main(["--imap-port", "0", "--smtp-port", "0", "--dir", str(tmp_path / "sb")])
    assert rc == 0
    [(cfg, stop)] = calls
    assert isinstance(stop, threading.Event) and stop.is_set()
    assert seen["folders"] >= {"INBOX", cfg.imap.processed_folder, cfg.imap.failed_folder}
    [run_dir] = (tmp_path / "sb").glob("run-*")          # each start gets a fresh database of its own
    assert cfg.database.url == f"sqlite:///{run_dir.resolve()}/officeflow.db"
    assert (run_dir / "archive").is_dir()
    assert not any(port_is_open(p) for p in seen["ports"])
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    out = capsys.readouterr().out
    assert f"IMAP  127.0.0.1:{seen['ports'][0]}" in out
    assert "clerk@example.test" in out and '"officeflow"' in out
    assert "officeflow sandbox --send-sample" in out
    assert "stopped" in out


def test_the_servers_stop_even_when_the_daemon_fails(fake_service, tmp_path):
    module, calls = fake_service
    ports = []

    def behaviour(cfg, stop):
        ports.extend((cfg.imap.port, cfg.smtp.port))
        raise RuntimeError("boom")

    module.behaviour = behaviour
    with pytest.raises(RuntimeError):
        sandbox.main(["--imap-port", "0", "--smtp-port", "0", "--dir", str(tmp_path)])
    assert ports and not any(port_is_open(p) for p in ports)


def test_a_port_in_use_is_reported(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert sandbox.main(["--imap-port", str(port), "--smtp-port", "0", "--dir", str(tmp_path)]) == 1
    assert "--imap-port" in capsys.readouterr().err


def test_the_default_config_is_the_repository_example():
    assert sandbox.DEFAULT_CONFIG == Path(daemon.__file__).resolve().parent.parent / "config" / "officeflow.example.toml"
    assert sandbox.DEFAULT_CONFIG.is_file()

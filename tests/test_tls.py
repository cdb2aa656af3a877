"""TLS both ways against Dovecot and the SMTP relay with certificates from a CA the tests create.

Implicit TLS and STARTTLS, for IMAP and SMTP: the certificate and the host name are checked by default,
ca_file adds a private CA, and every failed check is a clear error naming the server and what failed.
"""

from __future__ import annotations

import re

import pytest

from daemon.config import ImapConfig, SmtpConfig
from daemon.mailbox import Mailbox, MailboxError, check_login as imap_check
from daemon.smtp import Outgoing, SmtpError, check_login as smtp_check, send_batch

pytestmark = pytest.mark.mailserver

MODES = ["ssl", "starttls"]


def _imap(servers, user, security, host="127.0.0.1", ca_file=None) -> ImapConfig:
    port = servers.imaps_port if security == "ssl" else servers.imap_port
    return ImapConfig(host=host, port=port, security=security, username=user, password=servers.password,
                      timeout=10, ca_file=str(servers.ca) if ca_file is None else ca_file)


def _smtp(servers, security, host="127.0.0.1", ca_file=None) -> SmtpConfig:
    port = servers.smtps_port if security == "ssl" else servers.smtp_port
    return SmtpConfig(host=host, port=port, security=security, username=None, password=None,
                      from_addr="office@example.test", timeout=10,
                      ca_file=str(servers.ca) if ca_file is None else ca_file)


def _user(servers) -> str:
    return servers.users_for(servers.new_domain(), ["office"])["office"]


def _msg(rcpt: str) -> Outgoing:
    data = ("From: office@example.test\r\nTo: %s\r\nSubject: =?utf-8?b?5Zue5omn?=\r\n\r\nTLS\r\n" % rcpt).encode()
    return Outgoing(key="k1", mail_from="office@example.test", rcpts=(rcpt,), data=data)


# -- what works ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("security", MODES)
def test_imap_trusts_a_private_ca_given_in_ca_file(tls_servers, security):
    servers = tls_servers("good")
    user = _user(servers)
    servers.append(user, b"Subject: x\r\n\r\nx\r\n")
    assert imap_check(_imap(servers, user, security)) == "ok: 1 messages in INBOX"
    box = Mailbox(_imap(servers, user, security))
    box.connect()
    try:
        assert [raw for _, raw in box.fetch_new()] == [b"Subject: x\r\n\r\nx\r\n"]
    finally:
        box.close()
    logins = [line for line in _dovecot_log(servers) if "Login: user=<%s>" % user in line]
    assert logins and all(", TLS," in line for line in logins), logins


@pytest.mark.parametrize("security", MODES)
def test_smtp_trusts_a_private_ca_and_delivers(tls_servers, security):
    servers = tls_servers("good")
    user = _user(servers)
    assert smtp_check(_smtp(servers, security)).startswith("ok")
    [result] = send_batch(_smtp(servers, security), [_msg(user)])
    assert result.ok, result.error
    assert servers.wait_for(user, 1)[0].endswith(_msg(user).data)


# -- what is refused ----------------------------------------------------------------------------------

# (servers' certificate, host we connect to, ca_file or None for the test CA, words the error must hold)
REFUSED = {
    "untrusted CA (system trust only)": ("good", "127.0.0.1", "", "not trusted"),
    "untrusted CA (another CA in ca_file)": ("good", "127.0.0.1", "stranger", "not trusted"),
    "certificate from a stranger CA": ("stranger", "127.0.0.1", None, "not trusted"),
    "certificate for another name, no IP": ("other_name", "127.0.0.1", None, "not issued for this IP address"),
    "wrong host name": ("good", "localhost", None, "not issued for this host name"),
    "expired certificate": ("expired", "127.0.0.1", None, "expired"),
}


def _refused_case(pki, tls_servers, case):
    label, host, ca, words = REFUSED[case]
    servers = tls_servers(label)
    ca_file = {"": "", "stranger": str(pki.stranger_ca), None: None}[ca]
    return servers, host, ca_file, words


@pytest.mark.parametrize("security", MODES)
@pytest.mark.parametrize("case", list(REFUSED))
def test_imap_refuses_a_certificate_it_cannot_trust(pki, tls_servers, case, security):
    servers, host, ca_file, words = _refused_case(pki, tls_servers, case)
    user = _user(servers)
    cfg = _imap(servers, user, security, host=host, ca_file=ca_file)
    with pytest.raises(MailboxError) as exc:
        imap_check(cfg)
    text = str(exc.value)
    assert text.startswith("IMAP server %s:%s: certificate rejected: " % (host, cfg.port)), text
    assert words in text
    assert servers.password not in text
    # the password never reached the server
    assert not [line for line in _dovecot_log(servers) if "user=<%s>" % user in line]


@pytest.mark.parametrize("security", MODES)
@pytest.mark.parametrize("case", list(REFUSED))
def test_smtp_refuses_a_certificate_it_cannot_trust_and_keeps_the_mail(pki, tls_servers, case, security):
    servers, host, ca_file, words = _refused_case(pki, tls_servers, case)
    user = _user(servers)
    cfg = _smtp(servers, security, host=host, ca_file=ca_file)
    with pytest.raises(SmtpError) as exc:
        smtp_check(cfg)
    assert str(exc.value).startswith("SMTP server %s:%s: certificate rejected: " % (host, cfg.port))
    assert words in str(exc.value) and not exc.value.temporary
    [result] = send_batch(cfg, [_msg(user)])
    # nothing sent, and the mail is not given up: it stays queued until the server can be trusted
    assert not result.ok and result.held and words in result.error
    assert servers.messages(user) == []


def test_check_config_shows_the_failed_check(pki, tls_servers, tmp_path, monkeypatch):
    from flow import Office
    servers = tls_servers("expired")
    office = Office(servers, servers.new_domain(), tmp_path, imap_security="ssl", smtp_security="starttls")
    out = office.run_cli("check-config", "-c", str(office.config_path))
    assert out.returncode == 1
    assert re.search(r"IMAP 127\.0\.0\.1:%d \(ssl\): FAILED: IMAP server 127\.0\.0\.1:%d: certificate rejected: "
                     r"the certificate has expired" % (servers.imaps_port, servers.imaps_port), out.stderr)
    assert "SMTP 127.0.0.1:%d (starttls): FAILED: SMTP server" % servers.smtp_port in out.stderr
    assert out.stderr.count("certificate rejected: the certificate has expired") == 2


def _dovecot_log(servers) -> list[str]:
    return (servers.root / "log" / "dovecot.log").read_text(errors="replace").splitlines()


# -- end to end: a TLS-only office --------------------------------------------------------------------


def _tls_office(servers, tmp_path, imap_security, smtp_security, monkeypatch):
    from flow import Office
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    return Office(servers, servers.new_domain(), tmp_path, imap_security=imap_security,
                  smtp_security=smtp_security)


@pytest.mark.parametrize("imap_security", MODES)
@pytest.mark.parametrize("smtp_security", MODES)
def test_a_request_is_registered_over_tls_in_every_combination(tls_servers, tmp_path, monkeypatch,
                                                                imap_security, smtp_security):
    from daemon import models
    office = _tls_office(tls_servers("good"), tmp_path, imap_security, smtp_security, monkeypatch)
    try:
        office.send_request()
        office.run_once()
        assert "办请〔2026〕1号" in office.last("unit1").subject
        assert "办请〔2026〕1号" in office.last("clerk").subject
        assert office.servers.messages(office.addr["office"], "Processed")
        assert office.servers.messages(office.addr["office"]) == []
    finally:
        models.close()
    logins = [line for line in _dovecot_log(office.servers) if "Login: user=<%s>" % office.addr["office"] in line]
    assert logins and all(", TLS," in line for line in logins), logins


def test_the_daemon_carries_a_request_to_its_result_over_tls_only(tls_servers, tmp_path, monkeypatch):
    """The daemon itself (IDLE on a TLS connection), implicit TLS for IMAP and STARTTLS for SMTP."""
    import threading

    from flow import until

    from daemon import models, service
    office = _tls_office(tls_servers("good"), tmp_path, "ssl", "starttls", monkeypatch)
    stop = threading.Event()
    worker = threading.Thread(target=service.run, args=(office.cfg,), kwargs={"stop": stop}, daemon=True)
    worker.start()
    try:
        office.send_request()
        receipt = until(lambda: office.inbox("unit1"), what="the receipt")[-1]
        number = re.search(r"【(.+?)】", receipt.subject).group(1)
        review = until(lambda: office.inbox("clerk"), what="the review mail")[-1]
        office.reply("clerk", review, "受理\n流程：李副总\n执行：综合科")
        approval = until(lambda: [m for m in office.inbox("li") if number in m.subject], what="the 审批单")[-1]
        office.reply("li", approval, "同意。")
        result = until(lambda: [m for m in office.inbox("zonghe") if number in m.subject], what="the result")[-1]
        assert "同意" in result.text
        until(lambda: len(office.servers.messages(office.addr["office"], "Processed")) == 3,
              what="three mails moved to Processed")
    finally:
        stop.set()
        worker.join(30)
        models.close()
    assert not worker.is_alive()
    logins = [line for line in _dovecot_log(office.servers) if "Login: user=<%s>" % office.addr["office"] in line]
    assert logins and all(", TLS," in line for line in logins), logins


def test_mail_waits_while_the_smtp_certificate_is_not_trusted_and_goes_out_once_it_is(tls_servers, tmp_path,
                                                                                      monkeypatch):
    from daemon import models
    office = _tls_office(tls_servers("good"), tmp_path, "ssl", "ssl", monkeypatch)
    good = office.config_path.read_text()
    # the SMTP side without the private CA: the server's certificate cannot be trusted
    smtp_part = good[good.index("[smtp]"):]
    office.config_path.write_text(good.replace(smtp_part, re.sub(r'ca_file = ".*"\n', "", smtp_part, count=1)))
    try:
        office.send_request()
        office.run_once()
        db = office.db()
        waiting = list(db.Outbox.select())
        assert len(waiting) == 2 and {(r.state, r.attempts) for r in waiting} == {("queued", 0)}
        assert all("certificate rejected" in r.last_error for r in waiting)
        assert office.servers.messages(office.addr["unit1"]) == []
        office.config_path.write_text(good)
        monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T09:02:00+08:00")
        office.run_once()
        assert {r.state for r in db.Outbox.select()} == {"sent"}
        assert "办请〔2026〕1号" in office.last("unit1").subject
    finally:
        models.close()

"""Tests of the loopback mail-server harness itself: relay delivery, refusals, encodings, users."""

import email
import smtplib
from email.header import decode_header, make_header

import pytest

from mailservers import MailServers, _port_open, _UsersOnDisk


def _subject(raw: bytes) -> str:
    return str(make_header(decode_header(email.message_from_bytes(raw)["Subject"])))


def test_mail_sent_through_the_relay_lands_in_the_inbox(mailservers, maildomain):
    users = mailservers.users_for(maildomain, ["unit1", "office"])
    raw = (b"From: unit1@x\r\nTo: office@x\r\nSubject: hello\r\nMessage-ID: <m1@t>\r\n\r\n"
           b"first line\r\n")
    refused = mailservers.send(raw, [users["office"]], users["unit1"])
    assert refused == {}
    got = mailservers.wait_for(users["office"], 1)
    assert len(got) == 1
    msg = email.message_from_bytes(got[0])
    assert msg["Message-ID"] == "<m1@t>"
    assert msg["Delivered-To"] == users["office"]
    assert msg["Return-Path"] == "<%s>" % users["unit1"]
    assert mailservers.messages(users["unit1"]) == []


def test_unknown_user_and_foreign_domain_are_refused(mailservers, maildomain):
    users = mailservers.users_for(maildomain, ["office"])
    raw = b"Subject: x\r\n\r\nx\r\n"
    with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
        mailservers.send(raw, ["nobody@" + maildomain], users["office"])
    assert exc.value.recipients["nobody@" + maildomain][0] == 550
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        mailservers.send(raw, ["someone@example.com"], users["office"])
    # one good recipient among bad ones: delivered to the good one, the bad one reported
    refused = mailservers.send(raw, [users["office"], "ghost@" + maildomain], users["office"])
    assert list(refused) == ["ghost@" + maildomain]
    assert len(mailservers.wait_for(users["office"], 1)) == 1


def test_gbk_subject_and_body_survive_byte_for_byte(mailservers, maildomain):
    users = mailservers.users_for(maildomain, ["leader1"])
    subject = "请审批：关于购置办公设备的请示"
    body = "妥否，请批示。".encode("gbk")
    raw = (b"From: unit1@example.test\r\nTo: leader1@example.test\r\n"
           b"Subject: =?gbk?b?" + __import__("base64").b64encode(subject.encode("gbk")) + b"?=\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=gbk\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body + b"\r\n")
    mailservers.send(raw, [users["leader1"]], "unit1@example.test")
    got = mailservers.wait_for(users["leader1"], 1)[0]
    assert _subject(got) == subject
    assert got.endswith(raw.split(b"\r\n\r\n", 1)[1])
    part = email.message_from_bytes(got)
    assert part.get_payload(decode=True).decode("gbk").strip() == "妥否，请批示。"


def test_users_added_later_to_a_known_domain_are_picked_up(mailservers, maildomain):
    first = mailservers.users_for(maildomain, ["a"])
    mailservers.send(b"Subject: 1\r\n\r\n1\r\n", [first["a"]], first["a"])  # Dovecot reads the file
    second = mailservers.users_for(maildomain, ["b"])
    mailservers.send(b"Subject: 2\r\n\r\n2\r\n", [second["b"]], first["a"])
    assert len(mailservers.wait_for(second["b"], 1)) == 1


def test_append_messages_and_folders(mailservers, maildomain):
    user = mailservers.users_for(maildomain, ["office"])["office"]
    for i in range(3):
        mailservers.append(user, b"Subject: n%d\r\n\r\nbody %d\r\n" % (i, i))
    got = mailservers.messages(user)
    assert [_subject(r) for r in got] == ["n0", "n1", "n2"]
    assert all(r"\Seen" not in f for f in mailservers.flags(user))
    assert mailservers.messages(user, "Nowhere") == []
    assert "INBOX" in mailservers.folders(user)


def test_dovecot_comes_back_on_the_same_ports_with_the_same_mail(mailservers, maildomain):
    user = mailservers.users_for(maildomain, ["office"])["office"]
    mailservers.append(user, b"Subject: kept\r\n\r\nkept\r\n")
    port = mailservers.imap_port
    mailservers.stop_imap()
    try:
        with pytest.raises(OSError):
            mailservers.imap(user)
    finally:
        mailservers.start_imap()
    assert mailservers.imap_port == port
    assert [_subject(r) for r in mailservers.messages(user)] == ["kept"]
    mailservers.send(b"Subject: after\r\n\r\nx\r\n", [user], user)  # the relay reconnects to LMTP
    assert len(mailservers.wait_for(user, 2)) == 2


@pytest.fixture(scope="module")
def relay_apart(mailservers):
    """Servers whose relay runs in a process of its own, as the benchmarks start them (after `mailservers`,
    which skips where Dovecot is missing)."""
    servers = MailServers(relay_process=True).start()
    try:
        yield servers
    finally:
        servers.stop()


def test_a_relay_in_a_process_of_its_own_delivers_refuses_and_learns_new_users(relay_apart):
    assert relay_apart._controllers == [] and relay_apart._relay_proc.poll() is None
    domain = relay_apart.new_domain()
    users = relay_apart.users_for(domain, ["office"])
    raw = b"Subject: apart\r\nMessage-ID: <apart@t>\r\n\r\nx\r\n"
    assert relay_apart.send(raw, [users["office"]], users["office"]) == {}
    got = relay_apart.wait_for(users["office"], 1)
    assert email.message_from_bytes(got[0])["Message-ID"] == "<apart@t>"
    with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
        relay_apart.send(raw, ["ghost@" + domain], users["office"])
    assert exc.value.recipients["ghost@" + domain][0] == 550
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        relay_apart.send(raw, ["someone@example.com"], users["office"])
    later = relay_apart.users_for(domain, ["Later"])       # added after the relay started; written in capitals
    assert relay_apart.send(raw, [later["Later"].upper()], users["office"]) == {}
    assert len(relay_apart.wait_for(later["Later"], 1)) == 1


def test_the_relay_process_ends_with_the_servers(mailservers):     # mailservers: skipped without Dovecot
    servers = MailServers(relay_process=True).start()
    proc, port, root = servers._relay_proc, servers.smtp_port, servers.root
    assert _port_open(port)
    servers.stop()
    assert proc.returncode == 0                 # it left on its own when its stdin closed, not killed
    assert not _port_open(port) and not root.exists()


def test_users_on_disk_are_the_users_of_the_passwd_files(tmp_path):
    (tmp_path / "etc" / "users").mkdir(parents=True)
    (tmp_path / "etc" / "users" / "t1.example.test").write_text(
        "a@t1.example.test:{PLAIN}secret::::::\nbb@t1.example.test:{PLAIN}secret::::::\n")
    users = _UsersOnDisk(tmp_path)
    assert "a@t1.example.test" in users and "bb@t1.example.test" in users
    assert "b@t1.example.test" not in users and "a@t2.example.test" not in users

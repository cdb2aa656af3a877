"""Tests of daemon.mailbox against the real Dovecot on loopback."""

import email
import threading
import time
from dataclasses import replace

import pytest

from daemon.config import ImapConfig
from daemon.mailbox import Mailbox, MailboxError, MailboxGone, check_login


def _cfg(servers, user, **kw) -> ImapConfig:
    return ImapConfig(host=servers.host, port=servers.imap_port, security="none", username=user,
                      password=servers.password, timeout=10, **kw)


def _mail(n: int) -> bytes:
    return ("From: unit1@example.test\r\nSubject: 请示 %d\r\nMessage-ID: <m%d@t>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n妥否，请批示。%d\r\n" % (n, n, n)).encode()


@pytest.fixture
def office(mailservers, maildomain):
    return mailservers.users_for(maildomain, ["office"])["office"]


@pytest.fixture
def box(mailservers, office):
    mb = Mailbox(_cfg(mailservers, office))
    mb.connect()
    yield mb
    mb.close()


def test_connect_creates_the_processed_and_failed_folders(mailservers, office):
    assert "Processed" not in mailservers.folders(office)
    mb = Mailbox(_cfg(mailservers, office, processed_folder="已处理", failed_folder="Failed"))
    mb.connect()
    mb.close()
    folders = mailservers.folders(office)
    assert "已处理" in folders and "Failed" in folders
    mb.connect()  # a second connect finds them and does not fail
    mb.close()


def test_fetch_new_returns_raw_bytes_oldest_first_without_setting_seen(mailservers, office, box):
    raws = [_mail(i) for i in range(5)]
    for raw in raws:
        mailservers.append(office, raw)
    got = box.fetch_new()
    assert [raw for _, raw in got] == raws
    uids = [int(uid) for uid, _ in got]
    assert uids == sorted(uids) and len(set(uids)) == 5
    assert all(r"\Seen" not in flags for flags in mailservers.flags(office))
    assert [raw for _, raw in box.fetch_new(limit=2)] == raws[:2]


def test_fetch_new_on_an_empty_folder(box):
    assert box.fetch_new() == []


def test_move_moves_exactly_those_uids_and_expunges_nothing_else(mailservers, office, box):
    for i in range(4):
        mailservers.append(office, _mail(i))
    uids = [uid for uid, _ in box.fetch_new()]
    # another client flags message 3 \Deleted without expunging it
    conn = mailservers.imap(office)
    conn.select("INBOX")
    assert conn.uid("STORE", uids[3], "+FLAGS", r"(\Deleted)")[0] == "OK"
    conn.logout()

    box.move([uids[0], uids[2]], "Processed")
    moved = mailservers.messages(office, "Processed")
    assert [email.message_from_bytes(r)["Message-ID"] for r in moved] == ["<m0@t>", "<m2@t>"]
    left = mailservers.messages(office, "INBOX")
    assert [email.message_from_bytes(r)["Message-ID"] for r in left] == ["<m1@t>", "<m3@t>"]
    assert [uid for uid, _ in box.fetch_new()] == [uids[1]]  # \Deleted ones are not new mail
    box.move([], "Processed")  # nothing to do is fine


def test_move_without_the_move_extension_still_moves_only_those(mailservers, office, box):
    for i in range(3):
        mailservers.append(office, _mail(i))
    uids = [uid for uid, _ in box.fetch_new()]
    conn = mailservers.imap(office)
    conn.select("INBOX")
    conn.uid("STORE", uids[2], "+FLAGS", r"(\Deleted)")
    conn.logout()
    box.has_move = False
    box.move([uids[0]], "Failed")
    assert len(mailservers.messages(office, "Failed")) == 1
    left = mailservers.messages(office, "INBOX")
    assert [email.message_from_bytes(r)["Message-ID"] for r in left] == ["<m1@t>", "<m2@t>"]


def test_wait_wakes_up_after_an_append_from_another_connection(mailservers, office, box):
    box.fetch_new()
    assert box.has_idle
    with mailservers.append_soon(office, _mail(1)):
        assert box.wait(timeout=30) is True
    assert len(box.fetch_new()) == 1


def test_wait_returns_at_once_when_unseen_mail_is_already_there(mailservers, office, box):
    mailservers.append(office, _mail(1))
    assert box.wait(timeout=30) is True
    box.fetch_new()
    assert box.wait(timeout=0.2) is False  # nothing new since the fetch


def test_wait_by_polling_when_idle_is_off(mailservers, office):
    mb = Mailbox(_cfg(mailservers, office, idle=False, poll_seconds=1))
    mb.connect()
    try:
        timer = threading.Timer(0.3, mailservers.append, (office, _mail(1)))
        timer.start()
        assert mb.wait(timeout=30) is True
        timer.join()
    finally:
        mb.close()


def test_wait_honours_the_stop_event(box):
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    assert box.wait(timeout=60, stop=stop) is False
    assert time.monotonic() - started < 30  # generous: it returns long before the timeout
    assert box.fetch_new() == []  # the connection is still usable after IDLE ended


def test_mailbox_gone_when_dovecot_stops_and_reconnect_after(mailservers, office, box):
    mailservers.append(office, _mail(1))
    box.fetch_new()
    result = {}

    def waiter():
        try:
            result["value"] = box.wait(timeout=60)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            result["error"] = exc

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.5)
    mailservers.stop_imap()
    try:
        t.join(30)
        assert isinstance(result.get("error"), MailboxGone), result
        with pytest.raises(MailboxGone):
            box.connect()
    finally:
        mailservers.start_imap()
    box.connect()
    assert len(box.fetch_new()) == 1


def test_commands_on_a_dead_connection_raise_mailbox_gone(mailservers, office, box):
    mailservers.stop_imap()
    try:
        with pytest.raises(MailboxGone):
            box.fetch_new()
    finally:
        mailservers.start_imap()


def test_bad_password_is_refused_without_showing_it(mailservers, office):
    cfg = replace(_cfg(mailservers, office), password="wrong-Pa55word")
    with pytest.raises(MailboxError) as exc:
        Mailbox(cfg).connect()
    assert "wrong-Pa55word" not in str(exc.value)
    with pytest.raises(MailboxError) as exc:
        check_login(cfg)
    assert "wrong-Pa55word" not in str(exc.value) and office in str(exc.value)


def test_check_login_counts_the_messages(mailservers, office):
    for i in range(3):
        mailservers.append(office, _mail(i))
    assert check_login(_cfg(mailservers, office)) == "ok: 3 messages in INBOX"


def test_nothing_listening_is_mailbox_gone(mailservers, office):
    from mailservers import free_port
    cfg = replace(_cfg(mailservers, office), port=free_port())
    with pytest.raises(MailboxGone):
        check_login(cfg)


@pytest.mark.parametrize("security", ["starttls", "ssl", "tls"])
def test_wrong_security_for_the_server_is_a_clear_error(mailservers, office, security):
    cfg = replace(_cfg(mailservers, office), security=security)
    with pytest.raises(MailboxError) as exc:
        check_login(cfg)
    assert mailservers.password not in str(exc.value)


def test_officeflow_says_who_it_is_after_login(mailservers, office):
    """Coremail (NetEase 163/126) refuses SELECT to a client that sent no RFC 2971 ID."""
    box = Mailbox(_cfg(mailservers, office))
    box.connect()
    box.close()
    from flow import until

    def sent():
        log = (mailservers.root / "log" / "dovecot.log").read_text(errors="replace")
        return [line for line in log.splitlines() if "imap(%s)" % office in line and "ID sent:" in line]
    assert "ID sent: name=officeflow, version=" in until(sent, timeout=5, what="the ID in Dovecot's log")[-1]


def test_a_folder_made_by_another_daemon_meanwhile_is_no_error(mailservers, office):
    """Two daemons starting together both see no Processed folder and both CREATE it; one gets NO."""
    box = Mailbox(_cfg(mailservers, office))
    real, calls = box._folder_names, []

    def stale_first():               # the first listing was made before the other daemon's CREATE
        calls.append(1)
        return real() - {"Processed"} if len(calls) == 1 else real()
    box._folder_names = stale_first
    conn = mailservers.imap(office)
    assert conn.create("Processed")[0] == "OK"
    conn.logout()
    box.connect()
    box.close()
    assert "Processed" in mailservers.folders(office)

"""The end-to-end core against a second real IMAP server: Cyrus IMAP from Debian's packages, with its folders
below INBOX ("INBOX.Processed", separator "."), behind the same SMTP relay as Dovecot."""

from __future__ import annotations

import email
import os
import re
import threading

import pytest
from cyrus import CyrusServers, imapd_binary
from flow import Office, until

from daemon import models, service
from daemon.config import ImapConfig
from daemon.mailbox import Mailbox, _on_server

pytestmark = pytest.mark.mailserver


@pytest.fixture(scope="session")
def cyrus():
    if imapd_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("Cyrus IMAP is missing, but CI is set: scripts/test.sh unpacks it")
        pytest.skip("Cyrus IMAP is missing (cyrus-common, and imapd from cyrus-imapd: scripts/test.sh)")
    servers = CyrusServers().start()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def office(cyrus, tmp_path, monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    yield Office(cyrus, cyrus.new_domain(), tmp_path)
    models.close()


def _mail(n: int) -> bytes:
    return ("From: unit1@example.test\r\nSubject: 请示 %d\r\nMessage-ID: <c%d@t>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n妥否，请批示。%d\r\n" % (n, n, n)).encode()


def _box(servers, user, **kw) -> Mailbox:
    box = Mailbox(ImapConfig(host=servers.host, port=servers.imap_port, security="none", username=user,
                             password=servers.password, timeout=10, **kw))
    box.connect()
    return box


@pytest.mark.parametrize("folder, prefix, on_server", [
    ("Processed", "", "Processed"), ("Processed", "INBOX.", "INBOX.Processed"), ("INBOX", "INBOX.", "INBOX"),
    ("inbox", "INBOX.", "inbox"), ("INBOX.Failed", "INBOX.", "INBOX.Failed"), ("已办", "INBOX.", "INBOX.已办"),
    ("Processed", "INBOX/", "INBOX/Processed"),
])
def test_folder_names_follow_the_servers_personal_namespace(folder, prefix, on_server):
    assert _on_server(folder, prefix) == on_server


def test_a_request_from_receipt_to_result_on_cyrus(office):
    office.send_request()
    office.run_once()
    receipt = office.last("unit1")
    number = re.search(r"【(.+?)】", receipt.subject).group(1)
    assert number == "办请〔2026〕1号"
    assert len(office.servers.messages(office.addr["office"], "Processed")) == 1      # INBOX.Processed
    assert office.servers.messages(office.addr["office"]) == []
    assert "INBOX.Processed" in office.servers.folders(office.addr["office"])
    office.reply("clerk", office.last("clerk", number), "受理\n流程：李副总\n执行：综合科")
    office.run_once()
    office.reply("li", office.last("li", number), "同意，请综合科抓紧办理。")
    office.run_once()
    result = office.last("zonghe", number)
    assert "请综合科抓紧办理" in result.text and "办理结果：同意" in result.text
    assert len(office.servers.messages(office.addr["office"], "Processed")) == 3


def test_the_daemon_waits_with_idle_on_cyrus_and_moves_to_processed(office):
    stop = threading.Event()
    worker = threading.Thread(target=service.run, args=(office.cfg,), kwargs={"stop": stop}, daemon=True)
    worker.start()
    try:
        office.send_request()
        until(lambda: office.inbox("unit1"), what="the receipt")
        until(lambda: office.servers.messages(office.addr["office"], "Processed"), what="the move to Processed")
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive()


def test_idle_wakes_up_on_new_mail(cyrus):
    user = cyrus.users_for(cyrus.new_domain(), ["office"])["office"]
    cyrus.append(user, _mail(0))
    box = _box(cyrus, user)
    try:
        assert box.has_idle and box.has_move and box.has_uidplus
        box.fetch_new()
        with cyrus.append_soon(user, _mail(1)):
            assert box.wait(timeout=30) is True
        assert [raw for _, raw in box.fetch_new()][-1] == _mail(1)
    finally:
        box.close()


def test_without_move_the_copy_and_expunge_touch_only_those(cyrus):
    user = cyrus.users_for(cyrus.new_domain(), ["office"])["office"]
    for i in range(3):
        cyrus.append(user, _mail(i))
    box = _box(cyrus, user)
    try:
        uids = [uid for uid, _ in box.fetch_new()]
        conn = cyrus.imap(user)
        conn.select("INBOX")
        assert conn.uid("STORE", uids[2], "+FLAGS", r"(\Deleted)")[0] == "OK"
        conn.logout()
        box.has_move = False
        box.move([uids[0]], "Failed")
    finally:
        box.close()
    assert [email.message_from_bytes(r)["Message-ID"] for r in cyrus.messages(user, "Failed")] == ["<c0@t>"]
    left = cyrus.messages(user)
    assert [email.message_from_bytes(r)["Message-ID"] for r in left] == ["<c1@t>", "<c2@t>"]


def test_check_config_shows_the_cyrus_layout(office):
    out = office.run_cli("check-config", "-c", str(office.config_path))
    assert out.returncode == 0, out.stderr
    assert ("IMAP server offers IDLE yes, MOVE yes, UIDPLUS yes, folder separator '.', folders below 'INBOX.' "
            "(Processed is 'INBOX.Processed' there)") in out.stdout
    assert "officeflow waits with IDLE, moves with MOVE" in out.stdout

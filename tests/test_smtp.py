"""Tests of daemon.smtp against small aiosmtpd servers of our own and the Dovecot relay."""

import email

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from daemon.config import SmtpConfig
from daemon.smtp import Outgoing, SendResult, SmtpError, check_login, send_batch
from mailservers import HOST, free_port


class Recorder:
    """Accepts everything except recipients named bad* (550) and later* (451)."""

    def __init__(self):
        self.messages = []       # (mail_from, rcpts, data)
        self.drop_at_data = 0    # close the connection at the next N DATA commands

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.partition("@")[0]
        if local.startswith("bad"):
            return "550 5.1.1 <%s> no such user" % address
        if local.startswith("later"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop_at_data:
            self.drop_at_data -= 1
            server.transport.close()
            return "421 4.3.0 going away"
        if b"X-Test-Answer: 452" in envelope.content:
            return "452 4.3.1 insufficient system storage"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK queued"


class CountingController(Controller):
    """An aiosmtpd controller that counts the connections it accepted."""

    connections = 0

    def factory(self):
        self.connections += 1
        return super().factory()


@pytest.fixture
def server():
    handler = Recorder()
    controller = CountingController(handler, hostname=HOST, port=free_port(), decode_data=False)
    controller.start()
    controller.connections = 0  # start() made one connection to see that the port is open
    controller.handler_obj = handler
    yield controller
    controller.stop()


def _cfg(port, **kw) -> SmtpConfig:
    values = dict(host=HOST, port=port, security="none", username=None, password=None,
                  from_addr="集团公司办公室 <office@example.test>", timeout=10)
    values.update(kw)
    return SmtpConfig(**values)


def _msg(n: int, rcpts=("leader1@example.test",)) -> Outgoing:
    data = ("From: office@example.test\r\nTo: %s\r\nSubject: 【办请〔2026〕%d号】请审批\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n请审批。%d\r\n" % (rcpts[0], n, n)).encode()
    return Outgoing(key="k%d" % n, mail_from="office@example.test", rcpts=tuple(rcpts), data=data)


def test_a_batch_of_twenty_goes_over_one_connection(server):
    batch = [_msg(i) for i in range(20)]
    results = send_batch(_cfg(server.port), batch)
    assert results == [SendResult("k%d" % i, True, False, "") for i in range(20)]
    assert server.connections == 1
    got = server.handler_obj.messages
    assert [data for _, _, data in got] == [m.data for m in batch]
    assert all(frm == "office@example.test" for frm, _, _ in got)


def test_a_550_recipient_fails_permanently_and_the_batch_goes_on(server):
    batch = [_msg(0), _msg(1, rcpts=("bad@example.test",)), _msg(2)]
    results = send_batch(_cfg(server.port), batch)
    assert [r.key for r in results] == ["k0", "k1", "k2"]
    assert results[0].ok and results[2].ok
    assert not results[1].ok and not results[1].temporary
    assert "550" in results[1].error and "bad@example.test" in results[1].error
    assert len(server.handler_obj.messages) == 2
    assert server.connections == 1


def test_a_451_recipient_is_a_temporary_failure(server):
    results = send_batch(_cfg(server.port), [_msg(0, rcpts=("later@example.test",)), _msg(1)])
    assert not results[0].ok and results[0].temporary and "451" in results[0].error
    assert results[1].ok


def test_a_4xx_after_data_is_temporary(server):
    msg = _msg(0)
    msg = Outgoing(msg.key, msg.mail_from, msg.rcpts, b"X-Test-Answer: 452\r\n" + msg.data)
    [result] = send_batch(_cfg(server.port), [msg])
    assert not result.ok and result.temporary and "452" in result.error


def test_some_recipients_refused_is_still_sent(server):
    msg = _msg(0, rcpts=("leader1@example.test", "bad2@example.test"))
    [result] = send_batch(_cfg(server.port), [msg])
    assert result.ok and "bad2@example.test" in result.error
    assert server.handler_obj.messages[0][1] == ["leader1@example.test"]


def test_a_dropped_connection_is_reconnected_once(server):
    server.handler_obj.drop_at_data = 1
    results = send_batch(_cfg(server.port), [_msg(i) for i in range(3)])
    assert [r.ok for r in results] == [True, True, True]
    assert server.connections == 2
    assert len(server.handler_obj.messages) == 3


def test_a_second_drop_leaves_the_rest_temporary(server):
    server.handler_obj.drop_at_data = 2
    results = send_batch(_cfg(server.port), [_msg(i) for i in range(3)])
    assert [(r.ok, r.temporary) for r in results] == [(False, True)] * 3
    assert server.handler_obj.messages == []


def test_nobody_listening_makes_every_message_temporary():
    results = send_batch(_cfg(free_port()), [_msg(0), _msg(1)])
    assert [(r.key, r.ok, r.temporary) for r in results] == [("k0", False, True), ("k1", False, True)]
    with pytest.raises(SmtpError):
        check_login(_cfg(free_port()))


def test_empty_batch_sends_nothing():
    assert send_batch(_cfg(free_port()), []) == []


@pytest.fixture
def auth_server():
    def authenticator(server, session, envelope, mechanism, auth_data):
        good = auth_data.login == b"office@example.test" and auth_data.password == b"s3cret-pw"
        return AuthResult(success=good, handled=False)

    handler = Recorder()
    controller = CountingController(handler, hostname=HOST, port=free_port(), decode_data=False,
                                    authenticator=authenticator, auth_require_tls=False)
    controller.start()
    controller.connections = 0
    controller.handler_obj = handler
    yield controller
    controller.stop()


def test_login_when_a_username_is_configured(auth_server):
    cfg = _cfg(auth_server.port, username="office@example.test", password="s3cret-pw")
    assert check_login(cfg).startswith("ok")
    assert send_batch(cfg, [_msg(0)])[0].ok
    assert auth_server.connections == 2
    bad = _cfg(auth_server.port, username="office@example.test", password="wrong-pw")
    with pytest.raises(SmtpError) as exc:
        check_login(bad)
    assert "wrong-pw" not in str(exc.value)
    [result] = send_batch(bad, [_msg(1)])
    assert not result.ok and not result.temporary and "wrong-pw" not in result.error
    assert result.held       # never tried: the mail stays queued until the login works


def test_delivered_through_the_relay_into_dovecot(mailservers, maildomain):
    users = mailservers.users_for(maildomain, ["leader1", "leader2"])
    cfg = _cfg(mailservers.smtp_port)
    batch = [_msg(i, rcpts=(users["leader1"], users["leader2"])) for i in range(5)]
    batch.append(_msg(9, rcpts=("ghost@" + maildomain,)))
    results = send_batch(cfg, batch)
    assert [r.ok for r in results] == [True] * 5 + [False]
    assert not results[-1].temporary
    for user in users.values():
        got = mailservers.wait_for(user, 5)
        assert len(got) == 5
        for raw, msg in zip(got, batch):  # delivered byte for byte, after the relay's trace headers
            assert raw.endswith(msg.data)
            assert email.message_from_bytes(raw)["Delivered-To"] == user


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_wrong_security_for_the_server_fails(server, security):
    cfg = _cfg(server.port, security=security, timeout=5)
    with pytest.raises(SmtpError):
        check_login(cfg)
    [result] = send_batch(cfg, [_msg(0)])
    assert not result.ok and not result.temporary  # a config error: retrying will not help
    assert result.held                              # ... but the mail is not given up
    assert server.handler_obj.messages == []


def test_an_address_that_cannot_be_sent_does_not_spoil_the_next_message():
    from aiosmtpd.controller import Controller
    from mailservers import free_port

    got = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            got.append(envelope.rcpt_tos)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        cfg = SmtpConfig(host="127.0.0.1", port=port, security="none", username=None, password=None,
                         from_addr="office@x.test", timeout=10)
        results = send_batch(cfg, [
            Outgoing("1", "office@x.test", ("张三@x.test",), b"Subject: a\r\n\r\nx\r\n"),
            Outgoing("2", "office@x.test", ("good@x.test",), b"Subject: b\r\n\r\nx\r\n")])
    finally:
        controller.stop()
    assert [(r.ok, r.temporary) for r in results] == [(False, False), (True, False)]
    assert got == [["good@x.test"]]

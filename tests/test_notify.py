"""Notifier speaks sd_notify to a NOTIFY_SOCKET that the test owns; nothing here needs systemd."""

import logging
import os
import socket
import tempfile
import uuid

import pytest

from daemon.notify import Notifier


@pytest.fixture
def notify_socket():
    """A datagram socket in a private temp dir; yields (NOTIFY_SOCKET value, socket)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(2)
        try:
            yield path, sock
        finally:
            sock.close()


@pytest.fixture
def abstract_socket():
    name = f"officeflow-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2)
    try:
        yield "@" + name, sock
    finally:
        sock.close()


def received(sock):
    return sock.recv(4096).decode()


def nothing_waiting(sock):
    sock.settimeout(0.05)
    try:
        sock.recv(4096)
    except (socket.timeout, BlockingIOError):
        return True
    return False


def test_it_sends_ready_watchdog_stopping_to_a_path_socket(notify_socket):
    path, sock = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
    assert n.enabled
    n.ready()
    assert received(sock) == "READY=1"
    n.watchdog()
    assert received(sock) == "WATCHDOG=1"
    n.stopping()
    assert received(sock) == "STOPPING=1"
    n.close()


def test_it_sends_to_an_abstract_socket(abstract_socket):
    name, sock = abstract_socket
    n = Notifier({"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "1000000"})
    n.ready("connected to imap")
    assert received(sock) == "READY=1\nSTATUS=connected to imap"
    n.watchdog()
    assert received(sock) == "WATCHDOG=1"
    n.stopping()
    assert received(sock) == "STOPPING=1"


def test_status_is_kept_on_one_line(notify_socket):
    path, sock = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path})
    n.status("3 pending\nREADY=1")
    assert received(sock) == "STATUS=3 pending READY=1"


@pytest.mark.parametrize("environ, expected", [
    ({"WATCHDOG_USEC": "60000000"}, 30.0),
    ({"WATCHDOG_USEC": "500000"}, 0.25),
    ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
    ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}, None),   # meant for another process
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
    ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "x"}, None),
    ({}, None),
])
def test_it_reads_watchdog_usec(environ, expected):
    n = Notifier({"NOTIFY_SOCKET": "/nonexistent/notify", **environ})
    assert n.watchdog_interval == expected


def test_watchdog_is_rate_limited_to_half_the_interval(notify_socket):
    path, sock = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})  # interval 0.2 s, pings >= 0.1 s apart
    n.watchdog()
    assert received(sock) == "WATCHDOG=1"
    for _ in range(50):
        n.watchdog()
    assert nothing_waiting(sock)
    n._last_ping -= 0.2  # as if 0.2 s had passed
    n.watchdog()
    sock.settimeout(2)
    assert received(sock) == "WATCHDOG=1"


def test_watchdog_is_silent_without_watchdog_usec(notify_socket):
    path, sock = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path})
    n.watchdog()
    assert nothing_waiting(sock)


def test_without_notify_socket_everything_is_a_no_op(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("no socket may be opened")
    monkeypatch.setattr(socket, "socket", forbidden)
    n = Notifier({"WATCHDOG_USEC": "1000000"})
    assert not n.enabled
    assert n.watchdog_interval is None
    n.ready("x")
    n.watchdog()
    n.status("x")
    n.stopping()


def test_a_send_error_is_logged_once_and_never_raised(caplog):
    n = Notifier({"NOTIFY_SOCKET": "/nonexistent/dir/notify", "WATCHDOG_USEC": "1000"})
    with caplog.at_level(logging.WARNING, logger="officeflow.notify"):
        n.ready()
        n.status("still here")
        n.stopping()
    warnings = [r for r in caplog.records if r.name == "officeflow.notify"]
    assert len(warnings) == 1
    assert "cannot notify systemd" in warnings[0].getMessage()

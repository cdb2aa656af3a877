"""systemd readiness and watchdog messages (sd_notify) over NOTIFY_SOCKET; never raises, never blocks the caller."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping

log = logging.getLogger("officeflow.notify")


def _socket_address(value: str) -> str | bytes:
    """NOTIFY_SOCKET as an AF_UNIX address: "@name" is the abstract namespace."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value


def _one_line(text: str) -> str:
    """A status value must not contain a newline: it would start another assignment."""
    return " ".join(text.splitlines())


def _watchdog_seconds(environ: Mapping[str, str]) -> float | None:
    """Half of WATCHDOG_USEC in seconds, or None when no watchdog is meant for this process."""
    usec = environ.get("WATCHDOG_USEC", "").strip()
    if not usec:
        return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not an integer", usec)
        return None
    if value <= 0:
        return None
    pid = environ.get("WATCHDOG_PID", "").strip()
    if pid:
        try:
            if int(pid) != os.getpid():
                return None  # the watchdog belongs to another process (e.g. a wrapper)
        except ValueError:
            log.warning("ignoring WATCHDOG_PID=%r: not an integer", pid)
            return None
    return value / 1_000_000 / 2


class Notifier:
    """Sends sd_notify datagrams; a no-op when NOTIFY_SOCKET is unset.

    watchdog_interval is how often the caller should ping (half of WATCHDOG_USEC),
    or None when systemd expects no pings; watchdog() is cheap and rate-limits
    itself, so a loop may call it on every turn.
    """

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        raw = environ.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = _socket_address(raw) if raw else None
        self.enabled: bool = self._address is not None
        self.watchdog_interval: float | None = _watchdog_seconds(environ) if self.enabled else None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._warned = False
        self._last_ping = float("-inf")

    def ready(self, status: str = "") -> None:
        """Tell systemd the service is up (READY=1), optionally with a status line."""
        self._send("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def watchdog(self) -> None:
        """Ping the watchdog, at most once per watchdog_interval/2; no-op without a watchdog."""
        if self.watchdog_interval is None:
            return
        now = time.monotonic()
        if now - self._last_ping < self.watchdog_interval / 2:
            return
        self._last_ping = now
        self._send("WATCHDOG=1")

    def status(self, text: str) -> None:
        """Set the one-line status shown by `systemctl status`."""
        self._send(f"STATUS={_one_line(text)}")

    def stopping(self) -> None:
        """Tell systemd the service is shutting down (STOPPING=1)."""
        self._send("STOPPING=1")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def _send(self, message: str) -> None:
        if self._address is None:
            return
        data = message.encode("utf-8")
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                    self._sock.setblocking(False)
                self._sock.sendto(data, self._address)
            except OSError as exc:
                if not self._warned:
                    self._warned = True
                    log.warning("cannot notify systemd at %r: %s (further errors are not logged)",
                                self._address, exc)

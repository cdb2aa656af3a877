"""The IMAP edge: fetch raw mail by UID without marking it seen, move it after commit, IDLE; knows nothing of requests."""

from __future__ import annotations

import imaplib
import logging
import re
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError, MailboxLoginError
from imap_tools.imap_utf7 import utf7_encode

from daemon import __version__, tls

log = logging.getLogger("officeflow.imap")

# RFC 2177: re-issue IDLE before 29 minutes; stay well below.
IDLE_SESSION_SECONDS = 25 * 60
# The stop event is looked at this often while waiting.
SLICE_SECONDS = 1.0

_UID_RE = re.compile(rb"UID (\d+)")
_GONE = (imaplib.IMAP4.abort, OSError, EOFError)


class MailboxGone(Exception):
    """The connection is lost (or could not be made); the caller reconnects with backoff."""


class MailboxError(Exception):
    """The server refused something (login, a folder, a command); the message never holds a password."""


def _quote(folder: str) -> str:
    encoded = utf7_encode(folder).decode("ascii")
    return '"%s"' % encoded.replace("\\", "\\\\").replace('"', '\\"')


def _where(cfg) -> str:
    return "%s@%s:%s" % (cfg.username, cfg.host, cfg.port)


def _open(cfg):
    """Connect and log in as cfg says; returns a logged-in imap_tools mailbox (no folder selected)."""
    timeout = getattr(cfg, "timeout", 30)
    security = (cfg.security or "ssl").lower()
    server = "IMAP server %s:%s" % (cfg.host, cfg.port)
    try:
        if security == "ssl":
            mb = MailBox(cfg.host, cfg.port, timeout=timeout, ssl_context=tls.context(cfg.ca_file))
        elif security == "starttls":
            mb = MailBoxStartTls(cfg.host, cfg.port, timeout=timeout, ssl_context=tls.context(cfg.ca_file))
        elif security == "none":
            mb = MailBoxUnencrypted(cfg.host, cfg.port, timeout=timeout)
        else:
            raise MailboxError("imap.security must be ssl, starttls or none, not %r" % cfg.security)
    except ssl.SSLError as exc:
        raise MailboxError(tls.explain(exc, server) or "%s: TLS failed: %s" % (server, exc)) from None
    except imaplib.IMAP4.abort as exc:
        if security == "starttls" and "TLS" in str(exc):  # the server turned STARTTLS down
            raise MailboxError("%s: %s" % (server, exc)) from None
        raise MailboxGone("cannot connect to %s:%s: %s" % (cfg.host, cfg.port, exc)) from None
    except OSError as exc:
        raise MailboxGone("cannot connect to %s:%s: %s" % (cfg.host, cfg.port, exc)) from None
    except (imaplib.IMAP4.error, ImapToolsError, ValueError) as exc:  # e.g. STARTTLS not offered, or on 993
        raise MailboxError("%s: %s" % (server, exc)) from None
    try:
        mb.client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
    if cfg.password is None:
        _logout_quietly(mb)
        raise MailboxError("no IMAP password for %s (set password_env or password_file)" % cfg.username)
    try:
        mb.login(cfg.username, cfg.password, initial_folder=None)
    except (MailboxLoginError, imaplib.IMAP4.error) as exc:
        if isinstance(exc, imaplib.IMAP4.abort):
            raise MailboxGone("connection lost during login to %s: %s" % (_where(cfg), exc)) from None
        _logout_quietly(mb)
        raise MailboxError("IMAP login refused for %s" % _where(cfg)) from None
    except _GONE as exc:
        raise MailboxGone("connection lost during login to %s: %s" % (_where(cfg), exc)) from None
    # imaplib keeps the pre-login CAPABILITY list, which often lacks MOVE and IDLE.
    typ, dat = mb.client.capability()
    if typ == "OK" and dat and dat[-1]:
        mb.client.capabilities = tuple(dat[-1].decode("ascii", "replace").upper().split())
    if "ID" in mb.client.capabilities:
        _identify(mb.client)
    return mb


def _identify(client) -> None:
    """RFC 2971 ID: Coremail (NetEase 163/126, many hosted offices) refuses SELECT with "Unsafe Login" to a
    client that did not say who it is. Nothing depends on the answer."""
    imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))
    try:
        typ, dat = client._simple_command("ID", '("name" "officeflow" "version" "%s")' % __version__)
        client._untagged_response(typ, dat, "ID")
    except _GONE as exc:
        raise MailboxGone("connection lost after login: %s" % exc) from None
    except imaplib.IMAP4.error as exc:
        log.debug("the server did not take ID: %s", exc)


_NAMESPACE = re.compile(rb'^\(\("((?:[^"\\]|\\.)*)"')


def _personal_prefix(client) -> str:
    """The prefix of the user's own folders (RFC 2342): "" on Dovecot, "INBOX." on a Cyrus that keeps folders
    below INBOX. Folder names from the config are taken as written when they start with it."""
    if "NAMESPACE" not in client.capabilities:
        return ""
    try:
        typ, dat = client.namespace()
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error:
        return ""
    m = _NAMESPACE.match(dat[0]) if typ == "OK" and dat and isinstance(dat[0], bytes) else None
    return m.group(1).decode("utf-8", "replace").replace("\\\\", "\\") if m else ""


def _on_server(folder: str, prefix: str) -> str:
    """A configured folder name as this server knows it: "Processed" is "INBOX.Processed" below INBOX."""
    if not prefix or folder.upper() == "INBOX" or folder.upper().startswith(prefix.upper()):
        return folder
    return prefix + folder


def _logout_quietly(mb) -> None:
    try:
        mb.client.logout()
    except Exception:
        pass
    try:
        mb.client.shutdown()
    except Exception:
        pass


def _ok(result, what: str):
    typ, dat = result
    if typ != "OK":
        text = b" ".join(d for d in dat if isinstance(d, bytes)).decode("utf-8", "replace")
        raise MailboxError("%s failed: %s %s" % (what, typ, text))
    return dat


class Mailbox:
    """One IMAP connection to the office mailbox, with cfg.folder selected."""

    def __init__(self, cfg):
        self.cfg = cfg
        self._mb = None
        self._top_uid = 0      # highest UID ever seen in cfg.folder (this connection)
        self._uidvalidity = None
        self.has_idle = False
        self.has_move = False
        self.has_uidplus = False
        self._prefix = ""      # personal namespace prefix (see _on_server)

    # -- connection --------------------------------------------------------

    def connect(self) -> None:
        self.close()
        self._mb = mb = _open(self.cfg)
        caps = mb.client.capabilities
        self.has_idle = "IDLE" in caps
        self.has_move = "MOVE" in caps
        self.has_uidplus = "UIDPLUS" in caps
        try:
            self._prefix = _personal_prefix(mb.client)
            existing = self._folder_names()
            for folder in (self.cfg.processed_folder, self.cfg.failed_folder):
                folder = folder and self._server_name(folder)
                if folder and folder not in existing:
                    answer = mb.client.create(_quote(folder))
                    if answer[0] == "OK":
                        log.info("created folder %s", folder)
                    elif folder not in self._folder_names():    # else another daemon made it just now
                        _ok(answer, "CREATE %s" % folder)
            watched = self._server_name(self.cfg.folder)
            dat = _ok(mb.client.select(_quote(watched)), "SELECT %s" % watched)
            validity = mb.client.untagged_responses.get("UIDVALIDITY", [None])[-1]
        except _GONE as exc:
            self._drop()
            raise MailboxGone("connection lost while opening %s: %s" % (self.cfg.folder, exc)) from None
        except ImapToolsError as exc:
            self.close()
            raise MailboxError("opening %s failed: %s" % (self.cfg.folder, exc)) from None
        except MailboxError:
            self.close()
            raise
        if validity != self._uidvalidity:
            self._top_uid, self._uidvalidity = 0, validity
        log.info("connected to %s, %s has %s messages (idle=%s move=%s)", _where(self.cfg),
                 self.cfg.folder, int(dat[0] or 0), self.has_idle, self.has_move)

    def _server_name(self, folder: str) -> str:
        return _on_server(folder, self._prefix)

    def _folder_names(self) -> set[str]:
        return {f.name for f in self._mb.folder.list()}

    def close(self) -> None:
        mb, self._mb = self._mb, None
        if mb is not None:
            _logout_quietly(mb)

    def _drop(self) -> None:
        """Forget a broken connection without talking to the server."""
        mb, self._mb = self._mb, None
        if mb is not None:
            try:
                mb.client.shutdown()
            except Exception:
                pass

    def _client(self) -> imaplib.IMAP4:
        if self._mb is None:
            raise MailboxGone("not connected")
        return self._mb.client

    def _command(self, what: str, *args):
        """Run client.uid(*args); connection trouble -> MailboxGone, a refusal -> MailboxError."""
        client = self._client()
        try:
            return _ok(client.uid(*args), what)
        except _GONE as exc:
            self._drop()
            raise MailboxGone("connection lost during %s: %s" % (what, exc)) from None
        except imaplib.IMAP4.error as exc:
            raise MailboxError("%s failed: %s" % (what, exc)) from None

    # -- reading -----------------------------------------------------------

    def _sync(self) -> None:
        """NOOP: lets the server announce mail that arrived through other sessions.

        Dovecot (rightly) leaves messages it has not announced yet out of SEARCH results."""
        try:
            _ok(self._client().noop(), "NOOP")
        except _GONE as exc:
            self._drop()
            raise MailboxGone("connection lost during NOOP: %s" % exc) from None

    def _uids(self) -> list[int]:
        self._sync()
        dat = self._command("UID SEARCH", "SEARCH", "UNDELETED")
        uids = sorted(int(u) for u in b" ".join(d for d in dat if d).split())
        if uids:
            self._top_uid = max(self._top_uid, uids[-1])
        return uids

    def fetch_new(self, limit: int = 200) -> list[tuple[str, bytes]]:
        """(uid, raw bytes) of the oldest `limit` messages in cfg.folder; never sets \\Seen."""
        uids = self._uids()[:limit]
        if not uids:
            return []
        dat = self._command("UID FETCH", "FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
        found: dict[int, bytes] = {}
        pending = None
        for item in dat:
            if isinstance(item, tuple):
                m = _UID_RE.search(item[0])
                if m:
                    found[int(m.group(1))] = item[1]
                else:  # the server put UID after the literal
                    pending = item[1]
            elif isinstance(item, bytes) and pending is not None:
                m = _UID_RE.search(item)
                if m:
                    found[int(m.group(1))] = pending
                pending = None
        wanted = set(uids)
        result = [(str(uid), found[uid]) for uid in sorted(found) if uid in wanted]
        if result:
            log.info("fetched %d messages (UID %s..%s) from %s", len(result), result[0][0],
                     result[-1][0], self.cfg.folder)
        return result

    # -- moving ------------------------------------------------------------

    def move(self, uids: list[str], folder: str) -> None:
        """Move exactly these UIDs to `folder`; never expunges anything else."""
        uids = [str(int(u)) for u in uids]
        if not uids:
            return
        try:
            self._move(",".join(uids), folder)
        except MailboxError:
            # Another daemon on the same mailbox may have moved some of them already (Dovecot answers
            # NO [EXPUNGEISSUED]): move what is still here; nothing left means the work is done.
            self._sync()
            dat = self._command("UID SEARCH", "SEARCH", "UID", ",".join(uids))
            left = [u.decode() for u in b" ".join(d for d in dat if d).split()]
            if left:
                self._move(",".join(left), folder)
            log.info("%d of %d messages were already gone from %s", len(uids) - len(left), len(uids),
                     self.cfg.folder)

    def _move(self, seq: str, folder: str) -> None:
        folder = self._server_name(folder)
        target = _quote(folder)
        if self.has_move:
            self._command("UID MOVE %s" % folder, "MOVE", seq, target)
        else:
            self._command("UID COPY %s" % folder, "COPY", seq, target)
            self._command("UID STORE", "STORE", seq, "+FLAGS.SILENT", r"(\Deleted)")
            if self.has_uidplus:
                self._command("UID EXPUNGE", "EXPUNGE", seq)
            # Without UIDPLUS they stay flagged \Deleted: fetch_new skips them, nothing else is touched.
        log.info("moved UID %s to %s", seq, folder)

    # -- waiting -----------------------------------------------------------

    def _new_since_last(self) -> bool:
        """True if cfg.folder holds a message with a UID above the highest one seen so far."""
        before = self._top_uid
        self._sync()
        dat = self._command("UID SEARCH", "SEARCH", "UID", "%d:*" % (before + 1))
        uids = [int(u) for u in b" ".join(d for d in dat if d).split()]
        newer = [u for u in uids if u > before]  # "N:*" always matches the last message
        return bool(newer)

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Block until new mail may be there (True), or timeout / stop (False)."""
        self._client().untagged_responses.clear()
        if self._new_since_last():
            return True
        deadline = time.monotonic() + max(0.0, timeout)
        if self.has_idle and getattr(self.cfg, "idle", True):
            return self._wait_idle(deadline, stop)
        return self._wait_poll(deadline, stop)

    def _wait_poll(self, deadline: float, stop) -> bool:
        every = max(1.0, float(getattr(self.cfg, "poll_seconds", 60)))
        next_check = time.monotonic() + every
        while True:
            now = time.monotonic()
            if stop is not None and stop.is_set():
                return False
            if now >= deadline:
                return False
            if now >= next_check:
                if self._new_since_last():
                    return True
                next_check = now + every
            pause = min(SLICE_SECONDS, deadline - now, max(0.0, next_check - now))
            if stop is not None:
                stop.wait(pause)
            else:
                time.sleep(pause)

    def _wait_idle(self, deadline: float, stop) -> bool:
        while True:
            if stop is not None and stop.is_set():
                return False
            if time.monotonic() >= deadline:
                return False
            session_end = min(deadline, time.monotonic() + IDLE_SESSION_SECONDS)
            try:
                event = self._idle_session(session_end, stop)
            except _GONE as exc:
                self._drop()
                log.warning("connection lost during IDLE: %s", exc)
                raise MailboxGone("connection lost during IDLE: %s" % exc) from None
            except imaplib.IMAP4.error as exc:
                self._drop()
                raise MailboxGone("IDLE failed: %s" % exc) from None
            if event and self._new_since_last():
                return True

    def _idle_session(self, session_end: float, stop) -> bool:
        """One IDLE command; True if the server said something (new mail may be there)."""
        client = self._client()
        idle = self._mb.idle
        idle.start()
        event = False
        try:
            while not (stop is not None and stop.is_set()):
                left = session_end - time.monotonic()
                if left <= 0:
                    break
                if self._buffered(client) or self._readable(client, min(SLICE_SECONDS, left)):
                    event = True
                    break
        finally:
            # DONE, then read (blocking, with the socket timeout) up to the tagged reply:
            # whole lines only, so a response split over TCP segments is no problem.
            client.send(b"DONE\r\n")
            self._mb.consume_until_tagged_response(idle._idle_tag)
            for line in client.untagged_responses.get("BYE", []):
                raise imaplib.IMAP4.abort("server said BYE: %r" % line)
        return event

    @staticmethod
    def _readable(client, seconds: float) -> bool:
        sock = client.sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        ready, _, _ = select.select([sock], [], [], seconds)
        return bool(ready)

    @staticmethod
    def _buffered(client) -> bool:
        """True if imaplib's reader already holds bytes the socket will not signal again."""
        sock = client.sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        old = sock.gettimeout()
        sock.settimeout(0)
        try:
            return bool(client.file.peek(1))
        except (BlockingIOError, ssl.SSLWantReadError, socket.timeout):
            return False
        finally:
            sock.settimeout(old)


@dataclass(frozen=True)
class Survey:
    """What `officeflow check-config` and `officeflow status` learn from one visit to the mailbox."""

    messages: int                      # in cfg.folder, not yet handled
    oldest: datetime | None            # INTERNALDATE of the oldest of them
    failed: int                        # in cfg.failed_folder (0 when it does not exist yet)
    capabilities: tuple[str, ...]
    separator: str                     # the hierarchy separator ("/", "." …; "" for a flat server)
    prefix: str = ""                   # where the user's own folders live ("INBOX." on many Cyrus servers)

    def mode(self, cfg) -> str:
        """How officeflow will work with this server, in the words of Mailbox.wait and Mailbox.move."""
        caps = set(self.capabilities)
        if "IDLE" in caps and getattr(cfg, "idle", True):
            wait = "waits with IDLE"
        else:
            wait = "polls every %ss%s" % (getattr(cfg, "poll_seconds", 60),
                                          "" if "IDLE" in caps else " (no IDLE)")
        if "MOVE" in caps:
            move = "moves with MOVE"
        elif "UIDPLUS" in caps:
            move = "moves with COPY + UID EXPUNGE (no MOVE)"
        else:
            move = "copies and flags \\Deleted, never expunges (no MOVE, no UIDPLUS)"
        return "%s, %s" % (wait, move)

    def offers(self) -> str:
        caps = set(self.capabilities)
        return "IDLE %s, MOVE %s, UIDPLUS %s, folder separator %r%s" % (
            *("yes" if c in caps else "no" for c in ("IDLE", "MOVE", "UIDPLUS")), self.separator,
            ", folders below %r (Processed is %r there)" % (self.prefix, _on_server("Processed", self.prefix))
            if self.prefix else "")


_LIST_SEP = re.compile(rb'^\([^)]*\) (?:"((?:[^"\\]|\\.)*)"|NIL)')


def survey(cfg) -> Survey:
    """Log in, look at cfg.folder (read-only) and cfg.failed_folder, log out; changes nothing."""
    mb = _open(cfg)
    client = mb.client
    try:
        try:
            prefix = _personal_prefix(client)
            dat = _ok(client.select(_quote(_on_server(cfg.folder, prefix)), readonly=True), "SELECT %s" % cfg.folder)
            count = int(dat[0] or 0)
            oldest = None
            uids = b" ".join(d for d in _ok(client.uid("SEARCH", "UNDELETED"), "UID SEARCH") if d).split()
            if uids:
                dat = _ok(client.uid("FETCH", uids[0].decode(), "(INTERNALDATE)"), "UID FETCH")
                stamp = imaplib.Internaldate2tuple(dat[0]) if dat and isinstance(dat[0], bytes) else None
                if stamp:
                    oldest = datetime.fromtimestamp(time.mktime(stamp), timezone.utc)
            typ, dat = client.status(_quote(_on_server(cfg.failed_folder, prefix)), "(MESSAGES)")
            m = re.search(rb"MESSAGES (\d+)", dat[0] or b"") if typ == "OK" and dat else None
            typ, dat = client.list('""', '""')
            m_sep = _LIST_SEP.match(dat[0]) if typ == "OK" and dat and isinstance(dat[0], bytes) else None
        except _GONE as exc:
            raise MailboxGone("connection lost while looking at %s: %s" % (cfg.folder, exc)) from None
        except imaplib.IMAP4.error as exc:
            raise MailboxError("looking at %s failed: %s" % (cfg.folder, exc)) from None
        separator = (m_sep.group(1) or b"").decode("ascii", "replace").replace("\\\\", "\\") if m_sep else ""
        return Survey(messages=count, oldest=oldest, failed=int(m.group(1)) if m else 0,
                      capabilities=tuple(client.capabilities), separator=separator, prefix=prefix)
    finally:
        _logout_quietly(mb)


def check_login(cfg) -> str:
    """For `officeflow check-config`: log in, look at cfg.folder, log out."""
    return "ok: %d messages in %s" % (survey(cfg).messages, cfg.folder)

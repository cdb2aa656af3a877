"""Real mail servers on loopback for tests: a private Dovecot (IMAP + LMTP) and an SMTP relay; never used by the daemon.

Run as a script (`mailservers.py relay ROOT LMTP_PORT`) it is the relay alone, for MailServers(relay_process=True).
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import itertools
import os
import pwd
import grp
import re
import select
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from imap_tools.imap_utf7 import utf7_decode, utf7_encode

HOST = "127.0.0.1"
PASSWORD = "secret"
BASE_DOMAIN = "example.test"

_CONF = """\
instance_name = {instance}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/log/dovecot.log
info_log_path = {root}/log/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal_user}
default_login_user = {login_user}
mail_uid = {mail_user}
mail_gid = {mail_group}
first_valid_uid = {first_valid_uid}
first_valid_gid = {first_valid_gid}
mail_location = maildir:~/Maildir
mailbox_list_index = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {root}/etc/users/%Ld
}}
userdb {{
  driver = passwd-file
  args = username_format=%Lu {root}/etc/users/%Ld
  default_fields = home={root}/mail/%Ld/%Ln
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    auto = subscribe
    special_use = \\Drafts
  }}
  mailbox Sent {{
    auto = subscribe
    special_use = \\Sent
  }}
  mailbox Trash {{
    auto = subscribe
    special_use = \\Trash
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
{login_chroot}}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
# No growing login delays after the failed logins some tests make on purpose.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
{anvil_chroot}}}
{rootless_services}
protocol imap {{
  mail_max_userip_connections = 200
  imap_id_log = name version
}}
imap_idle_notify_interval = 2 mins
protocol lmtp {{
  postmaster_address = postmaster@example.test
}}
"""

# Without root, Dovecot cannot chroot or switch users: every service runs as us.
_ROOTLESS_SERVICES = """\
default_internal_group = {group}
service auth {
  user = $default_internal_user
}
service auth-worker {
  user = $default_internal_user
}
"""

# TLS: the server certificate for both IMAP listeners (STARTTLS on imap, implicit on imaps). Dovecot
# still lets loopback log in without TLS (it counts as secured): tests look at its log to see TLS was used.
_SSL = """\
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
"""

_counter = itertools.count(1)


def dovecot_binary() -> str | None:
    """Path of the dovecot binary (it lives in sbin, often outside a normal user's PATH)."""
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/local/sbin:/usr/sbin:/sbin")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def _accepted_domain(domain: str) -> bool:
    domain = domain.lower()
    return domain == BASE_DOMAIN or domain.endswith("." + BASE_DOMAIN)


class _UsersOnDisk:
    """The users of the passwd-files MailServers writes, read at each look-up: how a relay in a process of its
    own knows the users added after it started."""

    def __init__(self, root: Path):
        self.root = root

    def __contains__(self, address: str) -> bool:
        domain = address.rpartition("@")[2]
        if "/" in domain or domain.startswith("."):
            return False
        try:
            text = (self.root / "etc" / "users" / domain).read_text()
        except OSError:
            return False
        return any(line.partition(":")[0] == address for line in text.splitlines())


class _Relay:
    """aiosmtpd handler: accepts example.test recipients that exist, delivers each by LMTP."""

    def __init__(self, servers: "MailServers"):
        self.servers = servers
        self.local = threading.local()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rpartition("@")[2]
        if not _accepted_domain(domain):
            return "550 5.1.1 not relaying"
        if address.lower() not in self.servers.users:
            return "550 5.1.1 <%s> User doesn't exist" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        loop = asyncio.get_running_loop()
        data = envelope.original_content or envelope.content
        failures = []
        for rcpt in envelope.rcpt_tos:
            err = await loop.run_in_executor(None, self._deliver, envelope.mail_from, rcpt, data)
            if err:
                failures.append(err)
        if failures:
            return failures[0]
        return "250 OK delivered"

    def _lmtp(self, fresh: bool = False) -> smtplib.LMTP:
        conn = getattr(self.local, "conn", None)
        if conn is not None and fresh:
            try:
                conn.close()
            except Exception:
                pass
            conn = None
        if conn is None:
            conn = smtplib.LMTP(HOST, self.servers.lmtp_port, timeout=30)
            conn.ehlo()
            self.local.conn = conn
        return conn

    def _deliver(self, mail_from: str, rcpt: str, data: bytes) -> str | None:
        """One LMTP transaction per recipient; returns an SMTP reply line on failure."""
        for attempt in (0, 1):
            try:
                self._lmtp(fresh=attempt == 1).sendmail(mail_from or "", [rcpt], data)
                return None
            except smtplib.SMTPRecipientsRefused as exc:
                code, msg = exc.recipients[rcpt]
                return "%d %s" % (code, msg.decode(errors="replace"))
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code == 421 and attempt == 0:  # a stale connection to a stopped Dovecot
                    continue
                return "%d %s" % (exc.smtp_code, exc.smtp_error.decode(errors="replace"))
            except (OSError, smtplib.SMTPException):
                self.local.conn = None
                if attempt == 1:
                    return "451 4.4.1 LMTP delivery failed"
        return "451 4.4.1 LMTP delivery failed"


class MailServers:
    """A private Dovecot (IMAP + LMTP, maildir) plus an SMTP relay into it, all on 127.0.0.1."""

    host = HOST
    password = PASSWORD
    folder_prefix = ""      # where the server keeps a user's folders ("INBOX." on a Cyrus without altnamespace)

    def __init__(self, tls=None, ca: Path | None = None, relay_process: bool = False) -> None:
        """tls: a certs.ServerCert for a TLS-only pair of servers (ca: the file that trusts it); None: clear text.
        relay_process: the relay runs in a process of its own, as a real mail server does, instead of a thread
        of this one (clear text only); benchmarks want it, so that the relay's CPU does not take turns with
        the code measured in this process."""
        self.tls, self.ca = tls, ca
        self.relay_process = relay_process
        self._relay_proc: subprocess.Popen | None = None
        self.root: Path | None = None
        self.imap_port = 0      # clear text, or STARTTLS when tls
        self.imaps_port = 0     # implicit TLS (only when tls)
        self.lmtp_port = 0
        self.smtp_port = 0      # clear text, or STARTTLS (required) when tls
        self.smtps_port = 0     # implicit TLS (only when tls)
        self._controllers: list[Controller] = []
        self.users: set[str] = set()
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> "MailServers":
        shm = Path("/dev/shm")
        base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        self.root = Path(tempfile.mkdtemp(prefix="ofdc-", dir=base))
        os.chmod(self.root, 0o755)
        for sub in ("run", "state", "log", "etc", "etc/users", "mail"):
            (self.root / sub).mkdir()
        for attempt in range(3):
            self.imap_port, self.lmtp_port = free_port(), free_port()
            self.imaps_port = free_port() if self.tls else 0
            self._write_conf()
            try:
                self._start_dovecot()
                break
            except RuntimeError:
                if attempt == 2:
                    self.stop()
                    raise
        try:
            self._start_relay()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_relay(self) -> None:
        if self.relay_process:
            self._start_relay_process()
            return
        if self.tls is None:
            self.smtp_port = self._controller_on(lambda port: Controller(
                _Relay(self), hostname=HOST, port=port, decode_data=False))
            return
        self.smtp_port = self._controller_on(lambda port: Controller(
            _Relay(self), hostname=HOST, port=port, decode_data=False,
            tls_context=self.server_context(), require_starttls=True))
        self.smtps_port = self._controller_on(lambda port: Controller(
            _Relay(self), hostname=HOST, port=port, decode_data=False, ssl_context=self.server_context()))

    def _start_relay_process(self) -> None:
        """The same relay in a child process (this file run as a script); it says its port on stdout and
        stops when its stdin closes, so it goes with this process however this one ends."""
        if self.tls is not None:
            raise ValueError("the relay runs in a process of its own only in clear text")
        with open(self.root / "log" / "relay.log", "ab") as log:
            self._relay_proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "relay", str(self.root), str(self.lmtp_port)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
        ready, _, _ = select.select([self._relay_proc.stdout], [], [], 15)
        line = self._relay_proc.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            raise RuntimeError("the relay did not start:\n%s" % self.log_tail())
        self.smtp_port = int(line)

    def _stop_relay_process(self) -> None:
        proc, self._relay_proc = self._relay_proc, None
        if proc is None:
            return
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()

    def _controller_on(self, make) -> int:
        # Controller probes its own port after start, so it needs a concrete one.
        for attempt in range(3):
            port = free_port()
            controller = make(port)
            try:
                controller.start()
            except (OSError, RuntimeError):
                if attempt == 2:
                    raise
                continue
            self._controllers.append(controller)
            return port

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.tls.cert), str(self.tls.key))
        return ctx

    def client_context(self) -> ssl.SSLContext | None:
        """The TLS of the tests' own mail clients: they only look at the mail, whatever the certificate
        (some servers here carry expired or foreign certificates on purpose)."""
        if not self.tls:
            return None
        ctx = ssl.create_default_context(cafile=str(self.ca))
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def stop(self) -> None:
        while self._controllers:
            self._controllers.pop().stop()
        self._stop_relay_process()
        self.stop_imap()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def stop_imap(self) -> None:
        """Take Dovecot away (IMAP and LMTP); the mail stays on disk."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # leftover children
        except (ProcessLookupError, PermissionError):
            pass
        if proc.poll() is None:
            proc.wait(5)

    def start_imap(self) -> None:
        """Bring Dovecot back on the same ports with the same mail."""
        if self._proc is None:
            self._start_dovecot()

    _logs = ("stderr.log", "dovecot.log", "relay.log")

    def _server_command(self) -> list[str]:
        return [dovecot_binary() or "dovecot", "-F", "-c", str(self.root / "etc" / "dovecot.conf")]

    def _start_dovecot(self) -> None:
        self._proc = subprocess.Popen(
            self._server_command(),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.root / "log" / "stderr.log", "ab"),
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if all(_port_open(p) for p in (self.imap_port, self.lmtp_port, self.imaps_port) if p):
                return
            time.sleep(0.02)
        log = self.log_tail()
        self.stop_imap()
        raise RuntimeError("%s did not start:\n%s" % (self._server_command()[0], log))

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for name in self._logs:
            path = self.root / "log" / name if self.root else None
            if path and path.exists():
                out += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out)

    def _write_conf(self) -> None:
        root = str(self.root)
        if os.geteuid() == 0:
            mail_uid = pwd.getpwnam("nobody").pw_uid
            mail_group = grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
            os.chown(self.root / "mail", mail_uid, pwd.getpwnam("nobody").pw_gid)
            names = dict(internal_user="dovecot", login_user="dovenull",
                         mail_user="nobody", mail_group=mail_group,
                         first_valid_uid=min(500, mail_uid), first_valid_gid=1,
                         login_chroot="", anvil_chroot="", rootless_services="")
        else:
            me = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
            names = dict(internal_user=me, login_user=me, mail_user=me, mail_group=group,
                         first_valid_uid=min(500, os.geteuid()),
                         first_valid_gid=min(1, os.getegid()) or 0,
                         login_chroot="  chroot =\n", anvil_chroot="  chroot =\n",
                         rootless_services=_ROOTLESS_SERVICES.replace("{group}", group))
        ssl_lines = _SSL.format(cert=self.tls.cert, key=self.tls.key) if self.tls else "ssl = no\n"
        text = _CONF.format(instance="ofdc-%d-%s" % (os.getpid(), self.root.name),
                            root=root, imap_port=self.imap_port, lmtp_port=self.lmtp_port,
                            imaps_port=self.imaps_port, ssl=ssl_lines, **names)
        (self.root / "etc" / "dovecot.conf").write_text(text)

    # -- users -------------------------------------------------------------

    def _write_users(self, domain: str) -> bool:
        """Rewrite one domain's passwd-file; True if Dovecot may have read an older version."""
        path = self.root / "etc" / "users" / domain
        existed = path.exists()
        users = sorted(u for u in self.users if u.rpartition("@")[2] == domain)
        tmp = path.with_name(domain + ".tmp")
        tmp.write_text("".join("%s:{PLAIN}%s::::::\n" % (u, PASSWORD) for u in users))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        return existed

    def add_users(self, addresses) -> None:
        with self._lock:
            new = {a.lower() for a in addresses} - self.users
            if not new:
                return
            for a in new:
                local, _, domain = a.partition("@")
                if not local or not _accepted_domain(domain):
                    raise ValueError("test users live under %s: %r" % (BASE_DOMAIN, a))
            self.users |= new
            rewritten = [self._write_users(d) for d in sorted({a.rpartition("@")[2] for a in new})]
        if any(rewritten):
            # Dovecot stats a passwd-file at most once per second: a file it may already have
            # read this second is picked up only from the next second on.
            time.sleep(1.05 - time.time() % 1)

    def new_domain(self) -> str:
        """A fresh domain (one passwd-file each, so adding its first users needs no wait)."""
        return "t%d.%s" % (next(_counter), BASE_DOMAIN)

    def users_for(self, domain: str, localparts) -> dict[str, str]:
        addrs = {lp: "%s@%s" % (lp, domain) for lp in localparts}
        self.add_users(addrs.values())
        return addrs

    # -- mail --------------------------------------------------------------

    def on_server(self, folder: str) -> str:
        if not self.folder_prefix or folder.upper() == "INBOX" or folder.startswith(self.folder_prefix):
            return folder
        return self.folder_prefix + folder

    def send(self, raw: bytes, rcpts: list[str], mail_from: str) -> dict:
        """Submit through the relay like a unit's mail client; returns smtplib's refused dict."""
        if self.tls:
            with smtplib.SMTP_SSL(HOST, self.smtps_port, timeout=30, context=self.client_context()) as s:
                return s.sendmail(mail_from, list(rcpts), raw)
        with smtplib.SMTP(HOST, self.smtp_port, timeout=30) as s:
            return s.sendmail(mail_from, list(rcpts), raw)

    def imap(self, user: str) -> imaplib.IMAP4:
        """A logged-in imaplib connection for `user`; the caller logs out."""
        if self.tls:
            conn = imaplib.IMAP4_SSL(HOST, self.imaps_port, ssl_context=self.client_context(), timeout=30)
        else:
            conn = imaplib.IMAP4(HOST, self.imap_port, timeout=30)
        conn.login(user, PASSWORD)
        return conn

    def append(self, user: str, raw: bytes, folder: str = "INBOX", flags: str | None = None) -> None:
        conn = self.imap(user)
        try:
            typ, dat = conn.append(_quote(self.on_server(folder)), flags, None, raw)
            if typ != "OK":
                raise RuntimeError("APPEND failed: %r" % dat)
        finally:
            conn.logout()

    @contextlib.contextmanager
    def append_soon(self, user: str, raw: bytes, after: float = 0.5):
        """Append `raw` from another connection `after` seconds into the with-block (to wake an IDLE)."""
        timer = threading.Timer(after, self.append, (user, raw))
        timer.start()
        try:
            yield
        finally:
            timer.join()

    def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Raw messages in UID order, read without setting \\Seen; [] if the folder is missing."""
        conn = self.imap(user)
        try:
            typ, _ = conn.select(_quote(self.on_server(folder)), readonly=True)
            if typ != "OK":
                return []
            typ, dat = conn.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
            found = []
            for item in dat:
                if isinstance(item, tuple):
                    m = re.search(rb"UID (\d+)", item[0])
                    found.append((int(m.group(1)), item[1]))
            return [raw for _, raw in sorted(found)]
        finally:
            conn.logout()

    def flags(self, user: str, folder: str = "INBOX") -> list[set[str]]:
        """The flags of each message, in UID order."""
        conn = self.imap(user)
        try:
            typ, _ = conn.select(_quote(self.on_server(folder)), readonly=True)
            if typ != "OK":
                return []
            typ, dat = conn.uid("FETCH", "1:*", "(UID FLAGS)")
            found = []
            for item in dat:
                if isinstance(item, bytes) and b"UID" in item:
                    uid = int(re.search(rb"UID (\d+)", item).group(1))
                    fl = re.search(rb"FLAGS \(([^)]*)\)", item).group(1).decode().split()
                    found.append((uid, set(fl)))
            return [f for _, f in sorted(found)]
        finally:
            conn.logout()

    def wait_for(self, user: str, count: int, folder: str = "INBOX", timeout: float = 15.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages(user, folder)
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError("%s/%s has %d messages, expected %d within %.0fs"
                                     % (user, folder, len(got), count, timeout))
            time.sleep(0.05)

    def folders(self, user: str) -> list[str]:
        conn = self.imap(user)
        try:
            typ, dat = conn.list()
            names = []
            for line in dat:
                m = re.match(rb'\((?P<flags>[^)]*)\) (?P<sep>"[^"]*"|NIL) (?P<name>.+)$', line)
                name = m.group("name").decode()
                if name.startswith('"') and name.endswith('"'):
                    name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                names.append(utf7_decode(name.encode("ascii")))
            return sorted(names)
        finally:
            conn.logout()


def _serve_relay(root: str, lmtp_port: str) -> None:
    """The relay alone in this process, delivering into the LMTP port of the servers whose files are under
    root: prints its SMTP port, serves until stdin closes."""
    servers = MailServers()
    servers.root, servers.lmtp_port, servers.users = Path(root), int(lmtp_port), _UsersOnDisk(Path(root))
    servers._start_relay()
    print(servers.smtp_port, flush=True)
    try:
        sys.stdin.buffer.read()
    finally:
        while servers._controllers:         # not servers.stop(): the files belong to the process that started us
            servers._controllers.pop().stop()


def _quote(folder: str) -> str:
    """A folder name as an IMAP quoted string, in modified UTF-7."""
    folder = utf7_encode(folder).decode("ascii")
    return '"%s"' % folder.replace("\\", "\\\\").replace('"', '\\"')


if __name__ == "__main__":
    if sys.argv[1:2] == ["relay"] and len(sys.argv) == 4:
        _serve_relay(*sys.argv[2:])
    else:
        sys.exit("usage: mailservers.py relay ROOT LMTP_PORT")

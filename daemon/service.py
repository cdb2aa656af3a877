"""The main loop: fetch and process mail, send the outbox, run the periodic duties, wait with IDLE; stop on SIGTERM,
read the config again on SIGHUP. One process at a time on a SQLite database.

Signal handlers only set an Event; every duty is wrapped so that an exception is logged and the loop lives.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import gc
import logging
import os
import signal
import threading
import time as _time
from pathlib import Path

import peewee as pw
import schedule

from daemon import chase, health, intake, models, outbox
from daemon.app import App
from daemon.config import Config
from daemon.mailbox import Mailbox, MailboxError, MailboxGone
from daemon.notify import Notifier

log = logging.getLogger("officeflow.service")

BACKOFF = (1, 2, 5, 10, 30, 60)
MOVE_LOCK = 0x6F666D6F7665   # "ofmove": the advisory lock of moving mail out of the inbox, on PostgreSQL
BATCH = 10          # mails fetched at once: bounded memory and time (the watchdog), the inbox tidied often


def process_inbox(app: App, mailbox: Mailbox, notifier: Notifier | None = None,
                  stop: threading.Event | None = None) -> int:
    """Fetch in bulk, process each mail in its own transaction, move it only after the commit is on disk.

    The watchdog is fed after every mail (a backlog of slow attachments must not look like a hang), and a
    stop request is honoured between mails: what is done is sent and moved, the rest stays for next time."""
    total = 0
    cfg = app.cfg.imap
    with Sender(app, notifier) as sender:
        while True:
            batch = mailbox.fetch_new(limit=BATCH)
            if not batch:
                break
            # RETRY: the database refused the mail's data this time; it stays and is tried again (a bounded
            # number of times, counted by intake), so the mails after it are not held up
            done: dict[str, list[str]] = {intake.PROCESSED: [], intake.FAILED: [], intake.RETRY: []}
            for uid, raw in batch:
                done[intake.handle(app, raw)].append(uid)
                if notifier is not None:
                    notifier.watchdog()
                if stop is not None and stop.is_set():
                    break
            # what the batch queued is committed, and now on disk: it goes out while the next batch is taken
            # in. The inbox is tidied at once; a crash before the mail has gone leaves it queued, and the next
            # start sends it
            models.sync()
            sender.kick()
            # daemons sharing the mailbox take in the same mail, and each moves what it took in: one at a time,
            # for a MOVE is a copy and an expunge, and two at once leave two copies; the second one finds the
            # mail gone (Mailbox.move)
            with models.one_daemon_at_a_time(MOVE_LOCK):
                if done[intake.PROCESSED]:
                    mailbox.move(done[intake.PROCESSED], cfg.processed_folder)
                if done[intake.FAILED]:
                    mailbox.move(done[intake.FAILED], cfg.failed_folder)
            total += len(done[intake.PROCESSED]) + len(done[intake.FAILED])
            if len(batch) < BATCH or (stop is not None and stop.is_set()):
                break
        sender.drain()
    return total


def flush(app: App, notifier: Notifier | None = None) -> int:
    sent = 0
    while True:
        n = outbox.flush(app.cfg, limit=50)
        sent += n
        if notifier is not None:
            notifier.watchdog()
        if n == 0:
            return sent


class Sender:
    """Sends the outbox from a thread of its own while the main thread takes in the next batch of mail.

    Taking mail in is officeflow's own work (parsing, checking, registering, composing); sending is mostly
    waiting for the SMTP server and, behind it, the mailbox server's delivery. One after the other, a backlog
    costs the sum of both; side by side, about the larger. The thread runs `flush` as the main thread would,
    on a database connection of its own: every row is claimed before it goes and what the server said is
    written down before the next one goes (outbox.flush), so a kill -9 re-sends at most the message in flight,
    as before. `kick` (after a batch is committed and on disk) has it send what is due; `drain` waits until it
    has, re-raising what went wrong in it (a database gone), so a pass ends with its mail sent, as when sending
    ran inline.

    On SQLite both threads write to one file: transactions begin IMMEDIATE (models.connect), so a writer
    waits for the other instead of failing on a stale snapshot. A database in memory is one per
    connection: there the sending stays on the caller's thread."""

    def __init__(self, app: App, notifier: Notifier | None = None):
        self.app = app
        self.notifier = notifier
        self.inline = models.in_memory()
        self._cond = threading.Condition()
        self._asked = 0         # kicks so far
        self._done = 0          # the last kick whose mail has been sent (or tried)
        self._closing = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def kick(self) -> None:
        """Send what is due now, in the background."""
        if self.inline:
            flush(self.app, self.notifier)
            return
        with self._cond:
            self._asked += 1
            self._cond.notify_all()
        if self._thread is None:
            one_malloc_arena()
            self._thread = threading.Thread(target=self._run, name="officeflow-sender", daemon=True)
            self._thread.start()

    def drain(self) -> None:
        """Wait until everything due at the last kick has been sent or tried; raise what broke the thread."""
        if self._thread is None:
            return
        with self._cond:
            while self._done < self._asked and self._error is None and self._thread.is_alive():
                self._cond.wait(1.0)
                if self.notifier is not None:
                    self.notifier.watchdog()     # sending a large batch must not look like a hang
            error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        """Stop the thread after the work it has in hand; its database connection is closed."""
        if self._thread is None:
            return
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        while self._thread.is_alive():
            self._thread.join(1.0)
            if self.notifier is not None:
                self.notifier.watchdog()     # the work in hand may be a large batch
        self._thread = None

    def _run(self) -> None:
        try:
            models.small_cache()        # it reads each row it sends once
            while True:
                with self._cond:
                    while self._done == self._asked and not self._closing:
                        self._cond.wait()
                    if self._done == self._asked:
                        return
                    asked = self._asked
                flush(self.app)
                with self._cond:
                    self._done = asked
                    self._cond.notify_all()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread, which backs off
            with self._cond:
                self._error = e
                self._done = self._asked
                self._cond.notify_all()
        finally:
            models.close()              # this thread's connection; the main thread's stays open


def _periodic(app: App) -> int:
    """Reminders, digests, the weekly summary, then the outbox; returns the mails sent."""
    chase.run_all(app)
    return flush(app)


def _libc(name: str):
    """A function of glibc, or None where there is none (musl, other systems)."""
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


_malloc_trim = _libc("malloc_trim")
_mallopt = _libc("mallopt")
_M_ARENA_MAX = -8


def one_malloc_arena() -> None:
    """glibc gives a thread that allocates an arena of its own and keeps what the thread freed there, where
    tidy_memory does not get it all back: a sender thread a pass left a daemon several MB larger after a week.
    The threads of officeflow take turns on the interpreter lock anyway; one arena costs them nothing."""
    if _mallopt is not None:
        _mallopt(_M_ARENA_MAX, 1)


def tidy_memory() -> None:
    """Give back the memory of the work just done before waiting for more.

    A pass leaves reference cycles (peewee rows and queries, parsed mail, template contexts) that the
    collector's oldest generation reaches only rarely, and glibc keeps freed pages for the next allocation:
    after a digest of thousands of open requests a daemon would otherwise stay at the pass's peak for good.
    Called only after a pass that handled or sent mail, so an idle daemon spends nothing on it."""
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)


class AlreadyRunning(Exception):
    """Another officeflow holds the SQLite database; str() says which process and what to do."""


@contextlib.contextmanager
def _sole_user(url: str):
    """One officeflow at a time on a SQLite file: an exclusive lock on FILE.lock beside it, for as long as
    the process runs. The kernel drops it when the process ends, even by kill -9. PostgreSQL needs none."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        yield
        return
    path = Path(url[len("sqlite:///"):] + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
            raise AlreadyRunning(f"another officeflow (pid {holder}) is using {path.with_suffix('')}; "
                                 "run one at a time on SQLite (stop the other first), or move the database "
                                 "to PostgreSQL for several daemons") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)        # closing drops the lock


def run(cfg: Config, *, once: bool = False, stop: threading.Event | None = None) -> int:
    """Run the daemon; with once=True do all work due now and return 0. Raises AlreadyRunning when another
    officeflow uses the same SQLite database."""
    with _sole_user(cfg.database.url):
        return _run(cfg, once, stop or threading.Event())


class _Either:
    """Looks like an Event to Mailbox.wait and _sleep: set when any of `events` is (stop, or reload)."""

    def __init__(self, *events: threading.Event):
        self.events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)

    def wait(self, timeout: float) -> bool:
        end = _time.monotonic() + timeout
        while not self.is_set() and _time.monotonic() < end:
            self.events[0].wait(min(0.2, max(0.0, end - _time.monotonic())))
        return self.is_set()


def _reloaded(cfg: Config) -> Config | None:
    """The config file read again (SIGHUP), or None when it cannot be used: the daemon goes on as it was."""
    from daemon.config import ConfigError, load_config
    try:
        new = load_config(cfg.path)
    except ConfigError as e:
        log.error("- reload refused, going on with the config as it was: %s", e)
        return None
    for key, old, now in (("database.url", cfg.database.url, new.database.url),
                          ("archive.path", cfg.archive.path, new.archive.path)):
        if old != now:
            log.error("- reload refused: %s changed; restart officeflow (systemctl restart officeflow) to use "
                      "it, going on with the config as it was", key)
            return None
    log.info("- config reloaded from %s", cfg.path)
    return new


def _run(cfg: Config, once: bool, stop: threading.Event) -> int:
    notifier = Notifier()
    models.connect(cfg.database.url)
    app = App(cfg)
    mailbox = Mailbox(cfg.imap)
    if once:
        try:
            mailbox.connect()
            process_inbox(app, mailbox)
            health.beat(health.IMAP_CONTACT)
            _periodic(app)
            flush(app)
        finally:
            mailbox.close()
            models.close()
        return 0

    # what is loaded by now (modules, the config, the calendar) lives as long as the daemon: the collector need
    # not walk it again every time tidy_memory runs
    gc.freeze()
    reload = threading.Event()
    wake = _Either(stop, reload)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        signal.signal(signal.SIGHUP, lambda *_: reload.set())
    scheduler = schedule.Scheduler()
    sent = 0

    def periodic() -> None:
        nonlocal sent
        sent += _guarded(_periodic, app) or 0
    scheduler.every(30).seconds.do(periodic)   # reminders, digests, the outbox (retries)
    failures = 0
    ready = False
    log.info("- officeflow starting for %s (%s)", cfg.office.address, cfg.imap.host)
    try:
        while not stop.is_set():
            if reload.is_set():
                reload.clear()
                notifier.status("reloading the config")
                new = _reloaded(cfg)
                if new is not None:
                    mailbox.close()
                    cfg, app, mailbox = new, App(new), Mailbox(new.imap)
                notifier.ready(f"watching {cfg.imap.folder} of {cfg.imap.username}")
            try:
                mailbox.connect()
                if not ready:
                    notifier.ready(f"watching {cfg.imap.folder} of {cfg.imap.username}")
                    ready = True
                    log.info("- connected, watching %s", cfg.imap.folder)
                sent += _guarded(_periodic, app) or 0
                while not wake.is_set():
                    done = process_inbox(app, mailbox, notifier, stop)
                    health.beat(health.IMAP_CONTACT, health.DAEMON_ALIVE)
                    scheduler.run_pending()
                    if done or sent:
                        tidy_memory()
                        sent = 0
                    notifier.watchdog()
                    wait = max(1.0, min(scheduler.idle_seconds or 30, 30))
                    mailbox.wait(wait, wake)
                    failures = 0        # a whole pass went well: the next trouble starts the backoff afresh
            except Exception as e:  # noqa: BLE001 - whatever broke (server, database, a bug): log, back off, retry
                mailbox.close()
                delay = BACKOFF[min(failures, len(BACKOFF) - 1)]
                failures += 1
                if isinstance(e, MailboxError):   # refused (certificate, login, a folder): an admin must act
                    log.error("- mailbox unavailable (%s); trying again in %ss", e, delay)
                elif isinstance(e, (MailboxGone, OSError, pw.OperationalError, pw.InterfaceError)):
                    log.warning("- %s unavailable (%s); reconnecting in %ss",
                                "database" if isinstance(e, pw.DatabaseError) else "mailbox", e, delay)
                else:
                    log.exception("- unexpected error, reconnecting in %ss: %s", delay, e)
                notifier.status(f"reconnecting: {e}")
                try:
                    health.beat(health.DAEMON_ALIVE)     # alive, though the mailbox is not
                except pw.DatabaseError:
                    pass
                _sleep(delay, wake, notifier)
    finally:
        notifier.stopping()
        mailbox.close()
        models.close()
        gc.unfreeze()       # a process that runs the daemon again (tests, the sandbox) collects as before
        log.info("- officeflow stopped")
    return 0


def _sleep(seconds: float, stop: threading.Event, notifier: Notifier) -> None:
    end = _time.monotonic() + seconds
    while not stop.is_set() and _time.monotonic() < end:
        notifier.watchdog()
        stop.wait(min(1.0, end - _time.monotonic()))


def _guarded(fn, *args):
    try:
        return fn(*args)
    except (MailboxGone, MailboxError, pw.OperationalError, pw.InterfaceError):
        raise
    except Exception:  # noqa: BLE001 - log and live on
        log.exception("- %s failed", getattr(fn, "__name__", fn))
        return None

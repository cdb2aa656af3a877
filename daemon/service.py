"""The main loop: fetch and process mail, send the outbox, run the periodic duties, wait with IDLE; stop on SIGTERM.

Signal handlers only set the stop Event; every duty is wrapped so that an exception is logged and the loop lives.
"""

from __future__ import annotations

import logging
import signal
import threading
import time as _time

import peewee as pw
import schedule

from daemon import chase, health, intake, models, outbox
from daemon.app import App
from daemon.config import Config
from daemon.mailbox import Mailbox, MailboxError, MailboxGone
from daemon.notify import Notifier

log = logging.getLogger("officeflow.service")

BACKOFF = (1, 2, 5, 10, 30, 60)
BATCH = 10          # mails fetched at once: bounded memory and time (the watchdog), the inbox tidied often


def process_inbox(app: App, mailbox: Mailbox, notifier: Notifier | None = None,
                  stop: threading.Event | None = None) -> int:
    """Fetch in bulk, process each mail in its own transaction, move it only after the commit.

    The watchdog is fed after every mail (a backlog of slow attachments must not look like a hang), and a
    stop request is honoured between mails: what is done is sent and moved, the rest stays for next time."""
    total = 0
    cfg = app.cfg.imap
    while True:
        batch = mailbox.fetch_new(limit=BATCH)
        if not batch:
            return total
        done: dict[str, list[str]] = {intake.PROCESSED: [], intake.FAILED: []}
        for uid, raw in batch:
            done[intake.handle(app, raw)].append(uid)
            if notifier is not None:
                notifier.watchdog()
            if stop is not None and stop.is_set():
                break
        # mails first go out, then the inbox is tidied: a crash in between only re-reads known mail
        flush(app, notifier)
        if done[intake.PROCESSED]:
            mailbox.move(done[intake.PROCESSED], cfg.processed_folder)
        if done[intake.FAILED]:
            mailbox.move(done[intake.FAILED], cfg.failed_folder)
        total += len(done[intake.PROCESSED]) + len(done[intake.FAILED])
        if len(batch) < BATCH or (stop is not None and stop.is_set()):
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


def _periodic(app: App) -> None:
    chase.run_all(app)
    flush(app)


def run(cfg: Config, *, once: bool = False, stop: threading.Event | None = None) -> int:
    """Run the daemon; with once=True do all work due now and return 0."""
    stop = stop or threading.Event()
    notifier = Notifier()
    models.connect(cfg.database.url)
    outbox.configure(cfg)
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

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    scheduler = schedule.Scheduler()
    scheduler.every(30).seconds.do(_guarded, _periodic, app)   # reminders, digests and the outbox (retries too)
    failures = 0
    ready = False
    log.info("- officeflow starting for %s (%s)", cfg.office.address, cfg.imap.host)
    try:
        while not stop.is_set():
            try:
                mailbox.connect()
                if not ready:
                    notifier.ready(f"watching {cfg.imap.folder} of {cfg.imap.username}")
                    ready = True
                    log.info("- connected, watching %s", cfg.imap.folder)
                _guarded(_periodic, app)
                while not stop.is_set():
                    process_inbox(app, mailbox, notifier, stop)
                    _beat(health.IMAP_CONTACT, health.DAEMON_ALIVE)
                    scheduler.run_pending()
                    notifier.watchdog()
                    wait = max(1.0, min(scheduler.idle_seconds or 30, 30))
                    mailbox.wait(wait, stop)
                    failures = 0        # a whole pass went well: the next trouble starts the backoff afresh
            except Exception as e:  # noqa: BLE001 - whatever broke (server, database, a bug): log, back off, retry
                mailbox.close()
                delay = BACKOFF[min(failures, len(BACKOFF) - 1)]
                failures += 1
                if isinstance(e, (MailboxGone, MailboxError, OSError, pw.OperationalError, pw.InterfaceError)):
                    log.warning("- %s unavailable (%s); reconnecting in %ss",
                                "database" if isinstance(e, pw.DatabaseError) else "mailbox", e, delay)
                else:
                    log.exception("- unexpected error, reconnecting in %ss: %s", delay, e)
                notifier.status(f"reconnecting: {e}")
                try:
                    _beat(health.DAEMON_ALIVE)     # alive, though the mailbox is not
                except pw.DatabaseError:
                    pass
                _sleep(delay, stop, notifier)
    finally:
        notifier.stopping()
        mailbox.close()
        models.close()
        log.info("- officeflow stopped")
    return 0


def _beat(*names: str) -> None:
    for name in names:
        health.beat(name)


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

"""Sending while the next mail is taken in: outbox.flush writes down each message the server accepted before the
next one goes (a journal beside a SQLite database, a commit on PostgreSQL), so a daemon killed while sending
has at most the message in flight sent again; service.Sender runs it from a thread of its own, and SQLite
transactions from the two threads wait for each other instead of failing."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import peewee as pw
import pytest

from daemon import clock, compose, mailstore, models, outbox, service, smtp
from daemon.models import Mail, Outbox

NOW = datetime(2026, 11, 26, 1, 0, tzinfo=timezone.utc)
HEADERS = [("From", "office@example.test"), ("To", "li@example.test"), ("Subject", "【办请〔2026〕7号】回执"),
           ("Message-ID", "<of.1@example.test>"), ("Auto-Submitted", "auto-generated")]
CFG = SimpleNamespace(smtp=SimpleNamespace())


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    models.connect(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield tmp_path / "db.sqlite"
    models.close()


def _queue(n: int) -> list[int]:
    ids = []
    for _ in range(n):
        mail = Mail.create(direction="out", message_id=f"{uuid.uuid4().hex}@example.test", kind="receipt", at=NOW)
        row = mailstore.store(mail, "office@example.test", ["li@example.test"],
                              compose.compose_split(HEADERS, "回执\n", "<p>回执</p>\n", []), next_attempt_at=NOW)
        ids.append(row.id)
    return ids


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _states() -> dict[int, str]:
    return {r.id: r.state for r in Outbox.select()}


def _committed(path) -> dict[int, str]:
    """The outbox as another connection sees it: only what is committed."""
    with sqlite3.connect(path) as c:
        return dict(c.execute("select id, state from outbox"))


def test_the_journal_lives_beside_a_sqlite_file_and_nowhere_else(db, tmp_path):
    assert models.sent_journal() == tmp_path / "db.sqlite-sent"
    models.close()
    models.connect("sqlite:///:memory:")
    assert models.sent_journal() is None


def test_rows_a_killed_daemon_had_sent_are_marked_sent_and_the_others_queued_again(db):
    ids = _queue(3)
    token = f"{socket.gethostname()}:{_dead_pid()}:abcd"
    Outbox.update(state="sending", claimed_by=token, claimed_at=NOW).execute()
    journal = models.sent_journal()
    outbox._Journal(journal, token).add(str(ids[0]))
    outbox._Journal(journal, token).add(str(ids[1]))
    left = outbox._Journal(journal, f"{socket.gethostname()}:{_dead_pid()}:ef01")
    left.add("999")                 # a claim recorded whole before its daemon died

    outbox._requeue_orphans(NOW, journal)

    assert _states() == {ids[0]: "sent", ids[1]: "sent", ids[2]: "queued"}
    assert Outbox.get_by_id(ids[0]).attempts == 1
    assert list(journal.glob("*")) == []


def test_a_claim_of_a_daemon_still_running_is_left_alone_until_it_is_old(db):
    ids = _queue(2)
    token = f"{socket.gethostname()}:{os.getppid()}:abcd"        # alive, and not this process
    Outbox.update(state="sending", claimed_by=token, claimed_at=NOW).execute()
    journal = models.sent_journal()
    outbox._Journal(journal, token).add(str(ids[0]))

    outbox._requeue_orphans(NOW + timedelta(minutes=5), journal)
    assert _states() == {ids[0]: "sending", ids[1]: "sending"}
    assert (journal / token).exists()

    outbox._requeue_orphans(NOW + timedelta(minutes=11), journal)
    assert _states() == {ids[0]: "sent", ids[1]: "queued"}


def test_on_sqlite_an_accepted_message_is_written_down_before_the_next_goes(db, monkeypatch):
    ids = _queue(3)
    journal = models.sent_journal()
    seen = []       # (journal, committed states) as each message goes out

    def send_batch(_cfg, batch, on_result=None):
        for m in batch:
            written = set().union(*(outbox._Journal(journal, p.name).ids() for p in journal.iterdir())) \
                if journal.is_dir() else set()
            seen.append((written, set(_committed(db).values())))
            on_result(smtp.SendResult(m.key, True, False, ""))

    monkeypatch.setattr(smtp, "send_batch", send_batch)
    assert outbox.flush(CFG) == 3
    assert [w for w, _ in seen] == [set(), {ids[0]}, {ids[0], ids[1]}]
    assert all(states == {"sending"} for _, states in seen)     # one commit for the batch, at its end
    assert _committed(db) == {i: "sent" for i in ids}
    assert {(r.attempts, r.sent_at, r.last_error) for r in Outbox.select()} == {(1, NOW, "")}
    assert list(journal.glob("*")) == []


def test_without_a_journal_each_result_is_committed_before_the_next_goes(db, monkeypatch):
    ids = _queue(3)
    monkeypatch.setattr(models, "sent_journal", lambda: None)      # as on PostgreSQL
    seen = []

    def send_batch(_cfg, batch, on_result=None):
        for m in batch:
            seen.append(_committed(db))
            on_result(smtp.SendResult(m.key, True, False, ""))

    monkeypatch.setattr(smtp, "send_batch", send_batch)
    assert outbox.flush(CFG) == 3
    assert [sorted(s for s in states.values()) for states in seen] == [
        ["sending"] * 3, ["sending", "sending", "sent"], ["sending", "sent", "sent"]]
    assert _committed(db) == {i: "sent" for i in ids}
    assert not (db.parent / "db.sqlite-sent").exists()


def test_a_batch_that_breaks_records_what_is_known_and_leaves_the_rest_claimed(db, monkeypatch):
    ids = _queue(3)

    def send_batch(_cfg, batch, on_result=None):
        on_result(smtp.SendResult(batch[0].key, True, False, "refused: x@example.test: 550 no such user"))
        on_result(smtp.SendResult(batch[1].key, False, True, "451 try later"))
        raise RuntimeError("a bug")

    monkeypatch.setattr(smtp, "send_batch", send_batch)
    with pytest.raises(RuntimeError):
        outbox.flush(CFG)
    assert _committed(db) == {ids[0]: "sent", ids[1]: "queued", ids[2]: "sending"}
    assert Outbox.get_by_id(ids[1]).last_error == "451 try later"
    assert Outbox.get_by_id(ids[0]).last_error.startswith("refused: x@example.test")
    assert list(models.sent_journal().glob("*")) == []
    outbox._requeue_orphans(NOW + timedelta(minutes=11), models.sent_journal())
    assert _states()[ids[2]] == "queued"


def test_the_sender_sends_from_its_own_thread_and_drain_waits_for_it(db, monkeypatch):
    ids = _queue(4)
    threads = set()

    def send_batch(_cfg, batch, on_result=None):
        threads.add(threading.get_ident())
        for m in batch:
            on_result(smtp.SendResult(m.key, True, False, ""))

    monkeypatch.setattr(smtp, "send_batch", send_batch)
    app = SimpleNamespace(cfg=CFG)
    with service.Sender(app) as sender:
        sender.kick()
        sender.drain()
        assert _committed(db) == {i: "sent" for i in ids}
        more = _queue(2)
        sender.kick()
        sender.drain()
        assert {_committed(db)[i] for i in more} == {"sent"}
    assert threads and threading.get_ident() not in threads
    assert sender._thread is None


def test_what_breaks_the_sender_thread_is_raised_by_drain(db, monkeypatch):
    _queue(1)

    def broken(_app, _notifier=None):
        raise pw.OperationalError("disk I/O error")

    monkeypatch.setattr(service, "flush", broken)
    with service.Sender(SimpleNamespace(cfg=CFG)) as sender:
        sender.kick()
        with pytest.raises(pw.OperationalError, match="disk I/O"):
            sender.drain()


def test_in_memory_the_sender_sends_on_the_callers_thread(monkeypatch):
    models.connect("sqlite:///:memory:")
    try:
        threads = []
        monkeypatch.setattr(service, "flush", lambda app, notifier=None: threads.append(threading.get_ident()))
        with service.Sender(SimpleNamespace(cfg=CFG)) as sender:
            sender.kick()
            sender.drain()
        assert threads == [threading.get_ident()]
    finally:
        models.close()


def test_two_threads_writing_one_sqlite_file_wait_for_each_other(db):
    """A transaction that reads and then writes, while another thread commits in between, fails at once on a
    stale snapshot unless transactions take the write lock when they begin."""
    ids = _queue(1)
    errors = []
    go = threading.Barrier(2)

    def reader_writer():
        try:
            go.wait()
            for _ in range(150):
                with models.db.atomic():
                    n = Mail.select().count()
                    Mail.create(direction="out", message_id=f"{uuid.uuid4().hex}@example.test", kind="receipt",
                                at=NOW, subject=str(n))
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)
        finally:
            models.close()

    def committer():
        try:
            go.wait()
            for i in range(300):
                with models.db.atomic():
                    Outbox.update(attempts=i).where(Outbox.id == ids[0]).execute()
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            models.close()

    threads = [threading.Thread(target=reader_writer), threading.Thread(target=committer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Mail.select().count() == 151 and Outbox.get_by_id(ids[0]).attempts == 299


def test_sync_flushes_the_wal_file_that_holds_the_commits(db, monkeypatch):
    _queue(1)
    flushed = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (flushed.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    models.sync()
    assert flushed == [str(db) + "-wal"]


def test_what_is_sent_or_moved_out_of_the_inbox_is_on_disk_first(db, monkeypatch):
    """Commits are not flushed one by one (synchronous=normal): one flush of the WAL comes before the mail of
    a batch may go and before its mails leave the inbox, and before a journal of sent mail is let go."""
    events = []
    monkeypatch.setattr(models, "sync", lambda: events.append("sync"))
    monkeypatch.setattr(service.intake, "handle", lambda app, raw: (events.append("handle"), "processed")[1])
    monkeypatch.setattr(service.Sender, "kick", lambda self: events.append("kick"))
    monkeypatch.setattr(service.Sender, "drain", lambda self: None)

    class Box:
        batches = [[(str(i), b"") for i in range(10)], [("10", b""), ("11", b"")]]

        def fetch_new(self, limit):
            return self.batches.pop(0) if self.batches else []

        def move(self, uids, folder):
            events.append("move")

    app = SimpleNamespace(cfg=SimpleNamespace(imap=SimpleNamespace(processed_folder="P", failed_folder="F")))
    assert service.process_inbox(app, Box()) == 12
    assert events == ["handle"] * 10 + ["sync", "kick", "move"] + ["handle"] * 2 + ["sync", "kick", "move"]

    events.clear()
    monkeypatch.undo()
    monkeypatch.setattr(clock, "now", lambda: NOW)
    _queue(2)
    monkeypatch.setattr(models, "sync", lambda: events.append("sync"))

    def send_batch(_cfg, batch, on_result=None):
        for m in batch:
            events.append("send")
            on_result(smtp.SendResult(m.key, True, False, ""))

    monkeypatch.setattr(smtp, "send_batch", send_batch)
    monkeypatch.setattr(outbox._Journal, "remove", lambda self: events.append("journal gone"))
    assert outbox.flush(CFG) == 2
    assert events == ["sync", "send", "send", "sync", "journal gone"]


def test_the_sender_thread_keeps_little_memory_of_its_own(db, monkeypatch):
    """One malloc arena for all threads (a thread's own arena kept what it freed), and a small page cache for
    the sender's connection, which reads each row once."""
    calls, caches = [], []
    monkeypatch.setattr(service, "_mallopt", lambda *args: calls.append(args))

    def flush(app, notifier=None):
        caches.append(models.db.execute_sql("PRAGMA cache_size").fetchone()[0])

    monkeypatch.setattr(service, "flush", flush)
    with service.Sender(SimpleNamespace(cfg=CFG)) as sender:
        sender.kick()
        sender.drain()
    assert calls == [(-8, 1)]
    assert caches == [-512]
    assert models.db.execute_sql("PRAGMA cache_size").fetchone()[0] != -512     # the main thread's is as it was


def test_mail_another_thread_committed_a_moment_before_it_goes_is_on_disk_first(db, monkeypatch):
    """The intake thread commits while the sender claims: whatever is claimed is flushed before it is sent."""
    events = []
    real_sync, real_requeue = models.sync, outbox._requeue_orphans
    monkeypatch.setattr(models, "sync", lambda: (events.append("sync"), real_sync()))

    def requeue(now, journal=None):
        real_requeue(now, journal)
        events.append(("commit", _queue(1)[0]))         # the other thread, between two steps of flush

    def send_batch(_cfg, batch, on_result=None):
        for m in batch:
            events.append(("send", int(m.key)))
            on_result(smtp.SendResult(m.key, True, False, ""))

    monkeypatch.setattr(outbox, "_requeue_orphans", requeue)
    monkeypatch.setattr(smtp, "send_batch", send_batch)
    assert outbox.flush(CFG) == 1
    [(_, row)] = [e for e in events if e[0] == "commit"]
    assert events[events.index(("commit", row)):events.index(("send", row))].count("sync") == 1


def test_a_dead_daemons_journal_goes_only_once_the_rows_it_lists_are_on_disk_as_sent(db, monkeypatch):
    ids = _queue(2)
    token = f"{socket.gethostname()}:{_dead_pid()}:abcd"
    Outbox.update(state="sending", claimed_by=token, claimed_at=NOW).execute()
    journal = models.sent_journal()
    outbox._Journal(journal, token).add(str(ids[0]))
    events = []
    real_sync, real_remove = models.sync, outbox._Journal.remove
    monkeypatch.setattr(models, "sync", lambda: (events.append("sync"), real_sync()))
    monkeypatch.setattr(outbox._Journal, "remove", lambda self: (events.append("remove"), real_remove(self)))
    outbox._requeue_orphans(NOW, journal)
    assert events == ["sync", "remove"]
    assert _states() == {ids[0]: "sent", ids[1]: "queued"}


def test_when_the_journal_cannot_be_written_each_message_is_committed_as_it_goes(db, monkeypatch, caplog):
    """A full disk: the message the server took is committed sent at once, and the batch goes on; none is
    left claimed to be sent again later."""
    ids = _queue(3)
    seen = []

    def full(self, key):
        raise OSError(28, "No space left on device")

    def send_batch(_cfg, batch, on_result=None):
        for m in batch:
            seen.append(_committed(db))
            on_result(smtp.SendResult(m.key, True, False, ""))

    monkeypatch.setattr(outbox._Journal, "add", full)
    monkeypatch.setattr(smtp, "send_batch", send_batch)
    with caplog.at_level("ERROR", logger="officeflow.outbox"):
        assert outbox.flush(CFG) == 3
    assert [sorted(s.values()) for s in seen] == [
        ["sending"] * 3, ["sending", "sending", "sent"], ["sending", "sent", "sent"]]
    assert _committed(db) == {i: "sent" for i in ids}
    assert {r.attempts for r in Outbox.select()} == {1}
    assert sum("cannot write down sent mail" in r.getMessage() for r in caplog.records) == 3


def test_closing_the_sender_after_an_error_keeps_the_watchdog_fed(db, monkeypatch):
    """The pass broke (the mailbox went away) while the sender had a long batch in hand: closing waits for it,
    and systemd must not take that for a hang."""
    pings = []
    notifier = SimpleNamespace(watchdog=lambda: pings.append(threading.get_ident()))
    release = threading.Event()
    monkeypatch.setattr(service, "flush", lambda app, notifier=None: release.wait(10))
    sender = service.Sender(SimpleNamespace(cfg=CFG), notifier)
    sender.kick()
    threading.Timer(1.5, release.set).start()
    sender.close()
    assert pings and sender._thread is None

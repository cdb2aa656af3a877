"""How much memory officeflow holds: while it takes in a backlog, and idle after a week of work, against the bare
interpreter's.

Run on demand:  python bench/memory.py [--requests 1000] [--days 7]
It starts a private Dovecot + SMTP relay on loopback (as the tests do; the relay in a process of its own, as a
real mail server is) and measures, each daemon in a process of its own (RSS and peak RSS read from
/proc/PID/status, VmRSS and VmHWM):
  raw:        a bare `python -c pass`, and the same interpreter with officeflow's modules imported and nothing
              done — the floor any Python daemon pays;
  backlog:    `officeflow run` (IMAP IDLE, the real daemon) taking in N 请示 waiting in the inbox: RSS after
              every tenth of the backlog and the peak. Flat means the last tenth holds no more than the first;
  week:       the daemon's duties (fetch and process the inbox, reminders, escalation, digests, the weekly
              summary, sending) run in one long-lived process on the same database, with OFFICEFLOW_NOW moved
              two hours at a time through `--days` days, while people file new requests and answer some of
              the mails they get (the clerk accepts, 财务科 and 李副总 approve, 综合科 reports 办结; about a
              third of the mails wait and are chased). RSS per simulated day, and idle RSS at the end.
Targets: <= 80 MB during a 5,000-request backlog and flat across it; <= 60 MB idle after a week.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

START = "2026-11-26T08:00:00+08:00"      # a Thursday: the week crosses a weekend and a Monday's summary
STEP = timedelta(hours=2)
IMPORTS = "import daemon.cli, daemon.service, daemon.intake, daemon.chase, daemon.checks, daemon.records"


def rss(pid: int | str = "self") -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


def bare(code: str = "pass") -> float:
    """RSS of a fresh interpreter after running `code`."""
    probe = "print([line.split()[1] for line in open('/proc/self/status') if line.startswith('VmRSS:')][0])"
    out = subprocess.run([sys.executable, "-c", f"{code}\n{probe}"], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return int(out.stdout.split()[-1]) / 1024


# -- the backlog: the real daemon ------------------------------------------------------------------------------

def fill(office, n: int) -> None:
    from throughput import request_mail  # the same backlog as the throughput bench's
    imap = office.servers.imap(office.addr["office"])
    try:
        for i in range(n):
            typ, dat = imap.append("INBOX", None, None, request_mail(office, i, "memory"))
            assert typ == "OK", dat
    finally:
        imap.logout()


def count(db_path: Path, sql: str) -> int:
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return 0
    try:
        return con.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0        # the daemon has not made its tables yet
    finally:
        con.close()


def backlog(office, n: int, env: dict) -> tuple[list[tuple[int, float]], float, float]:
    """Run `officeflow run` until the backlog is in and every mail sent; ([(done, RSS MB)], peak, seconds)."""
    db_path = office.tmp / "officeflow.db"
    proc = subprocess.Popen([sys.executable, "-m", "daemon", "run", "-c", str(office.config_path)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marks, next_mark, start = [], n // 10, time.perf_counter()
    try:
        while True:
            time.sleep(0.2)
            assert proc.poll() is None, "officeflow run ended early"
            done = count(db_path, "SELECT COUNT(*) FROM mail WHERE direction = 'in'")
            now_rss, peak = rss(proc.pid)
            while done >= next_mark and next_mark <= n:
                marks.append((next_mark, now_rss))
                next_mark += n // 10
            if done >= n and count(db_path, "SELECT COUNT(*) FROM outbox WHERE state != 'sent'") == 0:
                break
        elapsed = time.perf_counter() - start
        _, peak = rss(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    return marks, peak, elapsed


# -- the week: the daemon's duties in one process, time moving -----------------------------------------------

def duties(config: str) -> int:
    """The child of the week: for every time read from stdin, do what the daemon's loop does at that moment
    (process the inbox, the periodic duties, send, tidy memory after work), then print its RSS and the time
    spent tidying; the process and its connections live on between moments, as the daemon's do."""
    from daemon import models, service
    from daemon.app import App
    from daemon.config import load_config
    from daemon.mailbox import Mailbox
    cfg = load_config(config)
    models.connect(cfg.database.url)
    app = App(cfg)
    mailbox = Mailbox(cfg.imap)
    gc.freeze()         # as service.run does
    mailbox.connect()
    for line in sys.stdin:
        os.environ["OFFICEFLOW_NOW"] = line.strip()
        done = service.process_inbox(app, mailbox)
        done += service._periodic(app)
        start = time.perf_counter()
        if done:
            service.tidy_memory()
        print("%.1f %.1f %.4f" % (*rss(), time.perf_counter() - start), flush=True)
    mailbox.close()
    models.close()
    return 0


class People:
    """The office's people, answering what reached their inboxes since they last looked."""

    ANSWERS = {"clerk": "受理\n拟办意见：拟同意，请财务科审核后报李副总审批。", "caiwu": "同意。",
               "li": "同意，请综合科抓紧办理。", "zonghe": "办结：已办理完毕。"}

    def __init__(self, office):
        self.office = office
        self.seen = {who: self._top(who) for who in self.ANSWERS}
        self.turn = 0
        self.answered = 0

    def _top(self, who: str) -> int:
        imap = self.office.servers.imap(self.office.addr[who])
        try:
            imap.select("INBOX", readonly=True)
            typ, dat = imap.uid("SEARCH", None, "ALL")
            uids = [int(u) for u in dat[0].split()]
            return max(uids, default=0)
        finally:
            imap.logout()

    def _new(self, who: str) -> list[bytes]:
        imap = self.office.servers.imap(self.office.addr[who])
        try:
            imap.select("INBOX", readonly=True)
            typ, dat = imap.uid("SEARCH", None, "UID", f"{self.seen[who] + 1}:*")
            uids = [u for u in (int(x) for x in dat[0].split()) if u > self.seen[who]]
            out = []
            for uid in uids:
                typ, dat = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
                out.append(dat[0][1])
                self.seen[who] = max(self.seen[who], uid)
            return out
        finally:
            imap.logout()

    def answer(self) -> None:
        from daemon import mime
        for who, text in self.ANSWERS.items():
            for raw in self._new(who):
                mail = mime.parse(raw)
                if "流转码" not in mail.text and "流转码" not in mail.subject:
                    continue        # a digest, a copy, a notice: nothing to answer
                self.turn += 1
                if self.turn % 3 == 0:
                    continue        # left waiting: it is chased
                self.office.reply(who, mail, text)
                self.answered += 1


def week(office, days: int, env: dict) -> tuple[list[tuple[str, float]], float, float, int, int, float]:
    """([(day, RSS MB)], idle RSS, peak, requests filed, answers given, longest tidy_memory in seconds)."""
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--duties", str(office.config_path)],
                            cwd=ROOT, env={k: v for k, v in env.items() if k != "OFFICEFLOW_NOW"},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    people = People(office)
    moment = datetime.fromisoformat(START)
    by_day, filed, last, tidy = [], 0, (0.0, 0.0, 0.0), []
    try:
        for _ in range(days * 24 // 2):
            moment += STEP
            if moment.weekday() < 5 and 8 <= moment.hour < 18:
                for _ in range(2):
                    office.send_request(subject="关于购置办公设备的请示")
                    filed += 1
            proc.stdin.write(moment.isoformat() + "\n")
            proc.stdin.flush()
            last = tuple(float(x) for x in proc.stdout.readline().split())
            tidy.append(last[2])
            if moment.hour >= 22:
                by_day.append((moment.strftime("%a %m-%d"), last[0]))
            if moment.weekday() < 5 and 8 <= moment.hour < 18:
                people.answer()
        idle, peak = rss(proc.pid)
    finally:
        proc.stdin.close()
        proc.wait(60)
    return by_day, idle, peak, filed, people.answered, max(tidy, default=0.0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000, help="the backlog (the target is stated for 5000)")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--duties", metavar="CONFIG", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.duties:
        return duties(args.duties)
    from flow import DEFAULT_EXTRA, Office
    from mailservers import MailServers
    n = args.requests
    raw_bare, raw_imported = bare(), bare(IMPORTS)
    servers = MailServers(relay_process=True).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # one unit files the whole backlog: lift the per-sender hourly limit on new requests
            office = Office(servers, servers.new_domain(), Path(tmp),
                            extra=DEFAULT_EXTRA + f"\n[limits]\nnew_requests_per_hour = {n + 100}\n")
            env = {**os.environ, "OFFICEFLOW_NOW": START}
            fill(office, n)
            marks, peak, elapsed = backlog(office, n, env)
            office.write_config(f"\n[limits]\nnew_requests_per_hour = {n + 100}\n")    # digests at 08:30
            by_day, idle, week_peak, filed, answered, tidy = week(office, args.days, env)
    finally:
        servers.stop()
    print(f"raw: bare interpreter {raw_bare:.1f} MB; with officeflow's modules imported {raw_imported:.1f} MB")
    print(f"backlog of {n} requests through `officeflow run` in {elapsed:.1f} s:")
    print("  RSS after " + ", ".join(f"{done}: {mb:.1f}" for done, mb in marks) + " MB")
    growth = marks[-1][1] - marks[0][1] if marks else 0.0
    print(f"  peak {peak:.1f} MB ({peak / raw_bare:.1f}x bare), last tenth minus first {growth:+.1f} MB "
          f"(target: peak <= 80 MB at 5,000, flat)")
    print(f"week of {args.days} days ({filed} new requests, {answered} answers), RSS at the end of each day:")
    print("  " + ", ".join(f"{day}: {mb:.1f}" for day, mb in by_day) + " MB")
    print(f"  idle at the end {idle:.1f} MB ({idle / raw_bare:.1f}x bare), peak {week_peak:.1f} MB "
          f"(target: idle <= 60 MB); tidying memory after work took {1000 * tidy:.0f} ms at most")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

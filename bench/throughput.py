"""How fast officeflow takes in a backlog of requests, against the raw cost of the same mail traffic.

Run on demand:  python bench/throughput.py [--requests 300] [--profile FILE]
It starts a private Dovecot + SMTP relay on loopback (as the tests do; the relay in a process of its own, as a
real mail server is, so that its CPU does not take turns with officeflow's in this one), fills the office inbox
with N 请示, and measures in the same run:
  raw:        imaplib UID FETCH of all N mails + sending the same number of mails (2 per request: receipt and
              review) over one SMTP connection + moving the N mails — the floor any implementation pays;
  officeflow: `run --once` on the same backlog (fetch, parse, check, register, archive, render, send, move),
              its wall time and the CPU time it spends itself (every thread of this process: the one that
              takes mail in and the one that sends; and its children: the bounded attachment readers; not the
              relay nor Dovecot, other processes that are waited for only when the servers stop, after the
              measuring).
With --profile FILE, `run --once` runs under cProfile and the stats are written to FILE (read them with
`python -m pstats FILE`); the times printed then include the profiler's overhead.

With --prefill SIZE [SIZE ...] it measures instead whether intake stays as fast on a register of years: the
same backlog (the new requests, then office staff's 受理 of each) taken in against an empty database and against
databases of SIZE requests built as bench/scale.py builds them, each side --rounds times, alternately, printing
requests/s (wall and CPU) of each and the ratio to the empty database. Target: within 10 % at 50,000.
"""

from __future__ import annotations

import argparse
import cProfile
import imaplib
import os
import resource
import shutil
import smtplib
import sys
import tempfile
import time
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import scale  # noqa: E402
from daemon import clock, models  # noqa: E402
from daemon.config import load_config  # noqa: E402
from flow import DEFAULT_EXTRA, GOOD_BODY, Office, crlf, docx_bytes  # noqa: E402
from mailservers import MailServers  # noqa: E402


ATTACHMENT = docx_bytes(["办公设备购置清单", "台式计算机 10台"])


def request_mail(office: Office, i: int, tag: str = "bench") -> bytes:
    """The `i`-th 请示 of a backlog: a well-formed request from 第一分公司 with its .docx list."""
    msg = EmailMessage()
    msg["From"] = office.addr["unit1"]
    msg["To"] = office.addr["office"]
    msg["Subject"] = f"关于购置办公设备的请示（{i}）"
    msg["Message-ID"] = f"<{tag}-{i}-{time.time_ns()}@{office.domain}>"
    msg.set_content(GOOD_BODY)
    msg.add_attachment(ATTACHMENT, maintype="application", subtype="octet-stream", filename="办公设备购置清单.docx")
    return crlf(msg)


def fill(office: Office, n: int) -> None:
    for i in range(n):
        office.servers.append(office.addr["office"], request_mail(office, i))


def raw_baseline(office: Office, n: int) -> float:
    s = office.servers
    start = time.perf_counter()
    imap = imaplib.IMAP4("127.0.0.1", s.imap_port)
    imap.login(office.addr["office"], s.password)
    imap.select("INBOX")
    typ, data = imap.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
    raws = [d[1] for d in data if isinstance(d, tuple)]
    with smtplib.SMTP("127.0.0.1", s.smtp_port) as smtp:
        for raw in raws:
            for rcpt in (office.addr["unit1"], office.addr["clerk"]):
                smtp.sendmail(office.addr["office"], [rcpt], raw)
    imap.uid("MOVE", "1:*", "Archive") if b"MOVE" in imap.capability()[1][0] else None
    imap.logout()
    elapsed = time.perf_counter() - start
    assert len(raws) == n, (len(raws), n)
    return elapsed


def cpu_seconds() -> float:
    """User + system CPU of this thread and of the waited-for children of this process so far."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.thread_time() + children.ru_utime + children.ru_stime


def timed_run(office: Office) -> tuple[float, float]:
    """Wall and CPU seconds of one `run --once`."""
    cpu = cpu_seconds()
    start = time.perf_counter()
    office.run_once()
    return time.perf_counter() - start, cpu_seconds() - cpu


def accept_all(office: Office) -> int:
    """Office staff answer every review mail in their inbox with 受理 (the route the config proposes)."""
    reviews = [m for m in office.inbox("clerk") if "请审核拟办" in m.subject]
    for review in reviews:
        office.reply("clerk", review, "受理")
    return len(reviews)


def register_of(n: int, tmp: Path) -> Path:
    """A database of n requests as bench/scale.py builds them, left as a daemon that has run all along
    leaves it: the reminders due so far sent (the next ones due tomorrow), today's packing of stored mail done."""
    cfg = load_config(scale.write_config(tmp), need_secrets=False)
    models.connect(cfg.database.url)
    scale.build(n)
    now = clock.now()
    models.Step.update(next_reminder_at=now + timedelta(days=1)).where(
        models.Step.next_reminder_at.is_null(False)).execute()
    models.Job.create(name=f"compact-{now.astimezone(ZoneInfo(cfg.office.timezone)).date().isoformat()}",
                      done_at=now)
    models.db.obj.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    models.close()
    return tmp / "officeflow.db"


def take_in(servers: MailServers, n: int, register: Path | None) -> dict:
    """The backlog (n new requests, then staff's 受理 of each) through `run --once` on a copy of `register`
    (None: an empty database); wall and CPU seconds of each half."""
    with tempfile.TemporaryDirectory() as tmp:
        office = Office(servers, servers.new_domain(), Path(tmp),
                        extra=DEFAULT_EXTRA + f"\n[limits]\nnew_requests_per_hour = {n + 1}\n")
        if register is not None:
            shutil.copy(register, Path(tmp) / "officeflow.db")
        db = office.db()
        before = db.Request.select().count()
        models.close()
        office.run_once()           # whatever is due on the register already is done before the backlog comes
        fill(office, n)
        new = timed_run(office)
        accepted = accept_all(office)
        replies = timed_run(office)
        db = office.db()
        approving = db.Request.select().where((db.Request.id > before) & (db.Request.state == "approving")).count()
        models.close()
        assert accepted == n and approving == n, (accepted, approving, n)
    return {"new": new, "replies": replies}


def at_scale(servers: MailServers, n: int, sizes: list[int], rounds: int) -> None:
    registers, built = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            start = time.perf_counter()
            (Path(tmp) / str(size)).mkdir()
            registers[size] = register_of(size, Path(tmp) / str(size))
            built[size] = time.perf_counter() - start
        t_raw = raw_baseline_once(servers, n)
        runs: dict[int, list[dict]] = {0: [], **{size: [] for size in sizes}}
        for r in range(rounds):
            for size in runs:
                runs[size].append(take_in(servers, n, registers.get(size)))
                print(f"  round {r + 1}, {size:>6} requests before: " + ", ".join(
                    f"{half} {w:.2f} s wall, {c:.2f} s CPU" for half, (w, c) in runs[size][-1].items()), flush=True)
    print(f"\nbacklog: {n} new requests, then office staff's 受理 of each; {rounds} rounds, alternately; "
          "best of the rounds")
    print(f"raw baseline (fetch + send {2 * n} + move): {t_raw:.2f} s  {n / t_raw:.0f} requests/s")
    print(f"{'register':>10}  {'new wall':>9} {'new CPU':>9}  {'受理 wall':>9} {'受理 CPU':>9}  "
          f"{'both/s wall':>11} {'CPU':>7}  ratio to empty (wall, CPU)")
    empty = None
    for size, rows in runs.items():
        best = {half: (min(r[half][0] for r in rows), min(r[half][1] for r in rows)) for half in ("new", "replies")}
        wall = 2 * n / (best["new"][0] + best["replies"][0])
        cpu = 2 * n / (best["new"][1] + best["replies"][1])
        empty = empty or (wall, cpu)
        print(f"{size:>10}  {n / best['new'][0]:7.0f}/s {n / best['new'][1]:7.0f}/s  "
              f"{n / best['replies'][0]:8.0f}/s {n / best['replies'][1]:8.0f}/s  {wall:9.0f}/s {cpu:5.0f}/s  "
              f"{wall / empty[0]:.2f}x, {cpu / empty[1]:.2f}x" + (f"   (built in {built[size]:.0f} s)" if size else ""))
    print("target: at 50,000 within 10 % of the empty database (ratio >= 0.90x)")


def raw_baseline_once(servers: MailServers, n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        base = Office(servers, servers.new_domain(), Path(tmp))
        base.servers.add_users([base.addr["office"]])
        fill(base, n)
        return raw_baseline(base, n)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--profile", metavar="FILE", help="run officeflow under cProfile and write its stats here")
    ap.add_argument("--prefill", type=int, nargs="+", metavar="SIZE",
                    help="compare intake on an empty database with intake on databases of SIZE requests")
    ap.add_argument("--rounds", type=int, default=2, help="with --prefill: runs of each side, alternately")
    args = ap.parse_args()
    n = args.requests
    os.environ.setdefault("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    servers = MailServers(relay_process=True).start()
    if args.prefill:
        try:
            at_scale(servers, n, args.prefill, args.rounds)
        finally:
            servers.stop()
        return 0
    try:
        t_raw = raw_baseline_once(servers, n)
        with tempfile.TemporaryDirectory() as tmp:
            # one unit files the whole backlog: lift the per-sender hourly limit on new requests
            office = Office(servers, servers.new_domain(), Path(tmp),
                            extra=DEFAULT_EXTRA + f"\n[limits]\nnew_requests_per_hour = {n + 1}\n")
            fill(office, n)
            profiler = cProfile.Profile() if args.profile else None
            cpu = cpu_seconds()
            start = time.perf_counter()
            if profiler:
                profiler.runcall(office.run_once)
                profiler.dump_stats(args.profile)
            else:
                office.run_once()
            t_of = time.perf_counter() - start
            cpu = cpu_seconds() - cpu
            db = office.db()
            assert db.Request.select().count() == n
            sent = db.Outbox.select().where(db.Outbox.state == "sent").count()
    finally:
        servers.stop()
    print(f"requests: {n}, mails out: {sent}")
    print(f"raw baseline (fetch + send {2 * n} + move): {t_raw:.2f} s  {n / t_raw:.0f} requests/s")
    print(f"officeflow run --once:                  {t_of:.2f} s  {n / t_of:.0f} requests/s "
          f"({1000 * t_of / n:.1f} ms per request, {1000 * cpu / n:.1f} ms of it CPU)")
    print(f"ratio officeflow / raw: {t_of / t_raw:.2f}x  (raw / officeflow {t_raw / t_of:.2f}x; "
          f"targets: raw / officeflow >= 0.5x, CPU <= 12 ms per request)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How fast officeflow takes in a backlog of requests, against the raw cost of the same mail traffic.

Run on demand:  python bench/throughput.py [--requests 300] [--profile FILE]
It starts a private Dovecot + SMTP relay on loopback (as the tests do), fills the office inbox with N 请示,
and measures in the same run:
  raw:        imaplib UID FETCH of all N mails + sending the same number of mails (2 per request: receipt and
              review) over one SMTP connection + moving the N mails — the floor any implementation pays;
  officeflow: `run --once` on the same backlog (fetch, parse, check, register, archive, render, send, move),
              its wall time and the CPU time it spends itself (the thread it runs in, and its children: the
              bounded attachment readers; not the relay, which runs in another thread of this process).
With --profile FILE, `run --once` runs under cProfile and the stats are written to FILE (read them with
`python -m pstats FILE`); the times printed then include the profiler's overhead.
"""

from __future__ import annotations

import argparse
import cProfile
import imaplib
import os
import resource
import smtplib
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from flow import DEFAULT_EXTRA, GOOD_BODY, Office, crlf, docx_bytes  # noqa: E402
from mailservers import MailServers  # noqa: E402


def fill(office: Office, n: int) -> None:
    att = docx_bytes(["办公设备购置清单", "台式计算机 10台"])
    for i in range(n):
        msg = EmailMessage()
        msg["From"] = office.addr["unit1"]
        msg["To"] = office.addr["office"]
        msg["Subject"] = f"关于购置办公设备的请示（{i}）"
        msg["Message-ID"] = f"<bench-{i}-{time.time_ns()}@{office.domain}>"
        msg.set_content(GOOD_BODY)
        msg.add_attachment(att, maintype="application", subtype="octet-stream", filename="办公设备购置清单.docx")
        office.servers.append(office.addr["office"], crlf(msg))


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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--profile", metavar="FILE", help="run officeflow under cProfile and write its stats here")
    args = ap.parse_args()
    n = args.requests
    os.environ.setdefault("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    servers = MailServers().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = Office(servers, servers.new_domain(), Path(tmp))
            base.servers.add_users([base.addr["office"]])
            fill(base, n)
            t_raw = raw_baseline(base, n)
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

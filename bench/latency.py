"""How soon an approval leads to the next mail, with the daemon running on IDLE, against the mail system's own delay.

Run on demand:  python bench/latency.py [--replies 30]
It starts a private Dovecot + SMTP relay on loopback (as the tests do; the relay in a process of its own, as a
real mail server is), files N requests that wait on 李副总, starts `officeflow run` (IDLE) in a thread, and
measures in the same run:
  raw:        a mail sent through the relay until an IMAP client sees it in the inbox — the floor of any
              mail-driven reaction (delivery + the poll that notices it);
  officeflow: 李副总's 同意 sent through the relay until the result mail is seen in the executing unit's
              inbox (delivery to the office, IDLE wake-up, intake, the decision, sending, delivery, the poll).
It prints p50, p99 and max of both and the difference, the part officeflow adds. Target: officeflow p99 <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from flow import Office, crlf  # noqa: E402
from mailservers import MailServers  # noqa: E402

from daemon import models, service  # noqa: E402


def _count(office: Office, who: str) -> int:
    imap = office.servers.imap(office.addr[who])
    try:
        imap.select("INBOX", readonly=True)
        typ, data = imap.search(None, "ALL")
        return len(data[0].split())
    finally:
        imap.logout()


def _seen(office: Office, who: str, before: int, timeout: float = 20.0) -> float:
    """Poll until `who` has more than `before` mails; returns when it was seen."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if _count(office, who) > before:
            return time.perf_counter()
        time.sleep(0.01)
    raise TimeoutError(f"no new mail for {who}")


def raw_latency(office: Office, n: int) -> list[float]:
    out = []
    for i in range(n):
        before = _count(office, "zonghe")
        msg = EmailMessage()
        msg["From"] = office.addr["li"]
        msg["To"] = office.addr["zonghe"]
        msg["Subject"] = f"测试 {i}"
        msg["Message-ID"] = make_msgid(domain=office.domain)
        msg.set_content("同意")
        start = time.perf_counter()
        office.servers.send(crlf(msg), [office.addr["zonghe"]], office.addr["li"])
        out.append(_seen(office, "zonghe", before) - start)
    return out


def officeflow_latency(office: Office, n: int) -> list[float]:
    for i in range(n):
        office.send_request(subject=f"关于购置办公设备的请示（{i}）", attachments=[])
    office.run_once()
    for review in [m for m in office.inbox("clerk") if "审核" in m.subject]:
        office.reply("clerk", review, "受理\n拟办意见：拟同意。\n流程：李副总\n执行：综合科")
    office.run_once()
    approvals = [m for m in office.inbox("li") if "请审批" in m.subject or "审批" in m.subject]
    assert len(approvals) >= n, [m.subject for m in office.inbox("li")]
    models.close()

    stop = threading.Event()
    daemon = threading.Thread(target=service.run, args=(office.cfg,), kwargs={"stop": stop}, daemon=True)
    daemon.start()
    time.sleep(2.0)                     # connected and in IDLE
    out = []
    try:
        for mail in approvals[:n]:
            before = _count(office, "zonghe")
            start = time.perf_counter()
            office.reply("li", mail, "同意")
            out.append(_seen(office, "zonghe", before) - start)
    finally:
        stop.set()
        daemon.join(30)
    return out


def _figures(xs: list[float]) -> str:
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, round(0.99 * (len(xs) - 1)))]
    return f"p50 {statistics.median(xs) * 1000:6.0f} ms   p99 {p99 * 1000:6.0f} ms   max {xs[-1] * 1000:6.0f} ms"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replies", type=int, default=30)
    args = ap.parse_args()
    os.environ.setdefault("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    servers = MailServers(relay_process=True).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            office = Office(servers, servers.new_domain(), Path(tmp))
            raw = raw_latency(office, args.replies)
            ours = officeflow_latency(office, args.replies)
    finally:
        servers.stop()
    print(f"replies: {args.replies}")
    print(f"raw (relay -> inbox seen):           {_figures(raw)}")
    print(f"officeflow (同意 -> result seen):     {_figures(ours)}")
    print(f"officeflow adds (p50): {(statistics.median(ours) - statistics.median(raw)) * 1000:.0f} ms; "
          f"ratio p50 officeflow / raw: {statistics.median(ours) / statistics.median(raw):.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How much database a request costs once its mail has gone, with attachments stored once against whole messages.

Run on demand:  python bench/storage.py [--requests 20] [--attachment-kb 40] [--detail]
It starts a private Dovecot + SMTP relay on loopback (as the tests do) and takes N 请示, each with two incompressible
attachments (the given size and half of it), through their whole life by mail: receipt and review, 受理 with a
会签 step (财务科+审计科) and 李副总, the result to 综合科 and a copy to 行政科 (form and originals each), 办结回告.
The same run is made twice:
  whole:   every outbox row holds its whole message, attachments included (how releases before 5 stored it);
  stored:  attachments once by sha256 (daemon.mailstore), the rest of each message compressed in its row;
  packed:  then the daily compaction: the rows of the closed requests compressed together into packs.
For each it prints the database (SQLite, compacted with VACUUM INTO) per request, the archived originals per
request (the attachments of the request mails), the database beyond them, and of that what the stored sent mail
takes (outbox, blobs and their chunks beyond the originals, packs, with their indexes). Target: sent mail <= 10 KB
a request beyond the originals. --detail adds what each table and index of the database takes a request.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

os.environ.setdefault("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")

from flow import DEFAULT_EXTRA, Office  # noqa: E402
from mailservers import MailServers  # noqa: E402

from daemon import compose, mailstore, models, records  # noqa: E402
from daemon.app import App  # noqa: E402


def _whole(mail, mail_from, rcpts, message, **row):
    """The outbox row as releases before schema 5 wrote it: the whole message in data."""
    skeleton, holes = message
    return models.Outbox.create(mail=mail, mail_from=mail_from, rcpts=rcpts,
                                data=compose.assemble(skeleton, [(h.offset, h.data) for h in holes]), **row)


def _numbers(office: Office, who: str) -> dict[str, object]:
    """The newest mail of each request number in `who`'s inbox."""
    out = {}
    for m in office.inbox(who):
        found = re.search(r"【(.+?)】", m.subject)
        if found:
            out[found.group(1)] = m
    return out


def lifecycle(office: Office, n: int, size: int) -> None:
    rnd = random.Random(n)
    for i in range(n):
        # the originals share nothing with each other or with the form officeflow writes (a .docx made by
        # python-docx, as the tests' would be, would share the form's styles and flatter the figure)
        office.send_request(subject=f"关于购置办公设备的请示（{i}）", attachments=[
            ("办公设备购置清单.pdf", rnd.randbytes(size // 2)), ("报价单.pdf", rnd.randbytes(size))])
    office.run_once()
    for number, review in _numbers(office, "clerk").items():
        office.reply("clerk", review, "受理\n拟办意见：拟同意，请财务科、审计科审核后报李副总审批。\n"
                     "流程：财务科+审计科，李副总\n执行：综合科\n抄送：行政科")
    office.run_once()
    for who in ("caiwu", "shenji", "li"):
        for number, mail in _numbers(office, who).items():
            office.reply(who, mail, "同意。")
        office.run_once()
    for number, mail in _numbers(office, "zonghe").items():
        office.reply("zonghe", mail, "办结：设备已采购到位。")
    office.run_once()


MAIL_TABLES = ("outbox", "outboxpart", "blob", "blobchunk", "pack", "packedrow")


def measure(office: Office, n: int) -> dict[str, float]:
    db = office.db()
    assert db.Request.select().where(db.Request.state == "done").count() == n, "every request went through"
    assert db.Outbox.select().where(db.Outbox.state != "sent").count() == 0
    originals = sum(a["size"] for r in db.Request.select() for a in r.attachments)
    rows = list(db.Outbox.select())
    whole = sum(len(m) for m in mailstore.messages(rows).values())
    mails = len(rows)
    models.close()
    path = Path(office.cfg.database.url[len("sqlite:///"):])
    compact = path.with_suffix(".compact")
    compact.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute(f"VACUUM INTO '{compact}'")
    con.close()
    con = sqlite3.connect(compact)
    tables = con.execute("SELECT m.tbl_name, d.name, SUM(d.pgsize) FROM dbstat d JOIN sqlite_master m ON d.name = "
                         "m.name GROUP BY d.name ORDER BY 3 DESC, 2").fetchall()
    con.close()
    stored = sum(size for table, _, size in tables if table in MAIL_TABLES)
    return {"db": compact.stat().st_size / n, "originals": originals / n, "mails": mails / n, "whole": whole / n,
            "stored": stored / n, "tables": [(name, size / n) for _, name, size in tables]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--attachment-kb", type=int, default=40)
    ap.add_argument("--detail", action="store_true", help="what each table and index takes a request")
    args = ap.parse_args()
    n = args.requests
    servers = MailServers().start()
    results = {}
    store = mailstore.store
    try:
        for layout in ("whole", "stored"):
            mailstore.store = _whole if layout == "whole" else store
            with tempfile.TemporaryDirectory() as tmp:
                office = Office(servers, servers.new_domain(), Path(tmp),
                                extra=DEFAULT_EXTRA + f"\n[limits]\nnew_requests_per_hour = {n + 1}\n")
                lifecycle(office, n, args.attachment_kb * 1024)
                results[layout] = measure(office, n)
                if layout == "stored":
                    office.db()
                    records.compact(App(office.cfg))      # what the daemon does with closed requests
                    models.close()
                    results["packed"] = measure(office, n)
    finally:
        mailstore.store = store
        servers.stop()
    r = results["stored"]
    print(f"{n} requests, each with originals of {r['originals'] / 1e3:.1f} KB; {r['mails']:.1f} mails out a request, "
          f"{r['whole'] / 1e3:.1f} KB of whole messages a request")
    for layout, r in results.items():
        print(f"{layout:7} database {r['db'] / 1e3:7.1f} KB a request, {(r['db'] - r['originals']) / 1e3:7.1f} KB "
              f"beyond the originals; sent mail {(r['stored'] - r['originals']) / 1e3:7.1f} KB beyond the originals")
    if args.detail:
        for layout in ("stored", "packed"):
            print(f"{layout}, KB a request (pages of 4 KB, so a table or index of one page is "
                  f"{4.096 / n:.2f} KB a request at {n}):")
            tables = results[layout]["tables"]
            small = [size for _, size in tables if size * n <= 4096]
            print("  " + ", ".join(f"{name} {size / 1e3:.2f}" for name, size in tables if size * n > 4096)
                  + f", and {len(small)} more of one page: {sum(small) / 1e3:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

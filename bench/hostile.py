"""What the worst mails cost: time and peak memory of `run --once` per hostile case, beside a normal request's.

Run on demand:  python bench/hostile.py
It starts a private Dovecot + SMTP relay on loopback (as the tests do; the relay in a process of its own, as a
real mail server is, so that the raw side's client does not share an interpreter with it). For each case a
fresh office gets the mail in its inbox and `officeflow run --once` runs in a child process; printed per case:
  raw:        imaplib fetch of the mail + sending it once over SMTP (the floor for any mail of that size);
  officeflow: wall time and peak RSS (the daemon and the attachment readers it starts) of `run --once`,
              and the ratio of both to the normal request's.
The last case puts an approver's 同意 behind a zip bomb and a huge References mail: the time of that pass is
how long the 同意 waited (the daemon stays responsive when it is a few seconds).
"""

from __future__ import annotations

import imaplib
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from flow import GOOD_BODY, Office, crlf, docx_bytes  # noqa: E402
from mailservers import MailServers  # noqa: E402
from test_doctext_limits import bomb_docx  # noqa: E402
from test_hostile import encoded, nested  # noqa: E402


def request(office: Office, subject="关于购置办公设备的请示", body=GOOD_BODY, attachments=None) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = office.addr["unit1"], office.addr["office"], subject
    msg["Message-ID"] = f"<bench-{time.time_ns()}@{office.domain}>"
    msg.set_content(body)
    for name, data in attachments if attachments is not None else [
            ("办公设备购置清单.docx", docx_bytes(["办公设备购置清单", "台式计算机 10台"]))]:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return crlf(msg)


def by_hand(office: Office, subject: str, extra: str = "", body: str = GOOD_BODY) -> bytes:
    import base64
    return (f"From: {office.addr['unit1']}\r\nTo: {office.addr['office']}\r\nSubject: {encoded(subject)}\r\n"
            f"Message-ID: <bench-{time.time_ns()}@{office.domain}>\r\n{extra}MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{base64.encodebytes(body.encode()).decode()}").encode()


def huge_references(office: Office) -> bytes:
    refs = "\r\n ".join(f"<junk{i}.xxxxx@spam.test>" for i in range(67_000))
    return by_hand(office, "关于增加培训经费的请示", extra=f"References: {refs}\r\n")


def html_quotes(office: Office) -> bytes:
    html = "\r\n".join(["<blockquote>" * 50] * 400 + ["<br>x" * 100] * 200)
    return (f"From: {office.addr['unit1']}\r\nTo: {office.addr['office']}\r\n"
            f"Subject: {encoded('关于购置办公设备的请示')}\r\nMessage-ID: <bench-{time.time_ns()}@{office.domain}>\r\n"
            f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n").encode()


def pdf_pages(n: int) -> bytes:
    from fpdf import FPDF
    pdf = FPDF()
    for i in range(n):
        pdf.add_page()
        pdf.set_font("helvetica", size=10)
        for line in range(40):
            pdf.cell(0, 6, f"page {i} line {line} " + "x" * 60, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


CASES = {
    "normal request (docx)": lambda o: [request(o)],
    "1 MB subject": lambda o: [by_hand(o, "关于" + "购置" * 350_000, body="请审批。")],
    "1 MB References (67,000 IDs)": lambda o: [huge_references(o)],
    ".docx zip bomb (100 MB inside)": lambda o: [request(o, "报送请示", "请审阅附件。",
                                                         [("关于购置办公设备的请示.docx", bomb_docx())])],
    "PDF of 2,000 pages": lambda o: [request(o, "报送请示", "请审阅附件。",
                                             [("关于购置办公设备的请示.pdf", pdf_pages(2000))])],
    "MIME nested 300 levels": lambda o: [nested(300).replace(b"unit1@t.test", o.addr["unit1"].encode())],
    "HTML with 20,000 nested quotes": lambda o: [html_quotes(o)],
}


def raw_baseline(office: Office, raws: list[bytes]) -> float:
    s = office.servers
    for raw in raws:
        s.append(office.addr["office"], raw)
    start = time.perf_counter()
    imap = imaplib.IMAP4("127.0.0.1", s.imap_port)
    imap.login(office.addr["office"], s.password)
    imap.select("INBOX")
    typ, data = imap.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
    fetched = [d[1] for d in data if isinstance(d, tuple)]
    with smtplib.SMTP("127.0.0.1", s.smtp_port) as smtp:
        for raw in fetched:
            smtp.sendmail(office.addr["office"], [office.addr["clerk"]], raw)
    imap.logout()
    return time.perf_counter() - start


# The peak is read inside the child: a forked process inherits its parent's high-water mark across exec, so
# the rusage of a child started from this (large) bench process would report the bench's own memory.
_MEASURED = """
import resource, sys
from daemon.cli import main
code = main(["run", "--once", "-c", sys.argv[1]])
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
readers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("PEAK", max(hwm, readers), file=sys.stderr)
sys.exit(code)
"""


def run_once(office: Office) -> tuple[float, float]:
    """Wall seconds and peak RSS in MB (the daemon or any attachment reader it started) of `run --once`."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _MEASURED, str(office.config_path)], cwd=ROOT,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-2000:]
    peak = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK"))
    return elapsed, peak / 1024


def approval_behind_the_worst(servers) -> tuple[float, bool]:
    with tempfile.TemporaryDirectory() as tmp:
        office = Office(servers, servers.new_domain(), Path(tmp))
        office.servers.append(office.addr["office"], request(office))
        office.run_once()
        office.reply("clerk", office.last("clerk", "请审核"), "受理\n流程：王总")
        office.run_once()
        note = office.last("wang", "请审批")
        for raw in CASES[".docx zip bomb (100 MB inside)"](office) + [huge_references(office)]:
            office.servers.append(office.addr["office"], raw)
        office.reply("wang", note, "同意")
        elapsed, _ = run_once(office)
        db = office.db()
        return elapsed, db.Request.get(db.Request.title == "关于购置办公设备的请示").state == "approved"


def main() -> int:
    os.environ.setdefault("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    servers = MailServers(relay_process=True).start()
    rows = []
    try:
        for name, make in CASES.items():
            with tempfile.TemporaryDirectory() as tmp:
                base = Office(servers, servers.new_domain(), Path(tmp))
                base.servers.add_users([base.addr["office"]])
                t_raw = raw_baseline(base, make(base))
            with tempfile.TemporaryDirectory() as tmp:
                office = Office(servers, servers.new_domain(), Path(tmp))
                raws = make(office)
                size = sum(len(r) for r in raws)
                for raw in raws:
                    office.servers.append(office.addr["office"], raw)
                t_of, rss = run_once(office)
                left = len(office.servers.messages(office.addr["office"]))
            rows.append((name, size, t_raw, t_of, rss, left))
        t_ok, approved = approval_behind_the_worst(servers)
    finally:
        servers.stop()
    normal_t, normal_rss = rows[0][3], rows[0][4]
    print(f"{'case':34} {'mail':>9} {'raw s':>7} {'run s':>7} {'x raw':>6} {'x normal':>8} {'peak MB':>8} "
          f"{'x normal':>8} left")
    for name, size, t_raw, t_of, rss, left in rows:
        print(f"{name:34} {size / 1024:8.0f}K {t_raw:7.2f} {t_of:7.2f} {t_of / t_raw:6.1f} {t_of / normal_t:8.2f} "
              f"{rss:8.0f} {rss / normal_rss:8.2f} {left}")
    print(f"同意 behind a zip bomb and a 1 MB References mail: handled in the same pass of {t_ok:.2f} s "
          f"({t_ok / normal_t:.2f}x a normal request's pass); approved: {approved}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How the views of the register hold up as years of requests pile up, against a raw read of the same table.

Run on demand:  python bench/scale.py [--requests 5000 50000]
For each size it builds a database through the models (a realistic mix: most requests done, some rejected or
withdrawn, a few hundred open at every stage, each with its steps, opinions and 收发记录 lines and the stored
copies of sent mail), then times in the same process:
  raw:        sqlite3 `SELECT * FROM request` fetched whole — the floor of reading the register once;
  officeflow: list, list --pending, show, export --csv, the daily digest and the weekly summary (context and
              rendered mail), each with its ratio to raw.
Targets: list --pending <= 0.2 s at 5,000 and <= 1 s at 50,000; show <= 0.2 s; digest and weekly <= 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

os.environ.setdefault("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")

from daemon import chase, clock, models, outbox, records  # noqa: E402
from daemon.app import App  # noqa: E402
from daemon.config import load_config  # noqa: E402

PEOPLE = [("caiwu", "财务科"), ("shenji", "审计科"), ("zonghe", "综合科"), ("xingzheng", "行政科"), ("li", "李副总"),
          ("wang", "王总")]
UNITS = [f"unit{i}" for i in range(1, 21)]
MIX = [("done", 70), ("rejected", 8), ("withdrawn", 5), ("approved", 6), ("approving", 6), ("reviewing", 3),
       ("returned", 2)]
BODY = "集团公司办公室：\n    因业务量增加，拟购置台式计算机10台，预算约6万元。\n    妥否，请批示。\n\n第一分公司\n" * 3


def write_config(tmp: Path) -> Path:
    people = "\n".join(f'[[people]]\nid = "{i}"\nname = "{n}"\nemail = "{i}@example.test"\n' for i, n in PEOPLE)
    units = "\n".join(f'[[units]]\nid = "{u}"\nname = "第{k}分公司"\nemails = ["{u}@example.test"]\n'
                      for k, u in enumerate(UNITS, 1))
    path = tmp / "officeflow.toml"
    path.write_text(f"""
[office]
name = "集团公司办公室"
address = "office@example.test"
staff = ["clerk@example.test"]
head = "director@example.test"

[imap]
host = "127.0.0.1"
username = "office@example.test"
password_env = "UNUSED"

[smtp]
host = "127.0.0.1"
from = "集团公司办公室 <office@example.test>"

[database]
url = "sqlite:///{tmp}/officeflow.db"

[archive]
path = "{tmp}/archive"

{people}
{units}
[[routes]]
steps = ["财务科", "李副总"]
execute = "综合科"
""", encoding="utf-8")
    return path


def build(n: int, seed: int = 7) -> None:
    """n requests over the last years, with their steps, opinions, mail lines and stored mail."""
    rnd = random.Random(seed)
    now = clock.now().astimezone(timezone.utc)
    states = [s for s, w in MIX for _ in range(w)]
    reqs, steps, opinions, mails, stored = [], [], [], [], []
    mail_id = 0
    for i in range(1, n + 1):
        received = now - timedelta(minutes=rnd.randint(30, 60 * 24 * 365 * 4))
        if i > n - 300:                                  # the open ones are recent
            state = rnd.choice(["approving", "approving", "approved", "reviewing", "returned"])
            received = now - timedelta(minutes=rnd.randint(30, 60 * 24 * 40))
        else:
            state = rnd.choice(states)
        unit = rnd.choice(UNITS)
        closed = received + timedelta(days=rnd.randint(1, 20)) if state in ("done", "rejected", "withdrawn") else None
        decided = received + timedelta(hours=rnd.randint(2, 72))
        reqs.append(dict(id=i, number=f"办请〔{received.year}〕{i}号", year=received.year, seq=i, state=state,
                         unit_id=unit, unit_name=f"第{UNITS.index(unit) + 1}分公司", sender=f"{unit}@example.test",
                         title=f"关于购置办公设备的请示（{i}）", body=BODY, message_id=f"r{i}@example.test",
                         received_at=received, updated_at=closed or decided, state_since=closed or decided,
                         proposal="拟同意，请财务科审核后报李副总审批。", proposal_by="办公室", proposal_at=received,
                         route="财务科，李副总", execute=["zonghe@example.test"], copies=["xingzheng@example.test"],
                         result={"done": "同意", "approved": "同意", "rejected": "不同意", "withdrawn": "撤回"}.get(state, ""),
                         closed_at=closed, code=f"C{i:06d}", attachments=[], findings=[]))
        if state in ("reviewing", "returned"):
            step_states = []
        elif state == "approving":
            step_states = rnd.choice([["active", "pending"], ["approved", "active"]])
        elif state == "rejected":
            step_states = ["approved", "rejected"]
        else:
            step_states = ["approved", "approved"]
        for pos, (st, who) in enumerate(zip(step_states, ("caiwu", "li")), 1):
            sid = len(steps) + 1
            activated = received + timedelta(hours=pos) if st != "pending" else None
            steps.append(dict(id=sid, request=i, position=pos, kind="one", approvers=[f"{who}@example.test"],
                              signed=[], state=st, code=f"S{sid:07d}", activated_at=activated,
                              decided_at=decided if st in ("approved", "rejected") else None,
                              next_reminder_at=(activated + timedelta(days=1)) if st == "active" else None,
                              decided_by=f"{who}@example.test" if st in ("approved", "rejected") else ""))
            if st in ("approved", "rejected"):
                opinions.append(dict(request=i, step=sid, person=f"{who}@example.test", name=who,
                                     decision="同意" if st == "approved" else "不同意", text="同意。", at=decided))
        if state in ("approved", "done"):
            # the 办结回告 the executing unit owes: active until 办结, due ten days after the approval
            sid = len(steps) + 1
            steps.append(dict(id=sid, request=i, position=3, kind="report", approvers=["zonghe@example.test"],
                              signed=[], state="active" if state == "approved" else "approved", code=f"S{sid:07d}",
                              activated_at=decided, decided_at=closed, next_reminder_at=(
                                  decided + timedelta(days=14) if state == "approved" else None),
                              decided_by="zonghe@example.test" if state == "done" else ""))
        for k, (direction, kind) in enumerate([("in", "request"), ("out", "receipt"), ("out", "review"),
                                               ("in", "decision"), ("out", "approval"), ("out", "result_execute")]):
            mail_id += 1
            mails.append(dict(id=mail_id, direction=direction, message_id=f"m{mail_id}@example.test", request=i,
                              kind=kind, at=received + timedelta(minutes=k), sender="office@example.test",
                              rcpts=[f"{unit}@example.test"], subject=f"【办请〔{received.year}〕{i}号】{kind}",
                              action=kind))
            if direction == "out":
                stored.append(dict(mail=mail_id, mail_from="office@example.test", rcpts=[f"{unit}@example.test"],
                                   data=b"x" * 3000, state="sent", next_attempt_at=received, sent_at=received))
    with models.db.atomic():
        for model, rows in ((models.Request, reqs), (models.Step, steps), (models.Opinion, opinions),
                            (models.Mail, mails), (models.Outbox, stored)):
            for start in range(0, len(rows), 400):
                model.insert_many(rows[start:start + 400]).execute()
        models.Counter.insert(name="request-2026", value=n).on_conflict_replace().execute()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(write_config(Path(tmp)), need_secrets=False)
        models.connect(cfg.database.url)
        app = App(cfg)
        t_build = timed(lambda: build(n))
        db_file = Path(tmp) / "officeflow.db"
        models.db.obj.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        size = db_file.stat().st_size

        def raw():
            con = sqlite3.connect(db_file)
            con.execute("SELECT * FROM request").fetchall()
            con.close()
        t_raw = min(timed(raw) for _ in range(3))
        middle = models.Request.get(models.Request.seq == n // 2)
        monday = clock.now().astimezone(app.tz).date() - timedelta(days=clock.now().astimezone(app.tz).weekday())
        rnd = outbox.renderer_for(cfg.office.timezone)
        base = {"office": cfg.office, "code": "", "now": clock.now(), "tz": cfg.office.timezone}
        views = {
            "list": lambda: records.list_lines(app),
            "list --pending": lambda: records.list_lines(app, pending=True),
            "show": lambda: records.show_text(app, models.Request.get_by_id(middle.id)),
            "export --csv": lambda: records.export_csv(app, Path(tmp) / "register.csv"),
            "daily digest": lambda: rnd.render("digest", {**base, **chase.digest_context(app)}),
            "weekly summary": lambda: rnd.render("weekly", {**base, **chase.weekly_context(app, monday)}),
        }
        print(f"\n{n} requests (built in {t_build:.1f} s; database {size / 1e6:.1f} MB, "
              f"{size / n / 1e3:.1f} KB per request)")
        print(f"  raw SELECT * FROM request:  {t_raw * 1000:8.1f} ms")
        for name, fn in views.items():
            t = min(timed(fn) for _ in range(2))
            print(f"  {name:<26}  {t * 1000:8.1f} ms   {t / t_raw:7.1f}x raw")
        models.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, nargs="+", default=[5000, 50000])
    args = ap.parse_args()
    for n in args.requests:
        run(n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

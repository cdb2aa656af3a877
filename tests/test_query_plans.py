"""What intake asks of the database stays a lookup however long the register grows: no statement it runs for a
request's mail reads a whole table of requests, steps, mail or outbox (SQLite's EXPLAIN QUERY PLAN of each); nor
does sending what is queued or `officeflow status`, whose lookups of the outbox by state find the rows not sent in
their own index.

SQLite plans without statistics (officeflow never runs ANALYZE), so the plans do not depend on how many rows
the tables hold, and a database of one request shows those of one of 50,000.
"""

from __future__ import annotations

import re

from test_intake_edges import BODY, world  # noqa: F401 - the fixture: an office in process on SQLite

from daemon import health, intake, models, outbox, smtp

GROWING = {"request", "step", "mail", "outbox", "opinion", "signercode"}
# an index lookup on a column of two values alone reads half the table
LOW_CARDINALITY = re.compile(r"\((direction|ignored)=\?\)$")


def _tables(sql: str) -> dict[str, str]:
    """Alias (or name) -> table of every table the statement names."""
    named = {t: t for t in re.findall(r'(?:FROM|JOIN|UPDATE|INTO)\s+"(\w+)"', sql)}
    named.update({alias: table for table, alias in re.findall(r'"(\w+)" AS "(\w+)"', sql)})
    return named


def _whole_reads(sql: str, plan: list[str]) -> list[str]:
    """The lines of the plan that read a growing table whole (or half of it through a two-valued column)."""
    tables = _tables(sql)
    bad = []
    for line in plan:
        # SQLite >= 3.36 writes "SCAN t1", older releases "SCAN TABLE mail AS t1"
        scan = re.match(r"SCAN (?:TABLE )?(\w+)(?: AS (\w+))?", line)
        if scan and tables.get(scan.group(2) or scan.group(1), scan.group(1)) in GROWING:
            bad.append(line)
        search = re.match(r"SEARCH (?:TABLE )?(\w+)(?: AS (\w+))? USING .*INDEX", line)
        if search and tables.get(search.group(2) or search.group(1)) in GROWING and LOW_CARDINALITY.search(line):
            bad.append(line)
    return bad


class Recorded:
    """Every statement that reads, changes or removes rows while intake takes a mail in (not the test's reading
    of the outbox)."""

    def __init__(self, world, monkeypatch):
        self.world = world
        self.database = models.db.obj
        self.run = self.database.execute_sql
        self.statements: dict[str, tuple] = {}
        self.on = False
        monkeypatch.setattr(self.database, "execute_sql", self.execute_sql)

    def execute_sql(self, sql, params=None, *args, **kwargs):
        if self.on and sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            self.statements.setdefault(sql, params)
        return self.run(sql, params, *args, **kwargs)

    def send(self, *args, **kwargs) -> str:
        return self.during(self.world.send, *args, **kwargs)

    def during(self, run, *args, **kwargs):
        self.on = True
        try:
            return run(*args, **kwargs)
        finally:
            self.on = False

    def plans(self) -> dict[str, list[str]]:
        return {sql: [row[3] for row in self.run("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
                for sql, params in self.statements.items()}

    def whole_reads(self) -> dict[str, list[str]]:
        return {sql: bad for sql, plan in self.plans().items() if (bad := _whole_reads(sql, plan))}


def test_the_plan_reader_sees_a_scan_of_mail_and_a_lookup_by_direction_alone():
    sql = 'SELECT "t1"."id" FROM "mail" AS "t1" WHERE ("t1"."subject" = ?)'
    assert _whole_reads(sql, ["SCAN t1"]) == ["SCAN t1"]
    assert _whole_reads(sql, ["SCAN TABLE mail AS t1"]) == ["SCAN TABLE mail AS t1"]
    assert _whole_reads(sql, ["SEARCH t1 USING INDEX mail_direction_message_id (direction=?)"])
    assert not _whole_reads(sql, ["SEARCH t1 USING INDEX mail_direction_message_id (direction=? AND message_id=?)"])
    assert not _whole_reads('SELECT 1 FROM "job" AS "t1"', ["SCAN t1"])
    assert not _whole_reads(sql, ["SCAN CONSTANT ROW"])


def test_intake_reads_no_growing_table_whole_through_a_request_s_life(world, monkeypatch):
    mail = Recorded(world, monkeypatch)
    assert mail.send("unit1@t.test", "关于购置办公设备的请示", BODY) == intake.PROCESSED
    review = world.last_to("clerk@t.test")
    mail.send("clerk@t.test", "回复：" + review.subject, "受理\n流程：王总", reply_to=review)
    note = world.last_to("wang@t.test", "请审批")
    mail.send("wang@t.test", "回复：" + note.subject, "同意", reply_to=note)
    result = world.last_to("zonghe@t.test")
    mail.send("zonghe@t.test", "回复：" + result.subject, "办结：已采购到位。", reply_to=result)
    mail.send("zonghe@t.test", "回复：" + result.subject, "办结：已采购到位。", reply_to=result)   # late: told so
    mail.send("unit1@t.test", "查询", "查询")
    mail.send("stranger@else.test", "你好", "请问贵办地址？")
    assert world.request().state == "done"
    # the statements of the mails' lookups were seen: by Message-ID, by code, by number, by sender and time
    seen = "\n".join(mail.statements)
    assert '"message_id" IN' in seen and '"code" = ?' in seen and '"number" = ?' in seen
    assert '"received_at" >= ?' in seen
    found = mail.whole_reads()
    assert not found, "\n".join(f"{', '.join(plan)}: ...{sql[-160:]}" for sql, plan in found.items())


def _sent_at_once(cfg, batch, on_result=None):
    """smtp.send_batch as a server that takes every message."""
    results = [smtp.SendResult(key=m.key, ok=True, temporary=False, error="") for m in batch]
    for res in results:
        on_result(res)
    return results


def test_sending_and_status_find_the_rows_not_sent_in_their_index(world, monkeypatch):
    assert world.send("unit1@t.test", "关于购置办公设备的请示", BODY) == intake.PROCESSED
    world.send("stranger@else.test", "你好", "请问贵办地址？")
    queued = models.Outbox.select().where(models.Outbox.state == "queued").count()
    assert queued >= 3
    monkeypatch.setattr(smtp, "send_batch", _sent_at_once)
    mail = Recorded(world, monkeypatch)
    assert mail.during(outbox.flush, world.cfg) == queued
    # sending as on PostgreSQL, each result committed with the claim kept fresh
    world.send("stranger@else.test", "再问", "请问贵办电话？")
    monkeypatch.setattr(models, "sent_journal", lambda: None)
    assert mail.during(outbox.flush, world.cfg) == 1
    report = health.Report()
    mail.during(health._database, world.cfg, report)
    assert report.outbox_queued == 0 and report.outbox_failed_last_day == 0
    plans = mail.plans()
    by_state = {sql: plan for sql, plan in plans.items() if re.search(r'"outbox".*"state" = \?', sql, re.S)
                and "WHERE" in sql and not re.search(r'"id" (IN|=)', sql.partition("WHERE")[2])}
    # the queue's lookup, the claimed rows, the claim kept fresh, the orphans, and status's unsent and failed
    assert len(by_state) >= 6, "\n".join(by_state)
    assert all("outbox_unsent" in " ".join(plan) for plan in by_state.values()), by_state
    found = mail.whole_reads()
    assert not found, "\n".join(f"{', '.join(plan)}: ...{sql[-160:]}" for sql, plan in found.items())

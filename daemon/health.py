"""The health of an installation for `officeflow status` and the heartbeats the daemon leaves for it.

Nothing here changes a request, a mail or the mailbox; the only rows written are the heartbeats.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import peewee as pw

from daemon import clock, models
from daemon.models import APPROVED, APPROVING, ACTIVE, OPEN_STATES, REPORT, Job, Mail, Outbox, Request, Step

IMAP_CONTACT = "heartbeat-imap"      # the last time the daemon talked to the IMAP server successfully
DAEMON_ALIVE = "heartbeat-daemon"    # the last pass of the daemon's loop (also while it waits to reconnect)
STALE = timedelta(minutes=10)        # no heartbeat for this long: the daemon or the IMAP server is in trouble
LATE = timedelta(minutes=15)         # mail that waits this long in INBOX or in the outbox is stuck

HEALTHY, DEGRADED, DOWN = "healthy", "degraded", "down"
EXIT = {HEALTHY: 0, DEGRADED: 1, DOWN: 2}


def beat(*names: str) -> None:
    """Record that each of `names` happened now (one row per heartbeat, overwritten), in one statement."""
    now = clock.now()
    Job.insert_many([{"name": n, "done_at": now} for n in names]).on_conflict(
        conflict_target=[Job.name], update={Job.done_at: now}).execute()


@dataclass
class Report:
    status: str = HEALTHY
    problems: list[str] = field(default_factory=list)
    daemon_running: bool | None = None
    daemon_seen_by: str = ""                  # "systemd (active)" or "heartbeat"
    daemon_heartbeat: datetime | None = None
    last_imap_contact: datetime | None = None
    inbox_waiting: int | None = None          # None: the mailbox was not looked at
    inbox_oldest: datetime | None = None
    failed_folder: int | None = None
    failed_last_day: int = 0                  # incoming mails moved to Failed in the last 24 hours
    outbox_queued: int = 0
    outbox_oldest_unsent: datetime | None = None
    outbox_failed_last_day: int = 0
    requests_overdue: int = 0                 # open, past their 时限 or with an escalated step
    next_reminder: datetime | None = None
    schema_version: int | None = None         # as stored in the database
    schema_expected: int | None = None        # what this release writes

    def worse(self, status: str, problem: str) -> None:
        self.problems.append(problem)
        if EXIT[status] > EXIT[self.status]:
            self.status = status

    def as_json(self) -> dict:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


def systemd_state(unit: str) -> str | None:
    """ActiveState of `unit` when systemd runs this machine and knows the unit; else None."""
    if not unit or shutil.which("systemctl") is None:
        return None
    try:
        out = subprocess.run(["systemctl", "show", "--property=LoadState,ActiveState", unit],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    props = dict(line.partition("=")[::2] for line in out.stdout.splitlines())
    if out.returncode != 0 or props.get("LoadState") != "loaded":
        return None
    return props.get("ActiveState") or None


def check(cfg, unit: str = "officeflow.service") -> Report:
    """Look at the database, the daemon and the mailbox; never raises for what it finds."""
    report = Report()
    url = cfg.database.url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:" and not Path(url[len("sqlite:///"):]).exists():
        report.worse(DOWN, "database %s does not exist (has the daemon ever run?)" % url[len("sqlite:///"):])
        return report
    try:
        database = models.connect(url, upgrade=False)
        if not _schema(database, report):
            return report
        _database(cfg, report)
    except pw.DatabaseError as e:
        report.worse(DOWN, "database: %s" % e)
        return report
    finally:
        models.close()
    _daemon(report, unit)
    _mailbox(cfg, report)
    return report


def _since(when: datetime | None, now: datetime) -> timedelta | None:
    return None if when is None else max(timedelta(0), now - when)


def _schema(database, report: Report) -> bool:
    """The schema version stored and the one this release writes; False when the rest cannot be read."""
    from daemon import migrations
    report.schema_version, report.schema_expected = migrations.stored_version(database), migrations.VERSION
    if report.schema_version is None:
        report.worse(DOWN, "the database is empty (has the daemon ever run?)")
        return False
    if report.schema_version > migrations.VERSION:
        report.worse(DOWN, "the database was written by a newer release (schema version %d, this one knows up "
                           "to %d)" % (report.schema_version, migrations.VERSION))
        return False
    if report.schema_version < migrations.VERSION:
        report.worse(DEGRADED, "database schema version %d, this release writes %d: the daemon of this release "
                               "upgrades it when it starts" % (report.schema_version, migrations.VERSION))
    return True


def _database(cfg, report: Report) -> None:
    from zoneinfo import ZoneInfo
    now = clock.now()
    beats = {j.name: j.done_at for j in Job.select().where(Job.name.in_([IMAP_CONTACT, DAEMON_ALIVE]))}
    report.last_imap_contact = beats.get(IMAP_CONTACT)
    report.daemon_heartbeat = beats.get(DAEMON_ALIVE)
    age = _since(report.last_imap_contact, now)
    if age is None:
        report.worse(DEGRADED, "no successful IMAP contact recorded yet")
    elif age > STALE:
        report.worse(DEGRADED, "no successful IMAP contact for %s" % _words(age))

    # an OR, not IN: SQLite finds the outbox's index of the rows not sent only so (models.UNSENT)
    unsent = Outbox.select(pw.fn.COUNT(Outbox.id), pw.fn.MIN(Mail.at)).join(Mail).where(
        (Outbox.state == "queued") | (Outbox.state == "sending")).tuples().first()
    report.outbox_queued, report.outbox_oldest_unsent = unsent[0] or 0, _as_time(unsent[1])
    late = _since(report.outbox_oldest_unsent, now)
    if late is not None and late > LATE:
        report.worse(DEGRADED, "outbox: %d mails unsent, the oldest for %s" % (report.outbox_queued, _words(late)))
    day_ago = now - timedelta(days=1)
    report.outbox_failed_last_day = Outbox.select().join(Mail).where(
        (Outbox.state == "failed") & (Mail.at > day_ago)).count()
    if report.outbox_failed_last_day:
        report.worse(DEGRADED, "outbox: %d mails of the last day could not be delivered"
                     % report.outbox_failed_last_day)
    report.failed_last_day = Mail.select().where(
        (Mail.direction == "in") & (Mail.kind == "failed") & (Mail.at > day_ago)).count()
    if report.failed_last_day:
        report.worse(DEGRADED, "%d incoming mails of the last day could not be read (moved to %s)"
                     % (report.failed_last_day, cfg.imap.failed_folder))

    today = now.astimezone(ZoneInfo(cfg.office.timezone)).date()
    escalated = Step.select(Step.request).where((Step.state == ACTIVE) & Step.escalated_at.is_null(False))
    report.requests_overdue = Request.select().where(
        Request.state.in_(OPEN_STATES) & ((Request.deadline < today) | Request.id.in_(escalated))).count()
    # an approver's reminder, or an executing unit's 请报办结情况
    nxt = Step.select(pw.fn.MIN(Step.next_reminder_at)).join(Request).where(
        (Step.state == ACTIVE) & ((Request.state == APPROVING)
                                  | ((Step.kind == REPORT) & (Request.state == APPROVED)))).scalar()
    report.next_reminder = _as_time(nxt)


def _as_time(value) -> datetime | None:
    """Aggregates (MIN) come back as the stored text, not through the field's conversion."""
    return models.UTCDateTimeField().python_value(value) if value is not None else None


def _daemon(report: Report, unit: str) -> None:
    state = systemd_state(unit)
    alive = report.daemon_heartbeat
    if state is not None:
        report.daemon_seen_by = "systemd (%s)" % state
        report.daemon_running = state in ("active", "reloading")
    else:
        report.daemon_seen_by = "heartbeat"
        age = _since(alive, clock.now())
        report.daemon_running = age is not None and age <= STALE
    if not report.daemon_running:
        report.worse(DOWN, "the daemon is not running (%s)" % (
            report.daemon_seen_by if state is not None else
            "no heartbeat recorded" if alive is None else "last heartbeat %s ago" % _words(_since(alive, clock.now()))))


def _mailbox(cfg, report: Report) -> None:
    from daemon.mailbox import MailboxError, MailboxGone, survey
    if cfg.imap.password is None:
        return          # the service's credentials are not here: the heartbeat tells about IMAP
    try:
        seen = survey(cfg.imap)
    except (MailboxError, MailboxGone) as e:
        report.worse(DEGRADED, "IMAP: %s" % e)
        return
    report.inbox_waiting, report.inbox_oldest, report.failed_folder = seen.messages, seen.oldest, seen.failed
    late = _since(seen.oldest, clock.now())
    if late is not None and late > LATE:
        report.worse(DEGRADED, "%s: %d mails waiting, the oldest for %s" % (cfg.imap.folder, seen.messages,
                                                                           _words(late)))


def _words(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 120:
        return "%d min" % minutes
    if minutes < 48 * 60:
        return "%d h" % (minutes // 60)
    return "%d days" % (minutes // 1440)


def lines(report: Report, tz: str) -> list[str]:
    """The report as an admin reads it."""
    from zoneinfo import ZoneInfo
    zone = ZoneInfo(tz)

    def at(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %z") if value else "-"

    def count(value) -> str:
        return "not looked at (no IMAP password here)" if value is None else str(value)

    out = ["officeflow: %s" % report.status]
    out += ["  problem: %s" % p for p in report.problems]
    out += [
        "daemon running: %s (by %s)" % ({True: "yes", False: "no", None: "?"}[report.daemon_running],
                                        report.daemon_seen_by or "-"),
        "last IMAP contact: %s" % at(report.last_imap_contact),
        "mail waiting in INBOX: %s (oldest %s)" % (count(report.inbox_waiting), at(report.inbox_oldest)),
        "mails in Failed: %s (%d in the last day)" % (count(report.failed_folder), report.failed_last_day),
        "outbox: %d queued, oldest unsent %s, %d failed in the last day" % (
            report.outbox_queued, at(report.outbox_oldest_unsent), report.outbox_failed_last_day),
        "requests overdue: %d" % report.requests_overdue,
        "next reminder due: %s" % at(report.next_reminder),
        "schema version: %s (this release: %s)" % (
            report.schema_version if report.schema_version is not None else "-", report.schema_expected or "-"),
    ]
    return out

"""The `officeflow` command line: argparse subcommands and exit codes; the work is done elsewhere."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date, datetime
from pathlib import Path

from daemon import __version__


def _setup_logging(verbose: bool = False) -> None:
    level = os.environ.get("OFFICEFLOW_LOG_LEVEL", "DEBUG" if verbose else "INFO").upper()
    journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(name)s: %(message)s" if journald else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)


def _config(args, need_secrets: bool = True):
    from daemon.config import ConfigError, load_config
    try:
        return load_config(args.config, need_secrets=need_secrets)
    except ConfigError as e:
        print(f"officeflow: config error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def _db(cfg):
    from daemon import models
    from daemon.app import App
    models.connect(cfg.database.url)
    return App(cfg)


def _request(number: str):
    from daemon.models import Request
    req = Request.get_or_none(Request.number == number)
    if req is None:
        print(f"officeflow: no request {number}", file=sys.stderr)
        raise SystemExit(1)
    return req


def cmd_run(args) -> int:
    import peewee
    from daemon import service
    from daemon.mailbox import MailboxError, MailboxGone
    cfg = _config(args)
    try:
        return service.run(cfg, once=args.once)
    except service.AlreadyRunning as e:
        logging.getLogger("officeflow").error("- not started: %s", e)
        return 1
    except (MailboxError, MailboxGone, OSError, peewee.DatabaseError) as e:
        what = "database" if isinstance(e, peewee.DatabaseError) else "mailbox"
        logging.getLogger("officeflow").error("- cannot reach the %s: %s", what, e)
        return 1


def cmd_check_config(args) -> int:
    from daemon import mailbox, smtp
    cfg = _config(args)
    print(f"{cfg.path}: config ok ({len(cfg.people)} people, {len(cfg.units)} units, {len(cfg.routes)} routes)")
    rc = 0

    def imap(part) -> str:
        seen = mailbox.survey(part)
        return (f"ok: {seen.messages} messages in {part.folder}\n"
                f"IMAP server offers {seen.offers()}; officeflow {seen.mode(part)}")

    for name, fn, part in (("IMAP", imap, cfg.imap), ("SMTP", smtp.check_login, cfg.smtp)):
        try:
            print(f"{name} {part.host}:{part.port} ({part.security}): {fn(part)}")
        except Exception as e:  # noqa: BLE001 - report every failure plainly
            print(f"{name} {part.host}:{part.port} ({part.security}): FAILED: {e}", file=sys.stderr)
            rc = 1
    return rc


def cmd_status(args) -> int:
    import json
    from daemon import health
    cfg = _config(args, need_secrets=False)
    report = health.check(cfg, unit=args.unit)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        print("\n".join(health.lines(report, cfg.office.timezone)))
    return health.EXIT[report.status]


def cmd_list(args) -> int:
    from daemon import records
    app = _db(_config(args, need_secrets=False))
    for line in records.list_lines(app, pending=args.pending, kind=args.kind, overdue=args.overdue,
                                   unit=args.unit or "", leader=args.leader or ""):
        print(line)
    return 0


def cmd_show(args) -> int:
    from daemon import records
    app = _db(_config(args, need_secrets=False))
    req = _request(args.number)
    print(records.show_text(app, req))
    if args.eml:
        written = records.dump_eml(app, req, Path(args.eml))
        print(f"{len(written)} mails written to {args.eml}")
    return 0


def cmd_export(args) -> int:
    from daemon import records
    app = _db(_config(args, need_secrets=False))
    n = records.export_csv(app, Path(args.csv), args.since, args.until, kind=args.kind)
    print(f"{n} {'交办' if args.kind == '交办' else 'requests'} written to {args.csv}")
    return 0


def cmd_ledger(args) -> int:
    from daemon.jiaoban import ledger
    app = _db(_config(args, need_secrets=False))
    leader = ""
    if args.leader:
        party = app.directory.resolve(args.leader)
        leader = party.address if party else ""
        if leader not in {p.email for p in app.cfg.leaders}:
            print(f"officeflow: not a leader (leader = true) in the config: {args.leader}", file=sys.stderr)
            return 1
    print(ledger.text(app, ledger.week_start(app, args.week), leader))
    return 0


def cmd_form(args) -> int:
    from daemon import views
    from daemon.docform import render_docx
    app = _db(_config(args, need_secrets=False))
    req = _request(args.number)
    Path(args.path).write_bytes(render_docx(views.form_data(app, req)))
    print(f"{req.number}: form written to {args.path}")
    return 0


def cmd_prune(args) -> int:
    from daemon import records
    app = _db(_config(args, need_secrets=False))
    before = args.before or records.keep_before(app)
    if before is None:
        print("officeflow: prune: give --before DATE, or set [archive] keep in the config", file=sys.stderr)
        return 2
    done = records.prune(app, before, apply=args.yes)
    what = (f"{done.mails} stored copies of sent mail and {done.attachments} attachments ({done.size / 1e6:.1f} MB) "
            f"of {done.requests} requests closed before {before}")
    if args.yes:
        print(f"removed {what}; the register, the opinions and the 收发记录 stay")
    else:
        print(f"would remove {what}; nothing removed: run again with --yes")
    return 0


def cmd_check(args) -> int:
    from daemon.checks import main_check
    return main_check(args.file)


def cmd_rules(args) -> int:
    from daemon import flows
    from daemon.rules import listing
    print("\n\n".join(f"【{flow.kind}】\n{listing(flow.table, flow.states)}" for flow in flows.FLOWS.values()))
    return 0


def cmd_deadline(args) -> int:
    from daemon import clock, deadline
    from daemon.workcal import WorkCalendar
    if args.config:
        from daemon.app import App
        cal = App(_config(args, need_secrets=False)).calendar
    else:
        cal = WorkCalendar()
    at = args.at or clock.now()
    if at.tzinfo is None:
        at = at.replace(tzinfo=cal.zone)
    at = at.astimezone(cal.zone)
    found = deadline.read(args.text, at, cal)
    if not found.ok:
        print(f"无法确定时限：{found.reason}")
        rc = 1
    else:
        day = found.at
        print(f"{found.text} → {deadline.describe(day, at, cal)}")
        print(f"日期：{day.year}年{day.month}月{day.day}日（{deadline.WEEKDAYS[day.weekday()]}）")
        print(f"时刻：{day:%H:%M}")
        print(f"提示：{'、'.join(found.flags) or '无'}")
        rc = 0
    print(f"参照：{at.year}年{at.month}月{at.day}日（{deadline.WEEKDAYS[at.weekday()]}）{at:%H:%M}，{cal.zone.key}")
    for warning in cal.warnings:
        print(f"注意：{warning}")
    return rc


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time like 2026-12-01T10:12+08:00: {text!r}") from None


def _week(text: str) -> date:
    """The Monday of an ISO week written 2026-W49."""
    try:
        year, _, week = text.partition("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO week like 2026-W49: {text!r}") from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date like 2026-11-27: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="officeflow", description="请示 handling by mail for an office (办公室).")
    p.add_argument("--version", action="version", version=f"officeflow {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    def with_config(name, help_):
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("-c", "--config", required=True, help="the TOML config file")
        return sp

    sp = with_config("run", "run the daemon (IMAP IDLE, sending, reminders)")
    sp.add_argument("--once", action="store_true", help="do all work due now and exit")
    sp.set_defaults(fn=cmd_run)
    with_config("check-config", "validate the config and try the IMAP and SMTP logins").set_defaults(
        fn=cmd_check_config)
    sp = with_config("status", "health for admins and monitoring: exit 0 healthy, 1 degraded, 2 down")
    sp.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    sp.add_argument("--unit", default="officeflow.service",
                    help="the systemd unit asked whether the daemon runs (default officeflow.service; "
                         "without systemd the daemon's heartbeat tells)")
    sp.set_defaults(fn=cmd_status)
    sp = with_config("list", "requests, one a line")
    sp.add_argument("--pending", action="store_true", help="only those not finished")
    sp.add_argument("--kind", choices=("请示", "交办", "all"), default="all", help="which kind of work (default all)")
    sp.add_argument("--overdue", action="store_true", help="only those past their deadline and not done")
    sp.add_argument("--unit", metavar="X", help="only those of unit X (a 交办's lead or co-unit): name, id or address")
    sp.add_argument("--leader", metavar="X", help="only the 交办 of leader X: name, id or address")
    sp.set_defaults(fn=cmd_list)
    sp = with_config("show", "one request: form, opinions, 收发记录")
    sp.add_argument("number")
    sp.add_argument("--eml", metavar="DIR", help="also write every mail of the request to DIR as .eml")
    sp.set_defaults(fn=cmd_show)
    sp = with_config("export", "the register (收文登记簿) as CSV")
    sp.add_argument("--csv", required=True, metavar="PATH")
    sp.add_argument("--since", type=_date)
    sp.add_argument("--until", type=_date)
    sp.add_argument("--kind", choices=("请示", "交办"), default="请示",
                    help="交办: the 交办台账, one line per matter, instead of the register")
    sp.set_defaults(fn=cmd_export)
    sp = with_config("ledger", "print the weekly 台账 of the 交办 (SPEC §6.7)")
    sp.add_argument("--leader", metavar="ID", help="that leader's 台账 (default: the whole office's)")
    sp.add_argument("--week", type=_week, metavar="YYYY-Www",
                    help="the ISO week, Monday to Sunday (default: the last complete week)")
    sp.set_defaults(fn=cmd_ledger)
    sp = with_config("form", "write the printable 审批单 (.docx) of a request")
    sp.add_argument("number")
    sp.add_argument("path")
    sp.set_defaults(fn=cmd_form)
    sp = with_config("prune", "remove stored copies of sent mail of requests closed before a date (dry run)")
    sp.add_argument("--before", type=_date, metavar="DATE",
                    help="requests closed before this day (default: today less [archive] keep)")
    sp.add_argument("--yes", "--apply", dest="yes", action="store_true", help="really remove them")
    sp.set_defaults(fn=cmd_prune)
    sp = sub.add_parser("check", help="the 请示 format check on a .eml, .docx, .pdf or .txt")
    sp.add_argument("file")
    sp.set_defaults(fn=cmd_check)
    sub.add_parser("rules", help="who may do what in which state: the decision table, in the order it is tried"
                   ).set_defaults(fn=cmd_rules)
    sp = sub.add_parser("deadline", help="read a deadline expression (时限) and print it absolutely")
    sp.add_argument("text")
    sp.add_argument("--at", type=_moment, metavar="DATETIME",
                    help="the reference time (default OFFICEFLOW_NOW or now); without an offset, office time")
    sp.add_argument("-c", "--config", help="the TOML config file: its [hours] and office.timezone")
    sp.set_defaults(fn=cmd_deadline)
    sp = sub.add_parser("sandbox", help="a local mail server with the example config, and the daemon on it",
                        add_help=False)
    sp.set_defaults(fn=None)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sandbox":
        _setup_logging()
        from daemon import sandbox
        return sandbox.main(argv[1:])
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    from daemon.clock import ClockError
    from daemon.migrations import SchemaError
    try:
        return args.fn(args)
    except ClockError as e:
        print(f"officeflow: {e}", file=sys.stderr)
        return 2
    except SchemaError as e:
        print(f"officeflow: database: {e}", file=sys.stderr)
        return 2

"""The TOML config file read into frozen dataclasses; every error names the file, the key and the problem.

Nothing here opens a connection or touches the database.
"""

from __future__ import annotations

import difflib
import os
import re
import ssl
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(Exception):
    """A config problem: str() is "FILE: KEY: PROBLEM"."""

    def __init__(self, path: Path | str, key: str, problem: str):
        self.path, self.key, self.problem = str(path), key, problem
        super().__init__(f"{self.path}: {key}: {problem}" if key else f"{self.path}: {problem}")


@dataclass(frozen=True)
class OfficeConfig:
    name: str
    address: str
    staff: tuple[str, ...]
    head: str
    timezone: str = "Asia/Shanghai"
    number_format: str = "办请〔{year}〕{seq}号"
    accept_from: str = "units"


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    security: str
    username: str
    password: str | None
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    failed_folder: str = "Failed"
    idle: bool = True
    poll_seconds: int = 60
    timeout: int = 30
    ca_file: str = ""                # PEM of CAs trusted besides the system's ("" = the system's only)
    allow_plaintext: bool = False    # security = "none" to a host that is not loopback


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    from_addr: str
    timeout: int = 30
    ca_file: str = ""
    allow_plaintext: bool = False


@dataclass(frozen=True)
class DatabaseConfig:
    url: str


@dataclass(frozen=True)
class ArchiveConfig:
    path: Path
    keep: str = ""      # stored copies of sent mail of closed requests kept this long: "3y", "26w", "365d"; "" forever


@dataclass(frozen=True)
class HoursConfig:
    calendar: str = "cn"
    office: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
    extra_days_off: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()


@dataclass(frozen=True)
class RemindersConfig:
    first_after: str = "1d"
    repeat_every: str = "1d"
    escalate_after: int = 2
    urgent: dict[str, str] = field(default_factory=lambda: {"特急": "2h", "加急": "4h"})
    digest_at: time = time(8, 30)
    report_after: str = "10d"
    weekly_at: time = time(9, 0)


@dataclass(frozen=True)
class ReviewConfig:
    auto_return: bool = False


@dataclass(frozen=True)
class SecurityConfig:
    authserv_id: str = ""       # the office server's Authentication-Results id; "" = not used


@dataclass(frozen=True)
class RepliesConfig:
    extra_approve_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChecksConfig:
    disabled: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)
    require_signer: bool = False
    suggestions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LimitsConfig:
    new_requests_per_hour: int = 30     # per sender; more mail in that hour is recorded, not registered


@dataclass(frozen=True)
class JiaobanConfig:
    """SPEC §6.10: a leader's ad-hoc assignments (交办). Durations as in [reminders] ("" = never / none)."""
    number_format: str = "督办〔{year}〕{seq}号"
    remind_before: tuple[str, ...] = ("2d", "0d")   # 临期提醒: "2d" working days before the deadline's day, "4h"
    overdue_repeat: str = "1d"          # 催办 after the deadline, repeated ([reminders].urgent for 特急/加急)
    escalate_after: str = "1d"          # overdue this long: the leader and the head told, once per round
    progress_every: str = ""            # ask a silent lead unit for 进展; "" = only when a 反馈周期 is set
    deem_closed_after: str = "5d"       # a report the leader leaves unanswered this long: 视为办结; "" = never
    default_deadline: str = ""          # "" = every 交办 needs a 时限; e.g. "10d" (marked 默认时限)
    weekly_report: tuple[int, time] = (0, time(8, 30))  # weekday (Monday 0) and time of the 台账


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str
    superior: str | None = None
    delegate: str | None = None
    leader: bool = False        # may 交办 (SPEC §6); gets the weekly 台账 of what they assigned


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    emails: tuple[str, ...]

    def owns(self, address: str) -> bool:
        address = address.lower()
        domain = address.rpartition("@")[2]
        return any(e == address or (e.startswith("@") and e[1:] == domain) for e in self.emails)


@dataclass(frozen=True)
class Route:
    match: tuple[str, ...]
    steps: str
    execute: str | None = None
    copy: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    path: Path
    office: OfficeConfig
    imap: ImapConfig
    smtp: SmtpConfig
    database: DatabaseConfig
    archive: ArchiveConfig
    hours: HoursConfig
    reminders: RemindersConfig
    review: ReviewConfig
    replies: RepliesConfig
    checks: ChecksConfig
    people: tuple[Person, ...]
    units: tuple[Unit, ...]
    routes: tuple[Route, ...]
    security: SecurityConfig = SecurityConfig()
    limits: LimitsConfig = LimitsConfig()
    jiaoban: JiaobanConfig = JiaobanConfig()

    @property
    def leaders(self) -> tuple[Person, ...]:
        """The people who may 交办; none: no mail is ever read as a 交办 (SPEC §6.10)."""
        return tuple(p for p in self.people if p.leader)


_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_DURATION = re.compile(r"^\d+[mhd]$")
_SECURITY = ("ssl", "starttls", "none")


# The keys of each table. A key read by the code is known even when missing here, so a new key is never
# refused; this list only lets a typo (`stafff`) be named before the required key it hides (`staff`).
_KEYS = {
    "": ("office", "imap", "smtp", "database", "archive", "hours", "reminders", "review", "replies", "checks",
         "security", "limits", "jiaoban", "people", "units", "routes"),
    "office": ("name", "address", "staff", "head", "timezone", "number_format", "accept_from"),
    "imap": ("host", "port", "security", "username", "password_env", "password_file", "ca_file", "folder",
             "processed_folder", "failed_folder", "idle", "poll_seconds", "timeout"),
    "smtp": ("host", "port", "security", "username", "password_env", "password_file", "ca_file", "from",
             "timeout"),
    "database": ("url",),
    "archive": ("path", "keep"),
    "hours": ("calendar", "office", "extra_days_off", "extra_workdays"),
    "reminders": ("first_after", "repeat_every", "escalate_after", "urgent", "digest_at", "report_after",
                  "weekly_at"),
    "review": ("auto_return",),
    "replies": ("extra_approve_words",),
    "checks": ("disabled", "severity", "require_signer", "suggestions"),
    "security": ("authserv_id",),
    "people": ("id", "name", "email", "superior", "delegate", "leader"),
    "jiaoban": ("number_format", "remind_before", "overdue_repeat", "escalate_after", "progress_every",
                "deem_closed_after", "default_deadline", "weekly_report"),
    "units": ("id", "name", "emails"),
    "routes": ("match", "steps", "execute", "copy"),
}


class _Reader:
    """Takes values out of one TOML table, remembering the key path for error messages."""

    def __init__(self, path: Path, table: dict[str, Any], prefix: str, kind: str | None = None):
        self.path, self.table, self.prefix, self.used = path, table, prefix, set()
        self.known = set(_KEYS.get(prefix if kind is None else kind, ()))

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, problem: str) -> ConfigError:
        return ConfigError(self.path, self.key(name), problem)

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ..., *, required: bool = False):
        self.used.add(name)
        if name not in self.table:
            if required or default is ...:
                # a misspelt key hides the one it was meant to be: name the typo, not the missing key
                raise self.missing(name, "is required")
            return default
        value = self.table[name]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(name, f"must be {_KIND_WORDS.get(names, names)}, not {type(value).__name__} {value!r}")
        return value

    def text(self, name: str, default: Any = ...) -> str:
        value = self.get(name, str, default)
        if value is not None and isinstance(value, str) and not value.strip() and default is ...:
            raise self.fail(name, "must not be empty")
        return value

    def email(self, name: str, value: str | None = None) -> str:
        value = self.text(name) if value is None else value
        if not _EMAIL.match(value.strip()):
            raise self.fail(name, f"is not a mail address: {value!r}")
        return value.strip().lower()

    def strings(self, name: str, default: tuple = ()) -> tuple[str, ...]:
        value = self.get(name, (list, str), list(default))
        if isinstance(value, str):
            value = [value]
        for item in value:
            if not isinstance(item, str):
                raise self.fail(name, f"must be a list of strings, found {item!r}")
        return tuple(value)

    def duration(self, name: str, default: str) -> str:
        return _duration(self, name, self.get(name, str, default))

    def clock(self, name: str, default: time) -> time:
        value = self.get(name, str, None)
        if value is None:
            return default
        return _parse_clock(value, lambda: self.fail(name, f"must be a time like 08:30, not {value!r}"))

    def unknown(self, near: str = "", *, strict: bool = False) -> ConfigError | None:
        """The error for a key this table does not have (the one closest to `near` first), or None; `strict`:
        only the keys read so far count as known (when the table is done)."""
        keys = self.known | self.used
        strange = sorted(set(self.table) - (self.used if strict else keys))
        if not strange:
            return None
        if near:
            strange.sort(key=lambda k: -difflib.SequenceMatcher(None, k, near).ratio())
        return self.fail(strange[0], unknown_key(strange[0], keys))

    def missing(self, name: str, problem: str) -> ConfigError:
        """The error for a required value that is absent: a misspelt key is what usually hides it."""
        return self.unknown(near=name) or self.fail(name, problem)

    def finish(self) -> None:
        """Every key of the table must have been read: anything else is a typo or a key of another table."""
        error = self.unknown(strict=True)
        if error is not None:
            raise error


def unknown_key(key: str, known) -> str:
    """The problem text for an unknown key, suggesting the closest known one."""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return "unknown key (this table has: " + ", ".join(sorted(known)) + ")" if known else "unknown key"


_KIND_WORDS = {"str": "a string", "int": "a whole number", "bool": "true or false", "list": "a list",
               "dict": "a table", "list or str": "a list of strings"}


_RETENTION = re.compile(r"^([1-9]\d{0,3})([dwy])$")


def retention(keep: str) -> tuple[int, str] | None:
    """`[archive] keep` read: (count, "d" | "w" | "y"); None when it is none of these."""
    m = _RETENTION.match(keep.strip())
    return (int(m.group(1)), m.group(2)) if m else None


def _duration(r: "_Reader", name: str, value) -> str:
    from daemon.workcal import parse_duration
    if not isinstance(value, str) or not _DURATION.match(value):
        raise r.fail(name, f"must be a duration like 30m, 4h or 2d, not {value!r}")
    try:
        parse_duration(value)
    except ValueError:
        raise r.fail(name, f"must be longer than zero, not {value!r}") from None
    return value


def _parse_clock(text: str, error) -> time:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise error()
    return time(int(m[1]), int(m[2]))


def _secret(r: _Reader, base: Path, required: bool) -> str | None:
    """Password from password_env or password_file; never from the file itself."""
    if "password" in r.table:
        raise r.fail("password", "passwords are never written in the config: use password_env or password_file")
    env = r.get("password_env", str, None)
    file = r.get("password_file", str, None)
    if env and file:
        raise r.fail("password_file", "give either password_env or password_file, not both")
    if env:
        value = os.environ.get(env)
        if value is None and required:
            raise r.fail("password_env", f"environment variable {env} is not set")
        return value
    if file:
        p = Path(os.path.expandvars(file))
        p = p if p.is_absolute() else base / p
        try:
            return p.read_text(encoding="utf-8").strip("\r\n")
        except OSError as e:
            if not required:    # list, show, status … outside the service, where its credentials are absent
                return None
            raise r.fail("password_file", f"cannot read {p}: {e.strerror}") from None
    return None


def _table(r: _Reader, name: str, required: bool = True) -> _Reader:
    value = r.get(name, dict, None if not required else ...)
    return _Reader(r.path, value or {}, name)


def load_config(path: str | Path, *, need_secrets: bool = True) -> Config:
    """Read and validate the config file; raises ConfigError naming file, key and problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except OSError as e:
        raise ConfigError(path, "", f"cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "", "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, "", f"not valid TOML: {e}") from None
    base = path.resolve().parent
    top = _Reader(path, data, "")

    o = _table(top, "office")
    office = OfficeConfig(
        name=o.text("name"), address=o.email("address"),
        staff=tuple(o.email("staff", s) for s in o.strings("staff")) or _missing(o, "staff"),
        head=o.email("head"), timezone=o.text("timezone", "Asia/Shanghai"),
        number_format=o.text("number_format", "办请〔{year}〕{seq}号"), accept_from=o.text("accept_from", "units"))
    o.finish()
    try:
        ZoneInfo(office.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise o.fail("timezone", f"unknown time zone {office.timezone!r}") from None
    if "{seq" not in office.number_format:
        raise o.fail("number_format", "must contain {seq}")
    try:
        office.number_format.format(year=2026, seq=1)
    except (KeyError, IndexError, ValueError) as e:
        raise o.fail("number_format", f"only {{year}} and {{seq}} may be used ({e})") from None
    if office.accept_from not in ("units", "anyone"):
        raise o.fail("accept_from", f'must be "units" or "anyone", not {office.accept_from!r}')

    i = _table(top, "imap")
    imap = ImapConfig(
        host=i.text("host"), port=_port(i, 993), security=_security(i, "ssl"), username=i.text("username"),
        password=_secret(i, base, need_secrets),
        folder=i.text("folder", "INBOX"), processed_folder=i.text("processed_folder", "Processed"),
        failed_folder=i.text("failed_folder", "Failed"), idle=i.get("idle", bool, True),
        poll_seconds=_positive(i, "poll_seconds", 60), timeout=_positive(i, "timeout", 30),
        **_transport(i, base))
    i.finish()
    if need_secrets and imap.password is None:
        raise i.fail("password_env", "no password: set password_env or password_file")

    s = _table(top, "smtp")
    smtp = SmtpConfig(
        host=s.text("host"), port=_port(s, 465), security=_security(s, "ssl"),
        username=s.get("username", str, None), password=_secret(s, base, need_secrets),
        from_addr=s.get("from", str, None) or f"{office.name} <{office.address}>",
        timeout=_positive(s, "timeout", 30), **_transport(s, base))
    s.finish()
    if need_secrets and smtp.username and smtp.password is None:
        raise s.fail("password_env", "a username is set but no password: set password_env or password_file")

    d = _table(top, "database")
    url = d.text("url")
    d.finish()
    if not (url.startswith("sqlite:///") or url.startswith(("postgresql://", "postgres://"))):
        shown = re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)       # never echo a password
        raise d.fail("url", f"must start with sqlite:/// or postgresql://, not {shown!r}")
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        url = "sqlite:///" + str(sqlite_path(url, base))

    a = _table(top, "archive")
    apath = Path(a.text("path"))
    keep = a.get("keep", str, "")
    a.finish()
    if keep and not retention(keep):
        raise a.fail("keep", f'must be a number of days, weeks or years like "365d", "26w" or "3y" '
                             f'(or "" to keep forever), not {keep!r}')

    h = _table(top, "hours", required=False)
    hours = HoursConfig(calendar=h.text("calendar", "cn"), office=_office_hours(h),
                        extra_days_off=_dates(h, "extra_days_off"), extra_workdays=_dates(h, "extra_workdays"))
    h.finish()
    if hours.calendar not in ("cn", "mon-fri"):
        raise h.fail("calendar", f'must be "cn" or "mon-fri", not {hours.calendar!r}')

    m = _table(top, "reminders", required=False)
    urgent = m.get("urgent", dict, {"特急": "2h", "加急": "4h"})
    for k, v in urgent.items():
        if k not in ("特急", "加急"):
            raise m.fail(f"urgent.{k}", f'keys are "特急" and "加急", not {k!r}')
        _duration(m, f"urgent.{k}", v)
    reminders = RemindersConfig(
        first_after=m.duration("first_after", "1d"), repeat_every=m.duration("repeat_every", "1d"),
        escalate_after=_positive(m, "escalate_after", 2), urgent=dict(urgent),
        digest_at=m.clock("digest_at", time(8, 30)), report_after=m.duration("report_after", "10d"),
        weekly_at=m.clock("weekly_at", time(9, 0)))
    m.finish()

    rv = _table(top, "review", required=False)
    review = ReviewConfig(auto_return=rv.get("auto_return", bool, False))
    rv.finish()

    sc = _table(top, "security", required=False)
    authserv_id = sc.get("authserv_id", str, "").strip()
    if re.search(r"[\s;()]", authserv_id):
        raise sc.fail("authserv_id", f"must be a server name such as mx.example.com, not {authserv_id!r}")
    security = SecurityConfig(authserv_id=authserv_id)
    sc.finish()

    rp = _table(top, "replies", required=False)
    replies = RepliesConfig(extra_approve_words=rp.strings("extra_approve_words"))
    rp.finish()

    ck = _table(top, "checks", required=False)
    severity = ck.get("severity", dict, {})
    for k, v in severity.items():
        if v not in ("退回", "提示"):
            raise ck.fail(f"severity.{k}", f'must be "退回" or "提示", not {v!r}')
    checks = ChecksConfig(disabled=ck.strings("disabled"), severity=dict(severity),
                          require_signer=ck.get("require_signer", bool, False),
                          suggestions=dict(ck.get("suggestions", dict, {})))
    ck.finish()
    _check_rule_ids(ck, checks)

    li = _table(top, "limits", required=False)
    limits = LimitsConfig(new_requests_per_hour=_positive(li, "new_requests_per_hour", 30))
    li.finish()

    jb = _table(top, "jiaoban", required=False)
    jiaoban = _jiaoban(jb)
    if jiaoban.number_format == office.number_format:
        raise jb.fail("number_format", "must differ from office.number_format: a 交办 is numbered in a series "
                                       "of its own")

    people = tuple(_person(path, n, t) for n, t in enumerate(top.get("people", list, [])))
    units = tuple(_unit(path, n, t) for n, t in enumerate(top.get("units", list, [])))
    routes = tuple(_route(path, n, t) for n, t in enumerate(top.get("routes", list, [])))
    top.finish()
    _check_references(path, office, people, units)
    cfg = Config(path=path, office=office, imap=imap, smtp=smtp, database=DatabaseConfig(url),
                  archive=ArchiveConfig(apath if apath.is_absolute() else base / apath, keep), hours=hours,
                  reminders=reminders, review=review, replies=replies, checks=checks, people=people,
                  units=units, routes=routes, security=security,
                  limits=limits, jiaoban=jiaoban)
    _check_routes(cfg)
    return cfg


def sqlite_path(url: str, base: Path) -> Path:
    """The file of a sqlite:/// URL: sqlite:///var/x.db is /var/x.db (as in SPEC), sqlite:///./x.db is
    relative to the config file's folder, sqlite:////abs/x.db is absolute too."""
    rest = url[len("sqlite:///"):]
    if rest.startswith(("./", "../")):
        return (base / rest).resolve()
    return Path("/" + rest.lstrip("/"))


def _missing(r: _Reader, name: str):
    raise r.missing(name, "must list at least one address")


def _port(r: _Reader, default: int) -> int:
    port = r.get("port", int, default)
    if not 0 < port < 65536:
        raise r.fail("port", f"must be between 1 and 65535, not {port}")
    return port


def _positive(r: _Reader, name: str, default: int) -> int:
    value = r.get(name, int, default)
    if value < 1:
        raise r.fail(name, f"must be at least 1, not {value}")
    return value


def _security(r: _Reader, default: str) -> str:
    value = r.get("security", str, default)
    if value not in _SECURITY:
        raise r.fail("security", f"must be one of ssl, starttls, none; not {value!r}")
    return value


def _transport(r: _Reader, base: Path) -> dict:
    """ca_file and allow_plaintext of [imap] or [smtp]: a readable CA file; no clear text beyond loopback."""
    from daemon.tls import context, is_loopback
    allow = r.get("allow_plaintext", bool, False)
    if r.table.get("security") == "none" and not allow and not is_loopback(str(r.table.get("host", ""))):
        raise r.fail("security", '"none" sends the password and every mail in clear text; it is allowed only '
                                 'for a loopback host (127.0.0.1, ::1, localhost) unless allow_plaintext = true')
    ca = r.get("ca_file", str, "").strip()
    if ca:
        p = Path(os.path.expandvars(ca))
        p = p if p.is_absolute() else base / p
        try:
            context(p)
        except ssl.SSLError:     # an OSError too: look at it first
            raise r.fail("ca_file", f"{p} holds no PEM certificate") from None
        except OSError as e:
            raise r.fail("ca_file", f"cannot read {p}: {e.strerror}") from None
        ca = str(p)
    return {"ca_file": ca, "allow_plaintext": allow}


def _office_hours(r: _Reader) -> tuple[tuple[time, time], ...]:
    from daemon.workcal import parse_office_hours
    try:
        return parse_office_hours(r.strings("office", ("08:30-12:00", "13:30-17:30")))
    except ValueError as e:
        raise r.fail("office", f'spans must look like "08:30-12:00", in order and not overlapping ({e})') from None


def _dates(r: _Reader, name: str) -> tuple[date, ...]:
    values = r.get(name, list, [])
    out = []
    for v in values:
        if isinstance(v, date):
            out.append(v)
        else:
            try:
                out.append(date.fromisoformat(str(v)))
            except ValueError:
                raise r.fail(name, f"must be dates like 2026-12-31, found {v!r}") from None
    return tuple(out)


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _jiaoban(r: _Reader) -> JiaobanConfig:
    def optional(name: str, default: str) -> str:
        value = r.get(name, str, default).strip()
        return value and _duration(r, name, value)
    number_format = r.text("number_format", JiaobanConfig.number_format)
    if "{seq" not in number_format:
        raise r.fail("number_format", "must contain {seq}")
    try:
        number_format.format(year=2026, seq=1)
    except (KeyError, IndexError, ValueError) as e:
        raise r.fail("number_format", f"only {{year}} and {{seq}} may be used ({e})") from None
    remind_before = r.strings("remind_before", JiaobanConfig.remind_before)
    for n, value in enumerate(remind_before):
        if not re.fullmatch(r"\d+[mhd]", value):        # "0d" is the deadline's own day
            raise r.fail(f"remind_before[{n}]", f"must be a duration like 2d, 0d or 4h, not {value!r}")
    weekly = r.get("weekly_report", str, "mon 08:30")
    m = re.fullmatch(r"\s*(mon|tue|wed|thu|fri|sat|sun)\s+(\d{1,2}:\d{2})\s*", weekly.lower())
    if not m:
        raise r.fail("weekly_report", f'must be a weekday and a time like "mon 08:30", not {weekly!r}')
    at = _parse_clock(m[2], lambda: r.fail("weekly_report", f"not a time of day: {m[2]!r}"))
    cfg = JiaobanConfig(
        number_format=number_format, remind_before=remind_before,
        overdue_repeat=r.duration("overdue_repeat", JiaobanConfig.overdue_repeat),
        escalate_after=r.duration("escalate_after", JiaobanConfig.escalate_after),
        progress_every=optional("progress_every", JiaobanConfig.progress_every),
        deem_closed_after=optional("deem_closed_after", JiaobanConfig.deem_closed_after),
        default_deadline=optional("default_deadline", JiaobanConfig.default_deadline),
        weekly_report=(_WEEKDAYS.index(m[1]), at))
    r.finish()
    return cfg


def _person(path: Path, n: int, table: Any) -> Person:
    if not isinstance(table, dict):
        raise ConfigError(path, f"people[{n}]", "must be a table")
    r = _Reader(path, table, f"people[{n}]", "people")
    p = Person(id=r.text("id"), name=r.text("name"), email=r.email("email"),
               superior=r.get("superior", str, None), delegate=r.get("delegate", str, None),
               leader=r.get("leader", bool, False))
    r.finish()
    return p


def _unit(path: Path, n: int, table: Any) -> Unit:
    if not isinstance(table, dict):
        raise ConfigError(path, f"units[{n}]", "must be a table")
    r = _Reader(path, table, f"units[{n}]", "units")
    emails = []
    for e in r.strings("emails"):
        e = e.strip().lower()
        if not (e.startswith("@") and "." in e[1:] or _EMAIL.match(e)):
            raise r.fail("emails", f"each entry must be an address or @domain, not {e!r}")
        emails.append(e)
    if not emails:
        raise r.missing("emails", "must list at least one address or @domain")
    u = Unit(id=r.text("id"), name=r.text("name"), emails=tuple(emails))
    r.finish()
    return u


def _route(path: Path, n: int, table: Any) -> Route:
    if not isinstance(table, dict):
        raise ConfigError(path, f"routes[{n}]", "must be a table")
    r = _Reader(path, table, f"routes[{n}]", "routes")
    steps = r.get("steps", (list, str))
    steps = "，".join(steps) if isinstance(steps, list) else steps
    route = Route(match=r.strings("match"), steps=steps, execute=r.get("execute", str, None),
                  copy=r.strings("copy"))
    r.finish()
    return route


def _check_rule_ids(r: _Reader, checks: ChecksConfig) -> None:
    """[checks] names rules by id: a misspelt id would silently change nothing."""
    from daemon.checks.rules import RULES
    for key, ids in (("disabled", checks.disabled), ("severity", checks.severity),
                     ("suggestions", checks.suggestions)):
        for rule_id in ids:
            if rule_id not in RULES:
                close = difflib.get_close_matches(rule_id, sorted(RULES), n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else " (see `officeflow check` for the rule ids)"
                raise r.fail(key, f"{rule_id!r} is not the id of any check rule{hint}")


def _check_references(path: Path, office: OfficeConfig, people, units) -> None:
    ids: dict[str, str] = {}
    for kind, items in (("people", people), ("units", units)):
        for n, item in enumerate(items):
            if item.id in ids:
                raise ConfigError(path, f"{kind}[{n}].id", f"{item.id!r} is used twice")
            ids[item.id] = kind
    person_ids = {p.id for p in people}
    for n, p in enumerate(people):
        for key in ("superior", "delegate"):
            ref = getattr(p, key)
            if ref and ref not in person_ids:
                raise ConfigError(path, f"people[{n}].{key}", f"{ref!r} is not the id of any [[people]] entry")


def _check_routes(cfg: Config) -> None:
    """Every name in [[routes]] must be somebody the config knows, or every 受理 relying on it would fail."""
    from daemon.directory import Directory, RouteError
    d = Directory(cfg)
    for n, route in enumerate(cfg.routes):
        for key, check in (("steps", lambda: d.parse_route(route.steps)),
                           ("execute", lambda: d.parse_list(route.execute or "")),
                           ("copy", lambda: d.parse_list("，".join(route.copy)))):
            try:
                check()
            except RouteError as e:
                raise ConfigError(cfg.path, f"routes[{n}].{key}",
                                  f"{e.token!r} is not the name, id or address of any person, unit or staff") from None

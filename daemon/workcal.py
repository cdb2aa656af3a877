"""Working time on the Chinese working-day calendar and office hours; pure, never touches the database or mail.

Rules (the contract for reminders and digests built on top of this):

- Every datetime going in may be aware (converted to the calendar's zone) or naive
  (taken as wall-clock time in that zone). Every datetime coming out is aware, in the zone.
- Office time is the union of the office spans on working days, each span half-open
  ``[open, close)``: 08:30 is office time, 12:00 is not.
- A working day: for ``kind="cn"`` what ``chinese_calendar`` says (weekends off, statutory
  holidays off, 调休 make-up days on); for a year it does not know, Monday–Friday, with a
  warning recorded once in ``warnings`` and logged once. For ``kind="mon-fri"`` Monday–Friday.
  ``extra_workdays`` and ``extra_days_off`` override both.
- ``add(start, "Nm"/"Nh")``: the earliest moment by which N minutes/hours of office time have
  passed since ``start``. So it may be a closing moment (08:30 + 3h30m is 12:00, not 13:30);
  callers that must act only in office hours pass it through ``next_working_moment``.
  A zero amount returns ``start``.
- ``add(start, "Nd")``: ``start`` is first moved into office time (``next_working_moment``),
  then the result is the same clock position on the N-th following working day.
  Friday 18:00 + 1d: the start becomes Monday 08:30, so the result is Tuesday 08:30.
  Friday 10:00 + 1d is Monday 10:00; Monday 12:30 (lunch) + 1d is Tuesday 13:30.
- ``working_time_between(a, b)`` is the office time in ``[a, b)``, signed (negative when
  ``b`` precedes ``a``), so it is additive and ``working_time_between(s, add(s, d))`` equals
  ``d`` in office time (``N * day_length`` for ``"Nd"``).
- In zones with daylight saving, office time is counted on the wall clock; a clock change
  inside office hours is not corrected for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

log = logging.getLogger("officeflow.calendar")

KINDS = ("cn", "mon-fri")
UNITS = {"m": "分钟", "h": "小时", "d": "工作日"}
DEFAULT_OFFICE = ((time(8, 30), time(12)), (time(13, 30), time(17, 30)))

_ONE_DAY = timedelta(days=1)
_DURATION = re.compile(r"\s*([0-9]+)\s*([mhd])\s*", re.IGNORECASE)
_SPAN = re.compile(r"\s*([0-9]{1,2}):([0-9]{2})\s*[-–~～至]\s*([0-9]{1,2}):([0-9]{2})\s*")


@dataclass(frozen=True)
class Duration:
    """An amount of working time: "m" working minutes, "h" working hours, "d" working days."""

    amount: int
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"时长单位 {self.unit!r} 无效：应为 m（分钟）、h（小时）或 d（工作日）")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise ValueError(f"时长数值 {self.amount!r} 无效：应为非负整数")

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def parse_duration(text: str) -> Duration:
    """Read "30m", "4h", "2d" (a positive whole number and a unit; case and spaces do not matter)."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"无法识别的时长 {text!r}：应为正整数加单位 m（分钟）、h（小时）或 d（工作日），如 30m、4h、2d"
        )
    amount = int(match.group(1))
    if amount == 0:
        raise ValueError(f"时长 {text!r} 不能为 0：应为正整数加单位，如 30m、4h、2d")
    return Duration(amount, match.group(2).lower())


def parse_office_hours(spans: Iterable[str]) -> tuple[tuple[time, time], ...]:
    """Read config spans such as ["08:30-12:00", "13:30-17:30"] into (open, close) pairs."""
    if isinstance(spans, str):
        spans = [spans]
    result = []
    for span in spans:
        match = _SPAN.fullmatch(span) if isinstance(span, str) else None
        if match is None:
            raise ValueError(f"无法识别的办公时间 {span!r}：应写作 \"08:30-12:00\"")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            result.append((time(h1, m1), time(h2, m2)))
        except ValueError:
            raise ValueError(f"办公时间 {span!r} 中的时刻无效") from None
    return _check_office(result)


def _check_office(office: Iterable[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    spans = sorted((tuple(span) for span in office), key=lambda span: span[0])
    if not spans:
        raise ValueError("办公时间不能为空")
    for opens, closes in spans:
        if not (isinstance(opens, time) and isinstance(closes, time)):
            raise ValueError(f"办公时间 {opens!r}-{closes!r} 应为两个时刻")
        if opens.tzinfo is not None or closes.tzinfo is not None:
            raise ValueError("办公时间应为当地时刻，不带时区")
        if not opens < closes:
            raise ValueError(f"办公时间 {opens:%H:%M}-{closes:%H:%M} 的开始应早于结束")
    for (_, closes), (opens, _) in zip(spans, spans[1:]):
        if opens < closes:
            raise ValueError(f"办公时间 {opens:%H:%M} 与前一段重叠")
    return tuple(spans)


def _offset(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


class WorkCalendar:
    """Working days and office hours of one office; caches per day, so repeated questions are cheap."""

    def __init__(
        self,
        kind: str = "cn",
        office: Sequence[tuple[time, time]] = DEFAULT_OFFICE,
        tz: str = "Asia/Shanghai",
        extra_days_off: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"未知的工作日历 {kind!r}：应为 \"cn\"（中国法定工作日，含调休）或 \"mon-fri\"（周一至周五）")
        try:
            self.zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"未知的时区 {tz!r}，如 \"Asia/Shanghai\"") from None
        self.kind = kind
        self.office = _check_office(office)
        self._spans = tuple((_offset(a), _offset(b)) for a, b in self.office)
        self.day_length = sum((b - a for a, b in self._spans), timedelta())
        self.extra_days_off = frozenset(_as_date(d) for d in extra_days_off)
        self.extra_workdays = frozenset(_as_date(d) for d in extra_workdays)
        both = self.extra_days_off & self.extra_workdays
        if both:
            days = "、".join(d.isoformat() for d in sorted(both))
            raise ValueError(f"{days} 同时被列为额外休息日和额外工作日")
        self.warnings: list[str] = []
        self._workday: dict[date, bool] = {}
        self._windows: dict[date, tuple[tuple[datetime, datetime], ...]] = {}
        self._counts: dict[int, list[int]] = {}
        self._unknown_years: set[int] = set()

    # ---- days ------------------------------------------------------------------

    def is_workday(self, d: date) -> bool:
        """Whether ``d`` is a working day (a datetime is first taken to its local date)."""
        if isinstance(d, datetime):
            d = self._local(d).date()
        known = self._workday.get(d)
        if known is None:
            known = self._workday[d] = self._lookup(d)
        return known

    def _lookup(self, d: date) -> bool:
        if d in self.extra_workdays:
            return True
        if d in self.extra_days_off:
            return False
        if self.kind == "cn":
            try:
                return bool(chinese_calendar.is_workday(d))
            except NotImplementedError:
                self._unknown_year(d.year)
        return d.weekday() < 5

    def _unknown_year(self, year: int) -> None:
        if year in self._unknown_years:
            return
        self._unknown_years.add(year)
        message = f"{year}年的法定节假日安排尚未收录，按周一至周五计算"
        self.warnings.append(message)
        log.warning(message)

    def _day_windows(self, d: date) -> tuple[tuple[datetime, datetime], ...]:
        windows = self._windows.get(d)
        if windows is None:
            if self.is_workday(d):
                midnight = datetime(d.year, d.month, d.day)
                windows = tuple((midnight + a, midnight + b) for a, b in self._spans)
            else:
                windows = ()
            self._windows[d] = windows
        return windows

    # ---- moments ---------------------------------------------------------------

    def _local(self, at: datetime) -> datetime:
        """Wall-clock time in the zone, naive."""
        if not isinstance(at, datetime):
            raise TypeError(f"expected a datetime, got {type(at).__name__}")
        if at.tzinfo is None:
            return at
        return at.astimezone(self.zone).replace(tzinfo=None)

    def _aware(self, wall: datetime) -> datetime:
        return wall.replace(tzinfo=self.zone)

    def is_working_time(self, at: datetime) -> bool:
        t = self._local(at)
        return any(opens <= t < closes for opens, closes in self._day_windows(t.date()))

    def next_working_moment(self, at: datetime) -> datetime:
        """``at`` itself when it is office time, else the next opening of office hours."""
        t = self._local(at)
        d = t.date()
        while True:
            for opens, closes in self._day_windows(d):
                if t < closes:
                    return self._aware(max(t, opens))
            d += _ONE_DAY

    # ---- arithmetic ------------------------------------------------------------

    def add(self, start: datetime, duration: Duration) -> datetime:
        """``start`` plus working time; see the module docstring for the exact rules."""
        if duration.unit == "d":
            return self._add_days(start, duration.amount)
        minutes = duration.amount * (60 if duration.unit == "h" else 1)
        return self._add_office_time(start, timedelta(minutes=minutes))

    def _add_office_time(self, start: datetime, remaining: timedelta) -> datetime:
        t = self._local(start)
        if remaining <= timedelta(0):
            return self._aware(t)
        d = t.date()
        while True:
            windows = self._day_windows(d)
            if windows and t <= windows[0][0] and remaining > self.day_length:
                remaining -= self.day_length  # the whole day is used up; skip it in one go
            else:
                for opens, closes in windows:
                    if t >= closes:
                        continue
                    begin = max(t, opens)
                    available = closes - begin
                    if remaining <= available:
                        return self._aware(begin + remaining)
                    remaining -= available
            d += _ONE_DAY
            t = datetime(d.year, d.month, d.day)

    def _add_days(self, start: datetime, days: int) -> datetime:
        begin = self._local(self.next_working_moment(start))
        d = begin.date()
        while days > 0:
            d += _ONE_DAY
            if self.is_workday(d):
                days -= 1
        return self._aware(datetime.combine(d, begin.time()))

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Office time in ``[start, end)``; negative when ``end`` precedes ``start``."""
        a, b = self._local(start), self._local(end)
        if b < a:
            return -self.working_time_between(end, start)
        first, last = a.date(), b.date()
        total = timedelta(0)
        for d in (first,) if first == last else (first, last):
            for opens, closes in self._day_windows(d):
                lo, hi = max(opens, a), min(closes, b)
                if hi > lo:
                    total += hi - lo
        if last > first:
            total += self.day_length * self._workdays_in(first + _ONE_DAY, last)
        return total

    def _workdays_in(self, lo: date, hi: date) -> int:
        """How many working days d with lo <= d < hi: from per-year running counts, not day by day."""
        if hi <= lo:
            return 0
        if lo.year == hi.year:
            counts = self._year_counts(lo.year)
            return counts[_day_index(hi)] - counts[_day_index(lo)]
        total = self._year_counts(lo.year)[-1] - self._year_counts(lo.year)[_day_index(lo)]
        total += sum(self._year_counts(y)[-1] for y in range(lo.year + 1, hi.year))
        return total + self._year_counts(hi.year)[_day_index(hi)]

    def _year_counts(self, year: int) -> list[int]:
        """counts[i]: working days among the first i days of `year` (counts[-1]: the whole year)."""
        counts = self._counts.get(year)
        if counts is None:
            counts, n, d = [0], 0, date(year, 1, 1)
            while d.year == year:
                n += self.is_workday(d)
                counts.append(n)
                d += _ONE_DAY
            self._counts[year] = counts
        return counts

    def working_days_between(self, start: datetime, end: datetime) -> float:
        """Office time between the two moments, in working days (office time / length of a working day)."""
        return self.working_time_between(start, end) / self.day_length

    def format_waited(self, start: datetime, end: datetime) -> str:
        """How long was waited in office time, in Chinese: "2个工作日3小时", "45分钟"; never negative."""
        waited = self.working_time_between(start, end)
        if waited <= timedelta(0):
            return "0分钟"
        days, rest = divmod(waited, self.day_length)
        hours, rest = divmod(rest, timedelta(hours=1))
        minutes = rest // timedelta(minutes=1)
        parts = []
        if days:
            parts.append(f"{days}个工作日")
        if hours:
            parts.append(f"{hours}小时")
        if minutes:
            parts.append(f"{minutes}分钟")
        return "".join(parts) or "不足1分钟"


def _day_index(d: date) -> int:
    """0 for 1 January."""
    return d.timetuple().tm_yday - 1


def _as_date(d: date) -> date:
    if isinstance(d, datetime):
        return d.date()
    if isinstance(d, date):
        return d
    if isinstance(d, str):
        try:
            return date.fromisoformat(d)
        except ValueError:
            raise ValueError(f"无法识别的日期 {d!r}：应写作 2026-10-09") from None
    raise TypeError(f"expected a date, got {type(d).__name__}")

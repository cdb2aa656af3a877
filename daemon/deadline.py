"""Deadline expressions (时限, SPEC §6.5) read on the working calendar and shown absolutely; pure, no database, no mail.

Rules beyond the table of §6.5, all on the side of asking rather than guessing:

- ``read`` finds every deadline expression in a text (a ``时限：`` line or a whole sentence of a
  leader's mail). One expression, or several meaning the same moment, is the deadline; none, two
  different ones, or any word that never becomes a date (尽快, 近期, 抓紧, 及时, 节后, 春节前, 下下周 …)
  anywhere in the text is a ``Refusal`` with the reason in Chinese.
- A look-alike outside the table (上周五前, 每月5日前, 第四季度末, 大后天) refuses the text, it is not skipped.
- An invalid date is refused, never rolled over; a dated year already past is refused.
- A bare weekday (周五), a bare day of the month (5日, 5号) and 12.5 / 12/5 need 前 or a time after them,
  so 周五例会 or 12.5万元 are no deadlines. A time alone (下午3点前) has no day and is refused; an hour
  from 0 to 7 without 上午/下午 is refused as ambiguous.
- A date may carry its weekday, as the formatted deadline does (12月4日（周五）17:30前): a wrong
  weekday is refused.
- A year may be written 今年 or 明年, and 本月25日 is this month's 25th (refused when past): both
  say plainly which year or month is meant.
"""

from __future__ import annotations

import calendar as _calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from daemon.workcal import WorkCalendar

WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
# Words that never become a date (§6.5, §6.12) and words that make a nearby expression mean something else.
NEVER_A_DATE = ("尽快", "近期", "抓紧", "及时", "节后", "春节前", "下下周", "两会前", "节前", "立即", "马上",
                "尽早", "择期", "适时", "下月", "下个月", "月初", "大后天")
EXAMPLE = "请写明，如“时限：12月5日前”"

_WIDTH = str.maketrans("０１２３４５６７８９：．／－　", "0123456789:./- ")
_CN_DIGIT = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = r"(?:[0-9]{1,3}|[一二三四五六七八九]?十[一二三四五六七八九]?|[廿卅][一二三四五六七八九]?|[一二三四五六七八九两])"
_YEAR = r"(?:[0-9]{4}|[〇零一二三四五六七八九]{4})"
_NB = r"(?<![0-9〇零一二三四五六七八九十两廿卅./-])"  # a number starts here, not inside another
_WD = r"(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7])"
_QIAN = re.compile(r"\s*(?:之前|以前|前)")
_NOTE = re.compile(r"\s*[（(]\s*(?:周|星期)(?P<wd>[一二三四五六日天])\s*[)）]")
_TIME = re.compile(
    r"\s*(?:的\s*)?(?:(?P<off>(?:下午|傍晚)?\s*下班前)|(?:(?P<ap>上午|早上|中午|下午|傍晚|晚上|晚)\s*)?"
    rf"(?:(?P<hh>[0-9]{{1,2}}):(?P<mm>[0-9]{{2}})|(?P<h>{_NUM})\s*[点时]"
    rf"(?:(?P<half>半)|(?P<q>一刻|三刻)|(?P<m>[0-9]{{1,2}}|{_NUM})\s*分?)?)(?P<qian>\s*(?:之前|以前|前))?)")


@dataclass(frozen=True)
class Deadline:
    """A deadline read from ``text``: ``at`` is aware, in the calendar's zone."""

    at: datetime
    text: str
    cross_year: bool = False
    cross_month: bool = False
    non_workday: bool = False
    ok = True

    @property
    def flags(self) -> tuple[str, ...]:
        named = (("跨年", self.cross_year), ("跨月", self.cross_month), ("非工作日", self.non_workday))
        return tuple(label for label, on in named if on)


@dataclass(frozen=True)
class Refusal:
    """Why ``text`` gives no deadline; ``reason`` is Chinese, for office staff."""

    reason: str
    text: str = ""
    ok = False


@dataclass
class _Ref:
    now: datetime
    cal: WorkCalendar
    day: date = field(init=False)

    def __post_init__(self) -> None:
        self.day = self.now.date()


class _Bad(Exception):
    def __init__(self, reason: str, lead: int = 0):
        super().__init__(reason)
        self.lead = lead  # characters before the expression that belong to it (上 of 上周五)


def read(text: str, reference: datetime, cal: WorkCalendar) -> Deadline | Refusal:
    """The single deadline in ``text`` read against ``reference`` (aware, or wall-clock time in the calendar's zone)."""
    reference = _aware(reference, cal).astimezone(cal.zone)
    ref = _Ref(reference.replace(tzinfo=None), cal)
    plain = (text or "").translate(_WIDTH)
    found = _scan(plain, text or "", ref)
    for word in NEVER_A_DATE:
        for hit in re.finditer(re.escape(word), plain):
            if not any(s <= hit.start() and hit.end() <= e for s, e, _ in found):
                return Refusal(f"时限“{word}”无法确定日期，{EXAMPLE}", word)
    for _, _, result in found:
        if isinstance(result, Refusal):
            return result
    if not found:
        shown = (text or "").strip()
        if shown and len(shown) <= 20:
            return Refusal(f"“{shown}”不是可识别的时限，{EXAMPLE}", shown)
        return Refusal(f"未找到可识别的时限，{EXAMPLE}", shown)
    first = found[0][2]
    for _, _, other in found[1:]:
        if other.at != first.at:
            return Refusal(f"含两个不同的时限：“{first.text}”（{format_deadline(first.at, reference)}）"
                           f"与“{other.text}”（{format_deadline(other.at, reference)}），请只写一个",
                           f"{first.text}、{other.text}")
    return first


# ---- scanning ------------------------------------------------------------------------------


def _scan(plain: str, original: str, ref: _Ref) -> list[tuple[int, int, Deadline | Refusal]]:
    found = []
    pos = 0
    while pos < len(plain):
        hit = _match_at(plain, pos, ref)
        if hit is None:
            pos += 1
            continue
        end, result = hit
        shown = original[pos - getattr(result, "lead", 0):end].strip()
        if isinstance(result, _Bad):
            found.append((pos, end, Refusal(f"“{shown}”{result}", shown)))
        else:
            day, time_, flags = result
            at = datetime.combine(day, time_ or ref.cal.office[-1][1]).replace(tzinfo=ref.cal.zone)
            found.append((pos, end, Deadline(at, shown, cross_year="跨年" in flags, cross_month="跨月" in flags,
                                             non_workday=not ref.cal.is_workday(day))))
        pos = end
    return found


def _match_at(plain: str, pos: int, ref: _Ref):
    """(end, (day, time, flags) or _Bad) for the expression starting at ``pos``, or None."""
    for pattern, kind, needs_suffix in _PATTERNS:
        m = pattern.match(plain, pos)
        if m is None:
            continue
        end = m.end()
        note = _NOTE.match(plain, end)
        if note:
            end = note.end()
        tm = _TIME.match(plain, end)
        qian = None if tm else _QIAN.match(plain, end)
        end = tm.end() if tm else qian.end() if qian else end
        if needs_suffix and not (tm or qian):
            return None  # 周五例会, 12.5万元: no deadline here
        guard = _GUARDS.get(kind)
        before = guard.search(plain[max(0, pos - 3):pos]) if guard is not None else None
        if before is not None:
            return end, _Bad(f"不是可识别的时限，{EXAMPLE}", len(before.group(0)))
        try:
            day, flags = kind(m, ref)
            if note:
                _check_weekday(day, _weekday(note.group("wd")))
            return end, (day, _read_time(tm, ref.cal) if tm else None, flags)
        except _Bad as bad:
            return end, bad
        except (ValueError, OverflowError):  # a year such as 0000, or a count past the calendar's end
            return end, _Bad("不是有效日期")
    tm = _TIME.match(plain, pos)
    if tm and tm.group("qian") and not tm.group("off") and not plain[pos].isspace() and plain[pos] != "的":
        return tm.end(), _Bad("只有时刻，没有日期，请写明哪一天，如“明天下午3点前”")
    return None


# ---- numbers, times, dates -----------------------------------------------------------------


def _number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if len(text) == 4:  # a year written digit by digit: 二〇二六
        return int("".join(str(_CN_DIGIT[c]) for c in text))
    text = text.replace("廿", "二十").replace("卅", "三十")
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[ones] if ones else 0)
    return _CN_DIGIT[text]


def _weekday(char: str) -> int:
    return int(char) - 1 if char.isdigit() else "一二三四五六日".index("日" if char == "天" else char)


def _read_time(m: re.Match, cal: WorkCalendar) -> time:
    if m.group("off"):
        return cal.office[-1][1]
    ap = m.group("ap")
    if m.group("hh") is not None:
        hour, minute = int(m.group("hh")), int(m.group("mm"))
    else:
        hour = _number(m.group("h"))
        minute = (30 if m.group("half") else {"一刻": 15, "三刻": 45}.get(m.group("q") or "", None))
        if minute is None:
            minute = _number(m.group("m")) if m.group("m") else 0
        if ap is None and hour < 8:
            raise _Bad(f"中的“{hour}点”不知是上午还是下午，请写明，如“下午{hour}点前”")
    if ap in ("傍晚", "晚上", "晚") and hour in (0, 12):
        raise _Bad(f"中的“{ap}{hour}点”不明确，请写明，如“{ap}11点前”或次日的时刻")
    if ap in ("下午", "傍晚", "晚上", "晚") and hour < 12:
        hour += 12
    elif ap == "中午" and hour < 6:
        hour += 12
    elif ap in ("上午", "早上") and hour > 12:
        raise _Bad("中的时刻无效")
    if hour > 23 or minute > 59:
        raise _Bad("中的时刻无效")
    return time(hour, minute)


def _valid(year: int, month: int, day: int) -> date:
    if not 1 <= year <= 9000:
        raise _Bad(f"不是有效日期：没有{year}年")
    if not 1 <= month <= 12:
        raise _Bad(f"不是有效日期：没有{month}月")
    if not 1 <= day <= 31 or (day > _calendar.monthrange(2024, month)[1]):
        raise _Bad(f"不是有效日期：{month}月没有{day}日")
    try:
        return date(year, month, day)
    except ValueError:
        raise _Bad(f"不是有效日期：{year}年{month}月没有{day}日") from None


def _last_day(year: int, month: int) -> date:
    return date(year, month, _calendar.monthrange(year, month)[1])


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _year(m: re.Match, ref: _Ref) -> int | None:
    """The year written before a date: a number, 今年/本年 or 明年; None when none is written."""
    if m.groupdict().get("y"):
        return _number(m.group("y"))
    rel = m.groupdict().get("rel")
    return None if rel is None else ref.day.year + (rel == "明")


def _past(day: date, ref: _Ref) -> None:
    if day < ref.day:
        raise _Bad(f"已过（今天是{ref.day.year}年{ref.day.month}月{ref.day.day}日）")


def _check_weekday(day: date, written: int) -> None:
    if day.weekday() != written:
        raise _Bad(f"前后不一：{day.month}月{day.day}日是{WEEKDAYS[day.weekday()]}，不是{WEEKDAYS[written]}")


def _dated(year: int | None, month: int, day_of: Callable[[int], int], ref: _Ref):
    """A day of a named month: with a year, refused when past; without, next year when past (跨年)."""
    if year is not None:
        d = _valid(year, month, day_of(year))
        _past(d, ref)
        return d, ()
    year = ref.day.year
    if not 1 <= month <= 12:
        raise _Bad(f"不是有效日期：没有{month}月")
    wanted = day_of(year)
    _valid(2024, month, wanted)  # 2月30日, 12月32日: refused whatever the year
    if (month, wanted) < (ref.day.month, ref.day.day):
        return _valid(year + 1, month, day_of(year + 1)), ("跨年",)
    return _valid(year, month, wanted), ()


def _this_month(day_of: Callable[[int, int], int], ref: _Ref):
    """A day of this month, or of the next when already past (跨月, and 跨年 in December)."""
    year, month = ref.day.year, ref.day.month
    wanted = day_of(year, month)
    if wanted < ref.day.day:
        year, month = _next_month(year, month)
        flags = ("跨月", "跨年") if month == 1 else ("跨月",)
        return _valid(year, month, day_of(year, month)), flags
    return _valid(year, month, wanted), ()


def _full_date(m, ref):
    return _dated(_year(m, ref), _number(m.group("mo")), lambda _y: _number(m.group("d")), ref)


def _day_of_month(m, ref):
    d = _number(m.group("d"))
    if not 1 <= d <= 31:
        raise _Bad(f"不是有效日期：没有{d}日")
    return _this_month(lambda _y, _m: d, ref)


def _day_this_month(m, ref):
    d = _valid(ref.day.year, ref.day.month, _number(m.group("d")))
    _past(d, ref)
    return d, ()


def _month_end(m, ref):
    if not m.group("mo"):
        return _last_day(ref.day.year, ref.day.month), ()
    return _dated(_year(m, ref), _number(m.group("mo")),
                  lambda y: _calendar.monthrange(y, max(1, min(12, _number(m.group("mo")))))[1], ref)


_TEN = {"上": lambda y, mo: 10, "中": lambda y, mo: 20, "下": lambda y, mo: _calendar.monthrange(y, mo)[1]}


def _xun(m, ref):
    part = _TEN[m.group("part")]
    if m.group("mo") is None:
        return _this_month(part, ref)
    month = _number(m.group("mo"))
    return _dated(_year(m, ref), month, lambda y: part(y, max(1, min(12, month))), ref)


def _mid_month(m, ref):
    return _this_month(lambda _y, _m: 15, ref)


def _quarter_end(m, ref):
    month = (ref.day.month - 1) // 3 * 3 + 3
    return _last_day(ref.day.year, month), ()


def _year_end(m, ref):
    year = _year(m, ref)
    d = _valid(ref.day.year if year is None else year, 12, 31)
    _past(d, ref)
    return d, ()


def _monday(ref: _Ref, weeks: int = 0) -> date:
    return ref.day - timedelta(days=ref.day.weekday()) + timedelta(weeks=weeks)


def _weekday_from_today(m, ref):
    return ref.day + timedelta(days=(_weekday(m.group("wd")) - ref.day.weekday()) % 7), ()


def _weekday_this_week(m, ref):
    d = _monday(ref) + timedelta(days=_weekday(m.group("wd")))
    if d < ref.day:
        raise _Bad(f"已过：本周{'一二三四五六日'[d.weekday()]}是{d.month}月{d.day}日，今天是{ref.day.month}月{ref.day.day}日")
    return d, ()


def _weekday_next_week(m, ref):
    return _monday(ref, 1) + timedelta(days=_weekday(m.group("wd"))), ()


def _within_week(m, ref):
    nxt = m.group("which") == "下"
    first = _monday(ref, 1 if nxt else 0)
    for back in range(6, -1, -1):
        d = first + timedelta(days=back)
        if d >= ref.day and ref.cal.is_workday(d):
            return d, ()
    last = first + timedelta(days=6)
    if nxt:
        raise _Bad(f"：下周（{first.month}月{first.day}日至{last.month}月{last.day}日）没有工作日")
    raise _Bad("：本周已没有工作日")


def _count(m) -> int:
    n = _number(m.group("n"))
    if n < 1:
        raise _Bad("：天数应至少为1")
    return n


def _working_days(m, ref):
    n, d = _count(m), ref.day
    while n:
        d += timedelta(days=1)
        n -= ref.cal.is_workday(d)
    return d, ()


def _calendar_days(m, ref):
    return ref.day + timedelta(days=_count(m) * (7 if m.group("unit") in ("周", "星期") else 1)), ()


def _relative_day(m, ref):
    return ref.day + timedelta(days={"今": 0, "下": 0, "明": 1, "后": 2}[m.group(0)[0]]), ()


_Y = rf"(?:(?P<y>{_YEAR})\s*年|(?P<rel>今|本|明)年)?"
_PATTERNS = [(re.compile(p), kind, needs_suffix) for p, kind, needs_suffix in (
    (rf"{_NB}(?P<y>[0-9]{{4}})(?P<sep>[-/.])(?P<mo>[0-9]{{1,2}})(?P=sep)(?P<d>[0-9]{{1,2}})(?![0-9])", _full_date, False),
    (rf"{_NB}{_Y}\s*(?P<mo>{_NUM})\s*月\s*(?P<d>{_NUM})\s*[日号]", _full_date, False),
    (rf"{_NB}(?P<mo>[0-9]{{1,2}})[./](?P<d>[0-9]{{1,2}})(?![0-9./])", _full_date, True),
    (rf"{_NB}{_Y}\s*(?:(?P<mo>{_NUM})\s*月|本月)?\s*(?P<part>[上中下])旬", _xun, False),
    (rf"本月\s*(?P<d>{_NUM})\s*[日号]", _day_this_month, False),
    (rf"{_NB}{_Y}\s*(?P<mo>{_NUM})\s*月\s*[底末]", _month_end, False),
    (r"(?:本月|(?P<mo>)月)[底末]", _month_end, False),
    (r"本?月中(?!旬)", _mid_month, False),
    (r"本?季度?末", _quarter_end, False),
    (rf"{_NB}(?:(?P<y>{_YEAR})\s*年?|(?P<rel>今|本|明)年?)?年[底末内]", _year_end, False),
    (r"(?P<which>[本这下])个?(?:周|星期|礼拜)之?内", _within_week, False),
    (rf"[本这]个?{_WD}", _weekday_this_week, False),
    (rf"下个?{_WD}", _weekday_next_week, False),
    (rf"{_NB}(?P<n>{_NUM})\s*个?\s*工作日之?内", _working_days, False),
    (rf"{_NB}(?P<n>{_NUM})\s*个?\s*(?P<unit>天|日|周|星期)之?内", _calendar_days, False),
    (rf"{_NB}(?P<d>{_NUM})\s*[日号]", _day_of_month, True),
    (_WD, _weekday_from_today, True),
    (r"今天|今日|明天|明日|后天|下班前", _relative_day, False),
)]
# Look-alikes: what stands right before an expression that makes it mean something else (上周五, 每月5日,
# 第四季度末, 大后天, 12月中, 下个月底, 去年年底); such a text is refused, not read.
_MONTHISH = re.compile(r"(?:(?:[上下每]个?|个|[0-9一二三四五六七八九十]+)月?|月)$")
_GUARDS = {
    _weekday_from_today: re.compile(r"[每上个]$"),
    _day_of_month: re.compile(r"(?:[每上下本这]?个?月|[每上第])$"),
    _quarter_end: re.compile(r"(?:第?[一二三四1-4]|[上下每]个?)$"),
    _relative_day: re.compile(r"[大每]$"),
    _mid_month: _MONTHISH,
    _month_end: _MONTHISH,
    _xun: _MONTHISH,
    _year_end: re.compile(r"(?:[去前后]年?|年)$"),
}


# ---- showing a deadline --------------------------------------------------------------------


def format_deadline(at: datetime, reference: datetime | None = None) -> str:
    """``12月4日（周五）17:30前``; the year is written when it is not the reference's year."""
    if reference is not None and at.tzinfo is not None and reference.tzinfo is not None:
        reference = reference.astimezone(at.tzinfo)
    year = f"{at.year}年" if reference is not None and reference.year != at.year else ""
    return f"{year}{at.month}月{at.day}日（{WEEKDAYS[at.weekday()]}）{at:%H:%M}前"


def describe(at: datetime, now: datetime, cal: WorkCalendar) -> str:
    """How every mail shows a deadline: ``12月4日（周五）17:30前，剩 3 个工作日`` (in the office's zone, whatever
    zone `at` comes in: the database gives UTC)."""
    return f"{format_deadline(_aware(at, cal).astimezone(cal.zone), _aware(now, cal))}，{remaining_text(at, now, cal)}"


def working_days_left(at: datetime, now: datetime, cal: WorkCalendar) -> int:
    """Signed §6.5 count: N of 剩 N (working days after today up to the deadline's day), or -N of 逾期 N."""
    day, today = _local_day(at, cal), _local_day(now, cal)
    if _aware(now, cal) <= _aware(at, cal):
        return _workdays_after(today, day, cal)
    return -_workdays_after(day, today, cal)


def remaining_text(at: datetime, now: datetime, cal: WorkCalendar) -> str:
    """``剩 3 个工作日`` before the deadline, ``逾期 2 个工作日`` after it."""
    n = working_days_left(at, now, cal)
    overdue = _aware(now, cal) > _aware(at, cal)
    return f"逾期 {-n} 个工作日" if overdue else f"剩 {n} 个工作日"


def _aware(moment: datetime, cal: WorkCalendar) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=cal.zone)


def _local_day(moment: datetime, cal: WorkCalendar) -> date:
    return _aware(moment, cal).astimezone(cal.zone).date()


def _workdays_after(first: date, last: date, cal: WorkCalendar) -> int:
    """Working days d with first < d <= last."""
    if last <= first:
        return 0
    lo = datetime.combine(first + timedelta(days=1), time())
    hi = datetime.combine(last + timedelta(days=1), time())
    return cal.working_time_between(lo, hi) // cal.day_length

"""Tests for daemon.workcal: working days with 调休, office hours, and working-time arithmetic."""

import logging
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon import workcal
from daemon.workcal import Duration, WorkCalendar, parse_duration, parse_office_hours
from lanes import examples

SH = ZoneInfo("Asia/Shanghai")
M, H, D = "m", "h", "d"


def sh(*args):
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def cal():
    return WorkCalendar()


# A quiet week with no holidays: Friday 2026-03-06, Monday 2026-03-09, Tuesday 2026-03-10.
FRI, MON, TUE, WED = date(2026, 3, 6), date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11)


def test_the_quiet_week_is_what_the_tests_assume():
    assert [d.weekday() for d in (FRI, MON, TUE, WED)] == [4, 0, 1, 2]


# ---- parse_duration ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text, amount, unit",
    [("30m", 30, M), ("4h", 4, H), ("2d", 2, D), ("1d", 1, D), (" 4H ", 4, H), ("90 m", 90, M)],
)
def test_it_reads_durations(text, amount, unit):
    assert parse_duration(text) == Duration(amount, unit)


@pytest.mark.parametrize("text", ["", "4", "h", "4x", "1.5h", "-1d", "0m", "4 hours", "d2", "4h30m"])
def test_it_refuses_what_is_not_a_duration_and_says_how_to_write_one(text):
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    message = str(caught.value)
    assert repr(text) in message
    assert "30m" in message and "4h" in message and "2d" in message


def test_a_duration_checks_its_unit_and_amount():
    with pytest.raises(ValueError):
        Duration(1, "w")
    with pytest.raises(ValueError):
        Duration(-1, "h")
    assert str(Duration(4, "h")) == "4h"


def test_it_reads_office_hours_from_config_spans():
    assert parse_office_hours(["08:30-12:00", "13:30-17:30"]) == (
        (time(8, 30), time(12)),
        (time(13, 30), time(17, 30)),
    )
    with pytest.raises(ValueError, match="08:30-12:00"):
        parse_office_hours(["8-12"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "us"},
        {"tz": "Asia/Nowhere"},
        {"office": ()},
        {"office": ((time(8), time(12)), (time(11), time(17)))},
        {"office": ((time(12), time(8)),)},
        {"extra_days_off": [MON], "extra_workdays": [MON]},
    ],
)
def test_it_refuses_a_bad_calendar(kwargs):
    with pytest.raises(ValueError):
        WorkCalendar(**kwargs)


# ---- days --------------------------------------------------------------------------


def test_weekdays_work_and_weekends_rest(cal):
    assert cal.is_workday(FRI) and cal.is_workday(MON)
    assert not cal.is_workday(date(2026, 3, 7)) and not cal.is_workday(date(2026, 3, 8))


def test_national_day_2026_is_off_and_its_make_up_days_are_on(cal):
    # 2026 国庆: 10月1日至7日放假; 9月20日（周日）and 10月10日（周六）上班.
    for day in range(1, 8):
        assert not cal.is_workday(date(2026, 10, day)), day
    assert cal.is_workday(date(2026, 9, 30)) and cal.is_workday(date(2026, 10, 8))
    assert date(2026, 10, 10).weekday() == 5 and cal.is_workday(date(2026, 10, 10))
    assert date(2026, 9, 20).weekday() == 6 and cal.is_workday(date(2026, 9, 20))
    assert not cal.is_workday(date(2026, 10, 11))


def test_mon_fri_ignores_holidays_and_make_up_days():
    cal = WorkCalendar(kind="mon-fri")
    assert date(2026, 10, 1).weekday() == 3 and cal.is_workday(date(2026, 10, 1))
    assert not cal.is_workday(date(2026, 10, 10))
    assert cal.warnings == []


def test_a_datetime_is_judged_by_its_local_date(cal):
    # Sunday 2026-03-08 20:00 UTC is Monday 04:00 in Shanghai.
    assert cal.is_workday(datetime(2026, 3, 8, 20, tzinfo=timezone.utc))


def test_it_asks_the_library_once_per_day(monkeypatch):
    asked = []

    def counting(d):
        asked.append(d)
        return d.weekday() < 5

    monkeypatch.setattr(workcal.chinese_calendar, "is_workday", counting)
    cal = WorkCalendar()
    for _ in range(3):
        cal.add(sh(2026, 3, 6, 18), Duration(1, D))
        cal.working_time_between(sh(2026, 3, 2, 9), sh(2026, 3, 13, 9))
    assert len(asked) == len(set(asked))


# ---- moments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "clock, inside",
    [
        (time(8, 29, 59), False),
        (time(8, 30), True),
        (time(11, 59), True),
        (time(12), False),
        (time(13, 29), False),
        (time(13, 30), True),
        (time(17, 29), True),
        (time(17, 30), False),
        (time(23), False),
    ],
)
def test_office_hours_are_half_open(cal, clock, inside):
    assert cal.is_working_time(datetime.combine(MON, clock, SH)) is inside


def test_a_weekend_is_never_working_time(cal):
    assert not cal.is_working_time(sh(2026, 3, 7, 10))


@pytest.mark.parametrize(
    "at, expected",
    [
        (sh(2026, 3, 9, 10, 15), sh(2026, 3, 9, 10, 15)),  # in office hours: itself
        (sh(2026, 3, 9, 7), sh(2026, 3, 9, 8, 30)),  # before opening
        (sh(2026, 3, 9, 12), sh(2026, 3, 9, 13, 30)),  # the morning closes at 12:00
        (sh(2026, 3, 9, 12, 45), sh(2026, 3, 9, 13, 30)),  # lunch
        (sh(2026, 3, 6, 18), sh(2026, 3, 9, 8, 30)),  # Friday evening: Monday morning
        (sh(2026, 3, 7, 11), sh(2026, 3, 9, 8, 30)),  # Saturday
        (sh(2026, 9, 30, 17, 30), sh(2026, 10, 8, 8, 30)),  # eve of 国庆: after the holiday
    ],
)
def test_next_working_moment(cal, at, expected):
    assert cal.next_working_moment(at) == expected


# ---- add: working days -------------------------------------------------------------


def test_friday_evening_plus_one_day_is_tuesday_morning(cal):
    # The start moves into office time first (Monday 08:30); one working day later is Tuesday 08:30.
    result = cal.add(sh(2026, 3, 6, 18), Duration(1, D))
    assert result == sh(2026, 3, 10, 8, 30)


def test_friday_morning_plus_one_day_is_monday_same_clock(cal):
    assert cal.add(sh(2026, 3, 6, 10), Duration(1, D)) == sh(2026, 3, 9, 10)


def test_a_start_at_lunch_keeps_the_afternoon_opening(cal):
    assert cal.add(sh(2026, 3, 9, 12, 30), Duration(1, D)) == sh(2026, 3, 10, 13, 30)


def test_two_days_from_a_weekend(cal):
    # Saturday → Monday 08:30 → +2 working days → Wednesday 08:30.
    assert cal.add(sh(2026, 3, 7, 15), Duration(2, D)) == sh(2026, 3, 11, 8, 30)


def test_a_reminder_waits_national_day_out(cal):
    # Wednesday 9月30日 is the last working day before 10月1日–7日; Thursday 10月8日 is the next.
    assert cal.add(sh(2026, 9, 30, 10), Duration(1, D)) == sh(2026, 10, 8, 10)
    # 4h from 16:00: 1h30 before the 17:30 close, 2h30 from 08:30 on 10月8日.
    assert cal.add(sh(2026, 9, 30, 16), Duration(4, H)) == sh(2026, 10, 8, 11)
    # Sent on a holiday, it counts from the first morning after it.
    assert cal.add(sh(2026, 10, 3, 9), Duration(1, D)) == sh(2026, 10, 9, 8, 30)


def test_a_make_up_saturday_counts_as_a_working_day(cal):
    # Friday 10月9日 + 1d is Saturday 10月10日 (调休上班), and from there Monday 10月12日.
    assert cal.add(sh(2026, 10, 9, 10), Duration(1, D)) == sh(2026, 10, 10, 10)
    assert cal.add(sh(2026, 10, 10, 10), Duration(1, D)) == sh(2026, 10, 12, 10)
    # Friday 9月18日 + 1d skips Saturday 19日 and lands on Sunday 9月20日 (调休上班).
    assert cal.add(sh(2026, 9, 18, 10), Duration(1, D)) == sh(2026, 9, 20, 10)
    # 4h from Friday 16:00 before the make-up Saturday: 1h30 Friday, 2h30 Saturday.
    assert cal.add(sh(2026, 10, 9, 16), Duration(4, H)) == sh(2026, 10, 10, 11)


# ---- add: minutes and hours --------------------------------------------------------


def test_four_hours_across_lunch(cal):
    # 10:00–12:00 is 2h, 13:30–15:30 the other 2h.
    assert cal.add(sh(2026, 3, 9, 10), Duration(4, H)) == sh(2026, 3, 9, 15, 30)


def test_four_hours_across_the_night(cal):
    # 16:00–17:30 is 1h30, Tuesday 08:30–11:00 the other 2h30.
    assert cal.add(sh(2026, 3, 9, 16), Duration(4, H)) == sh(2026, 3, 10, 11)


def test_four_hours_across_the_weekend(cal):
    assert cal.add(sh(2026, 3, 6, 16), Duration(4, H)) == sh(2026, 3, 9, 11)


def test_thirty_minutes(cal):
    assert cal.add(sh(2026, 3, 9, 9), Duration(30, M)) == sh(2026, 3, 9, 9, 30)
    # 11:45: 15 minutes before lunch, 15 after it.
    assert cal.add(sh(2026, 3, 9, 11, 45), Duration(30, M)) == sh(2026, 3, 9, 13, 45)
    # Sunday night: counted from Monday 08:30.
    assert cal.add(sh(2026, 3, 8, 22), Duration(30, M)) == sh(2026, 3, 9, 9)


def test_time_that_runs_out_at_a_close_ends_at_the_close(cal):
    # The earliest moment by which the time has passed: 12:00, not 13:30.
    assert cal.add(sh(2026, 3, 9, 8, 30), Duration(210, M)) == sh(2026, 3, 9, 12)
    assert cal.add(sh(2026, 3, 9, 8, 30), Duration(450, M)) == sh(2026, 3, 9, 17, 30)
    # One minute more is the first minute of the next span.
    assert cal.add(sh(2026, 3, 9, 8, 30), Duration(451, M)) == sh(2026, 3, 10, 8, 31)


def test_many_hours_skip_whole_days(cal):
    # 16h from Monday 08:30: Monday 7h30, Tuesday 7h30, then 1h on Wednesday.
    assert cal.add(sh(2026, 3, 9, 8, 30), Duration(16, H)) == sh(2026, 3, 11, 9, 30)


def test_zero_leaves_the_start_alone(cal):
    assert cal.add(sh(2026, 3, 7, 10), Duration(0, H)) == sh(2026, 3, 7, 10)
    assert cal.add(sh(2026, 3, 7, 10), Duration(0, D)) == sh(2026, 3, 9, 8, 30)


def test_custom_office_hours():
    cal = WorkCalendar(office=parse_office_hours(["09:00-17:00"]))
    assert cal.day_length == timedelta(hours=8)
    assert cal.add(sh(2026, 3, 9, 16), Duration(2, H)) == sh(2026, 3, 10, 10)
    assert cal.format_waited(sh(2026, 3, 9, 9), sh(2026, 3, 10, 10)) == "1个工作日1小时"


# ---- between -----------------------------------------------------------------------


def test_working_time_between(cal):
    assert cal.working_time_between(sh(2026, 3, 6, 16), sh(2026, 3, 9, 11)) == timedelta(hours=4)
    # A whole week: five days of 7h30.
    assert cal.working_time_between(sh(2026, 3, 9), sh(2026, 3, 16)) == timedelta(hours=37, minutes=30)
    # Inside lunch nothing passes.
    assert cal.working_time_between(sh(2026, 3, 9, 12), sh(2026, 3, 9, 13, 30)) == timedelta(0)
    # Backwards is negative.
    assert cal.working_time_between(sh(2026, 3, 9, 11), sh(2026, 3, 6, 16)) == -timedelta(hours=4)


def test_working_days_between(cal):
    assert cal.working_days_between(sh(2026, 3, 6, 18), sh(2026, 3, 10, 8, 30)) == 1.0
    # 08:30–12:00 and 13:30–13:45 are 3h45, half of 7h30.
    assert cal.working_days_between(sh(2026, 3, 9, 8, 30), sh(2026, 3, 9, 13, 45)) == 0.5
    # Across 国庆 a whole week of holidays is one working day.
    assert cal.working_days_between(sh(2026, 9, 30, 8, 30), sh(2026, 10, 8, 8, 30)) == 1.0


@pytest.mark.parametrize(
    "start, end, text",
    [
        (sh(2026, 3, 9, 8, 30), sh(2026, 3, 11, 11, 30), "2个工作日3小时"),
        (sh(2026, 3, 9, 9), sh(2026, 3, 9, 9, 45), "45分钟"),
        (sh(2026, 3, 9, 8, 30), sh(2026, 3, 9, 17, 30), "1个工作日"),
        (sh(2026, 3, 9, 8, 30), sh(2026, 3, 10, 10, 15), "1个工作日1小时45分钟"),
        (sh(2026, 3, 6, 17), sh(2026, 3, 9, 9), "1小时"),  # over the weekend
        (sh(2026, 3, 9, 9), sh(2026, 3, 9, 9, 0, 30), "不足1分钟"),
        (sh(2026, 3, 7, 9), sh(2026, 3, 8, 9), "0分钟"),
        (sh(2026, 3, 9, 10), sh(2026, 3, 9, 9), "0分钟"),  # never negative
    ],
)
def test_format_waited(cal, start, end, text):
    assert cal.format_waited(start, end) == text


# ---- unknown years -----------------------------------------------------------------


def test_an_unknown_year_falls_back_to_mon_fri_and_warns_once(caplog):
    cal = WorkCalendar()
    message = "2099年的法定节假日安排尚未收录，按周一至周五计算"
    with caplog.at_level(logging.WARNING, logger="officeflow.calendar"):
        # 2099-01-01 is a Thursday: a working day by the fallback, holiday or not.
        assert date(2099, 1, 1).weekday() == 3 and cal.is_workday(date(2099, 1, 1))
        assert not cal.is_workday(date(2099, 1, 3))  # Saturday
        # Friday 2099-01-02 18:00 + 1d: Monday 5th 08:30, then Tuesday 6th 08:30.
        assert cal.add(sh(2099, 1, 2, 18), Duration(1, D)) == sh(2099, 1, 6, 8, 30)
    assert cal.warnings == [message]
    logged = [r for r in caplog.records if r.name == "officeflow.calendar"]
    assert [r.getMessage() for r in logged] == [message]
    assert logged[0].levelno == logging.WARNING


def test_each_unknown_year_warns_on_its_own():
    cal = WorkCalendar()
    cal.working_time_between(sh(2098, 12, 30, 9), sh(2099, 1, 5, 9))
    assert cal.warnings == [
        "2098年的法定节假日安排尚未收录，按周一至周五计算",
        "2099年的法定节假日安排尚未收录，按周一至周五计算",
    ]


def test_a_known_year_and_mon_fri_do_not_warn():
    cal = WorkCalendar()
    cal.working_time_between(sh(2026, 1, 1), sh(2026, 12, 31))
    assert cal.warnings == []
    mon_fri = WorkCalendar(kind="mon-fri")
    mon_fri.is_workday(date(2099, 1, 1))
    assert mon_fri.warnings == []


# ---- extra days ------------------------------------------------------------------


def test_an_extra_day_off_is_skipped():
    cal = WorkCalendar(extra_days_off=[MON])
    assert not cal.is_workday(MON)
    assert cal.add(sh(2026, 3, 6, 10), Duration(1, D)) == sh(2026, 3, 10, 10)


def test_an_extra_workday_counts():
    saturday = date(2026, 3, 7)
    cal = WorkCalendar(extra_workdays=[saturday])
    assert cal.add(sh(2026, 3, 6, 10), Duration(1, D)) == sh(2026, 3, 7, 10)


def test_extra_days_override_the_holidays_and_the_make_up_days():
    cal = WorkCalendar(extra_workdays=[date(2026, 10, 5)], extra_days_off=["2026-10-10"])
    assert cal.is_workday(date(2026, 10, 5))
    assert not cal.is_workday(date(2026, 10, 10))
    mon_fri = WorkCalendar(kind="mon-fri", extra_days_off=[date(2026, 10, 1)])
    assert not mon_fri.is_workday(date(2026, 10, 1))


# ---- time zones --------------------------------------------------------------------


def test_naive_input_is_taken_in_the_zone_and_results_are_aware(cal):
    result = cal.add(datetime(2026, 3, 9, 10), Duration(4, H))
    assert result == sh(2026, 3, 9, 15, 30)
    assert result.tzinfo == SH


def test_aware_input_from_elsewhere_is_converted(cal):
    # 2026-03-09 00:30 UTC is 08:30 in Shanghai (UTC+8).
    utc = datetime(2026, 3, 9, 0, 30, tzinfo=timezone.utc)
    assert cal.is_working_time(utc)
    assert not cal.is_working_time(utc - timedelta(seconds=1))
    result = cal.add(utc, Duration(1, H))
    assert result == sh(2026, 3, 9, 9, 30) and result.tzinfo == SH


def test_another_zone_is_honoured_across_its_clock_change():
    berlin = ZoneInfo("Europe/Berlin")
    cal = WorkCalendar(kind="mon-fri", tz="Europe/Berlin")
    # Winter, UTC+1: 07:30 UTC is 08:30 in Berlin.
    assert cal.is_working_time(datetime(2026, 3, 9, 7, 30, tzinfo=timezone.utc))
    assert not cal.is_working_time(datetime(2026, 3, 9, 7, 29, tzinfo=timezone.utc))
    # Summer time begins on Sunday 2026-03-29. Friday 17:00 + 1h: 30 minutes on Friday,
    # 30 on Monday, so Monday 09:00 local, which is 07:00 UTC (UTC+2).
    assert date(2026, 3, 29).weekday() == 6
    result = cal.add(datetime(2026, 3, 27, 17, tzinfo=berlin), Duration(1, H))
    assert result == datetime(2026, 3, 30, 7, tzinfo=timezone.utc)
    assert result.tzinfo == berlin and result.utcoffset() == timedelta(hours=2)


# ---- properties --------------------------------------------------------------------

PROPERTY_CAL = WorkCalendar()
moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 1)).map(
    lambda t: t.replace(tzinfo=SH)
)


@settings(max_examples=examples(300), deadline=None)
@given(start=moments, minutes=st.integers(min_value=1, max_value=5000))
def test_add_is_the_earliest_moment_with_that_much_office_time(start, minutes):
    result = PROPERTY_CAL.add(start, Duration(minutes, M))
    assert PROPERTY_CAL.working_time_between(start, result) == timedelta(minutes=minutes)
    just_before = result - timedelta(microseconds=1)
    assert PROPERTY_CAL.working_time_between(start, just_before) < timedelta(minutes=minutes)


@settings(max_examples=examples(300), deadline=None)
@given(start=moments, days=st.integers(min_value=1, max_value=30))
def test_add_days_is_whole_working_days_and_lands_in_office_time(start, days):
    result = PROPERTY_CAL.add(start, Duration(days, D))
    assert PROPERTY_CAL.working_time_between(start, result) == days * timedelta(hours=7, minutes=30)
    assert PROPERTY_CAL.is_working_time(result)
    begin = PROPERTY_CAL.next_working_moment(start)
    assert result.time() == begin.time()


@settings(max_examples=examples(300), deadline=None)
@given(a=moments, b=moments, c=moments)
def test_working_time_adds_up(a, b, c):
    between = PROPERTY_CAL.working_time_between
    assert between(a, b) + between(b, c) == between(a, c)
    assert between(a, b) == -between(b, a)


def _between_day_by_day(cal: WorkCalendar, start: datetime, end: datetime) -> timedelta:
    """The plain definition: every day's office windows clipped to [start, end), summed day by day."""
    a, b = start.astimezone(cal.zone).replace(tzinfo=None), end.astimezone(cal.zone).replace(tzinfo=None)
    total, d = timedelta(0), a.date()
    while d <= b.date():
        for opens, closes in cal._day_windows(d):
            lo, hi = max(opens, a), min(closes, b)
            if hi > lo:
                total += hi - lo
        d += timedelta(days=1)
    return total


_SPAN_CAL = WorkCalendar(extra_days_off=[date(2026, 12, 31)], extra_workdays=[date(2027, 1, 2)])


@settings(max_examples=examples(300), deadline=None)
@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)),
       st.integers(min_value=0, max_value=60 * 24 * 900))
def test_working_time_between_counts_what_summing_day_by_day_counts(start, minutes):
    """Long spans (years of a register) are counted from running counts; they must equal the plain sum."""
    start = start.replace(tzinfo=SH)
    end = start + timedelta(minutes=minutes)
    expected = _between_day_by_day(_SPAN_CAL, start, end)
    assert _SPAN_CAL.working_time_between(start, end) == expected
    assert _SPAN_CAL.working_time_between(end, start) == -expected

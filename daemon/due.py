"""When a step is due: its first reminder and the next, in working time on the office's calendar.

Pure: the calendar, the time zone and the reminder settings come in as arguments; no database, no mail.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from daemon.workcal import parse_duration


def due_after(cal, tz, start: datetime, delay: str, deadline: date | None) -> datetime:
    """`delay` of working time after `start`, in office hours; sooner when the deadline (时限) nears:
    the opening of each of the last two working days up to the deadline is a due time of its own."""
    due = cal.next_working_moment(cal.add(start, parse_duration(delay)))
    if deadline:
        for day in last_workdays(cal, deadline, 2):
            opening = cal.next_working_moment(datetime.combine(day, time(0), tzinfo=tz))
            if start < opening < due:
                return opening
    return due


def last_workdays(cal, last: date, n: int) -> list[date]:
    """The last `n` working days up to and including `last`, earliest first."""
    days, d = [], last
    while len(days) < n and d > last - timedelta(days=40):
        if cal.is_workday(d):
            days.insert(0, d)
        d -= timedelta(days=1)
    return days


def first_reminder(cal, tz, reminders, urgency: str, deadline: date | None, activated_at: datetime) -> datetime:
    """A step that became active at `activated_at`: its first reminder after first_after, or the urgency's delay."""
    return due_after(cal, tz, activated_at, reminders.urgent.get(urgency) or reminders.first_after, deadline)

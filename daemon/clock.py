"""The current time: real time, or OFFICEFLOW_NOW (ISO 8601 with offset) so tests and trials can move it."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path


class ClockError(ValueError):
    pass


_offset_file: Path | None = None
_offset_seen: tuple[int, timedelta] = (-1, timedelta(0))


def use_offset_file(path: Path | None) -> None:
    """The sandbox's clock: real time moved forward by the seconds written in `path` (`sandbox --advance`)."""
    global _offset_file, _offset_seen
    _offset_file, _offset_seen = path, (-1, timedelta(0))


def read_offset(path: Path) -> timedelta:
    try:
        return timedelta(seconds=float(path.read_text().strip() or 0))
    except (OSError, ValueError):
        return timedelta(0)


def _offset() -> timedelta:
    global _offset_seen
    if _offset_file is None:
        return timedelta(0)
    try:
        mtime = _offset_file.stat().st_mtime_ns
    except OSError:
        return timedelta(0)
    if mtime != _offset_seen[0]:
        _offset_seen = (mtime, read_offset(_offset_file))
    return _offset_seen[1]


def now() -> datetime:
    value = os.environ.get("OFFICEFLOW_NOW")
    if not value:
        return datetime.now(timezone.utc) + _offset()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ClockError(f"OFFICEFLOW_NOW: not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise ClockError(f"OFFICEFLOW_NOW: needs an offset such as +08:00: {value!r}")
    return moment

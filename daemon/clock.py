"""The current time: real time, or OFFICEFLOW_NOW (ISO 8601 with offset) so tests and trials can move it."""

from __future__ import annotations

import os
from datetime import datetime, timezone


class ClockError(ValueError):
    pass


def now() -> datetime:
    value = os.environ.get("OFFICEFLOW_NOW")
    if not value:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ClockError(f"OFFICEFLOW_NOW: not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise ClockError(f"OFFICEFLOW_NOW: needs an offset such as +08:00: {value!r}")
    return moment

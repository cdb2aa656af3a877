"""The running application's context: the config, the directory of people and units, the time zone, the
working-day calendar and the reply lexicon, as read from one config file.

Nothing here changes state or renders anything; the workflow, intake and daemon.views do.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon.config import Config
from daemon.directory import Directory


class App:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.tz = ZoneInfo(cfg.office.timezone)
        self.directory = Directory(cfg)

    @cached_property
    def calendar(self):
        from daemon.workcal import WorkCalendar
        h = self.cfg.hours
        return WorkCalendar(kind=h.calendar, office=h.office, tz=self.cfg.office.timezone,
                            extra_days_off=h.extra_days_off, extra_workdays=h.extra_workdays)

    @cached_property
    def lexicon(self):
        from daemon.replies import Lexicon
        return Lexicon(extra_approve=self.cfg.replies.extra_approve_words)

    def archive_root(self) -> Path:
        return self.cfg.archive.path

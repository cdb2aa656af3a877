"""What a kind of work is to the engine: the Flow interface and what it answers about who holds a request.

Nothing here imports a flow; the registry is daemon.flows.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

DEFAULT = "请示"        # the kind of every request of releases before kinds existed


@dataclass(frozen=True)
class Holding:
    """Who holds a request now, since when, and when it is due (None: not chased); ("", None, None) once done."""
    who: str
    since: datetime | None
    due: datetime | None = None


class Flow(Protocol):
    kind: str                               # Request.kind
    states: dict[str, str]                  # state -> label
    open_states: tuple[str, ...]            # someone works on it: listed in the digest
    unfinished_states: tuple[str, ...]      # not finished (open, or awaiting a report): `list --pending`, 查询
    table: tuple                            # rules.Transition rows, tried in order

    def number_format(self, cfg) -> str: ...

    def claims_new(self, app, mail, unit) -> bool: ...

    def register(self, app, incoming, unit): ...

    def holder(self, app, req, step) -> Holding: ...

    # Optional, for a kind that reads its own mail (the 交办): intake asks for them when present.
    #   handle(pipe, req, ref, reply) -> None          a mail about one of its requests
    #   reply_to_collection(pipe, reply)               an answer to its mail about several requests:
    #       -> (req, ref) | (None, None) asked which | None not one
    #   away(pipe, req, ref) -> bool                   an out-of-office reply (req None: to such a mail)


@functools.lru_cache(maxsize=32)
def number_pattern(fmt: str) -> re.Pattern:
    """A regex finding numbers of this format in a subject, e.g. 办请〔2026〕7号; made once a format, not for every
    mail that asks."""
    parts = re.split(r"(\{year\}|\{seq\})", fmt)
    rx = "".join(r"\d{4}" if p == "{year}" else r"\d{1,6}" if p == "{seq}" else re.escape(p) for p in parts)
    return re.compile(rx)

"""核定 and 派发 (SPEC §6.2 steps 3–4): office staff confirm the 三要素 and dispatch, ask the leader, or void.

Handlers take (act, word) — daemon.jiaoban.table.Act and the reader's Word — and run in intake's transaction.
"""

from __future__ import annotations


def dispatch(act, word) -> None:
    """派发 + element lines on the 核定单: refused (6.9) while 时限 or 承办 is missing or unreadable; else the lead
    unit and co-units get the 交办通知单 (each its own step and code), the leader 已派发, office staff the echo."""
    raise NotImplementedError


def redispatch(act, word) -> None:
    """派发 again, with new 承办/协办 lines, on a lead unit's 申请改派 forwarded to office staff."""
    raise NotImplementedError


def ask(act, word) -> None:
    """询问：<question> — the leader gets the question (state 待明确)."""
    raise NotImplementedError


def answer(act, word) -> None:
    """The leader's answer to 询问: recorded, passed to office staff; its 时限/承办/要求 lines fill those elements."""
    raise NotImplementedError


def void(act, word) -> None:
    """作废：<reason> — cancelled, the leader told why."""
    raise NotImplementedError

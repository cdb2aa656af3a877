"""Chasing a 交办 (SPEC §6.6): 临期提醒, 催办 and 逾期督办 as one ordered list per unit per run, 视为办结, and
the digest's 交办 section."""

from __future__ import annotations


def remind_now(act, word) -> None:
    raise NotImplementedError

"""复命, 核报 and 阅示 (SPEC §6.2 steps 6–8): the lead unit's report, the office's check, the leader's close or
next round."""

from __future__ import annotations


def report(act, word) -> None:
    raise NotImplementedError


def checked(act, word) -> None:
    raise NotImplementedError


def send_back(act, word) -> None:
    raise NotImplementedError


def close(act, word) -> None:
    raise NotImplementedError


def reopen(act, word) -> None:
    raise NotImplementedError


def unclear(act, word) -> None:
    raise NotImplementedError

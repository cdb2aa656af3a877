"""撤销 and 更正 (SPEC §6.2 step 9): on any mail of the matter before it is closed."""

from __future__ import annotations


def withdraw(act, word) -> None:
    raise NotImplementedError


def correct(act, word) -> None:
    raise NotImplementedError

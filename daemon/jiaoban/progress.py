"""While a 交办 is done (SPEC §6.2 step 5): 进展, 签收, 请求协调, 协办完毕, 申请延期 and its decision, 申请改派."""

from __future__ import annotations


def progress(act, word) -> None:
    raise NotImplementedError


def sign(act, word) -> None:
    raise NotImplementedError


def coordinate(act, word) -> None:
    raise NotImplementedError


def answer_coordination(act, word) -> None:
    raise NotImplementedError


def co_done(act, word) -> None:
    raise NotImplementedError


def extend(act, word) -> None:
    raise NotImplementedError


def decide_extension(act, word) -> None:
    raise NotImplementedError


def reassign(act, word) -> None:
    raise NotImplementedError


def keep(act, word) -> None:
    raise NotImplementedError


def other(act, word) -> None:
    raise NotImplementedError

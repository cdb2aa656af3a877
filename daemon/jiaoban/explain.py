"""Mail about a 交办 that no row of the table applied: why nothing was done, told to the sender; a stranger's
decision is a suspected forgery, told to office staff (SPEC §6.9)."""

from __future__ import annotations


def explain(act) -> None:
    raise NotImplementedError

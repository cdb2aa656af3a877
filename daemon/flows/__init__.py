"""The kinds of work the office carries (请示, …): each is a Flow the engine asks, registered under Request.kind.

A flow says how its numbers read, its states and their labels, which new mail it claims, how it registers
one, its decision table (daemon.rules) and who holds a request now. Intake, chasing and the records ask the
flow of a request instead of knowing what a 请示 is. Nothing here talks to IMAP or SMTP.
"""

from __future__ import annotations

import functools
import re

from daemon.flows.base import DEFAULT, Flow, Holding, number_pattern


def of(req) -> Flow:
    """The flow of a request (the default one for a kind this release does not know)."""
    return FLOWS.get(getattr(req, "kind", None) or DEFAULT) or FLOWS[DEFAULT]


def claiming(app, mail, unit) -> Flow:
    """The flow that takes a new mail: the first other kind that claims it, else the default."""
    for flow in FLOWS.values():
        if flow.kind != DEFAULT and flow.claims_new(app, mail, unit):
            return flow
    return FLOWS[DEFAULT]


def reply_to_collection(pipe, reply):
    """A mail about no single request that a kind of work recognises as an answer to one of its mails about
    several (the 交办's reminder list): (request, mail answered) for the one it names, (None, None) when it has
    asked the sender which; None when no kind claims it."""
    for flow in FLOWS.values():
        hook = getattr(flow, "reply_to_collection", None)
        found = hook(pipe, reply) if hook is not None else None
        if found is not None:
            return found
    return None


def away(pipe, req, ref) -> bool:
    """An out-of-office reply recorded by the kind of work it concerns, when that kind records its own (the
    请示's is intake's default: the step's delegate is asked); False when none did."""
    flows = [of(req)] if req is not None else list(FLOWS.values())
    return any(hasattr(flow, "away") and flow.away(pipe, req, ref) for flow in flows)


def open_states() -> tuple[str, ...]:
    """The states of every kind in which someone works on a request (the digest lists them)."""
    return tuple(dict.fromkeys(s for f in FLOWS.values() for s in f.open_states))


def unfinished_states() -> tuple[str, ...]:
    """The states of every kind in which a request is not finished."""
    return tuple(dict.fromkeys(s for f in FLOWS.values() for s in f.unfinished_states))


def label(req) -> str:
    """The state of a request as people read it."""
    return of(req).states.get(req.state, req.state)


def numbers_pattern(cfg) -> re.Pattern:
    """A regex finding a number of any kind of work in a subject."""
    return _any_of(tuple(f.number_format(cfg) for f in FLOWS.values()))


@functools.lru_cache(maxsize=32)
def _any_of(formats: tuple[str, ...]) -> re.Pattern:
    patterns = [number_pattern(fmt).pattern for fmt in formats]
    return re.compile(patterns[0] if len(patterns) == 1 else "(?:" + "|".join(patterns) + ")")


from daemon.flows import jiaoban, qingshi  # noqa: E402

FLOWS: dict[str, Flow] = {DEFAULT: qingshi.FLOW, jiaoban.FLOW.kind: jiaoban.FLOW}

__all__ = ["DEFAULT", "Flow", "Holding", "FLOWS", "of", "claiming", "label", "open_states", "unfinished_states",
           "reply_to_collection", "away",
           "number_pattern", "numbers_pattern"]

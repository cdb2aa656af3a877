"""A new 交办 (SPEC §6.2 steps 1–2): which mail is one, registration, the receipt to the leader and the
核定单 to office staff; 代登记; the refusals of §6.9 for mail that may not 交办."""

from __future__ import annotations


def claims(app, mail) -> bool:
    """The mail is a 交办 by its form (subject or first line), and some person is a leader: the flow takes it,
    and register() registers it or refuses it (a unit, a person who is no leader, 代登记 without 交办领导)."""
    return False


def register(app, incoming):
    raise NotImplementedError

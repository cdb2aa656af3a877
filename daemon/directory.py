"""Who is who: people, units, staff and head from the config, and the 流程 route syntax.

Pure: no database, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daemon.config import Config, Route


@dataclass(frozen=True)
class Party:
    address: str
    name: str
    id: str = ""


@dataclass(frozen=True)
class StepSpec:
    kind: str                       # "one" | "all" (会签, +) | "any" (或签, /)
    approvers: tuple[str, ...]      # addresses


class RouteError(ValueError):
    """A name in a 流程/执行/抄送 line that is nobody we know."""

    def __init__(self, token: str):
        self.token = token
        super().__init__(token)


_STEP_SEP = re.compile(r"[，,;；→\n]|->")
_LIST_SEP = re.compile(r"[，,、;；\s]+")
_ANGLE = re.compile(r"<([^<>]+@[^<>]+)>")


class Directory:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self._by_key: dict[str, Party] = {}
        office = cfg.office
        for p in cfg.people:
            party = Party(p.email, p.name, p.id)
            for key in (p.email, p.name, p.id):
                self._add(party, key)
        # staff and head not listed in [[people]] are shown by their office roles
        for addr in office.staff:
            self._add(Party(addr, "办公室"), addr)
        self._add(Party(office.staff[0], "办公室"), "办公室")
        self._add(Party(office.head, "办公室主任"), office.head)
        self._add(Party(office.head, "办公室主任"), "办公室主任")
        for u in cfg.units:
            first = next((e for e in u.emails if not e.startswith("@")), None)
            if first:
                party = Party(first, u.name, u.id)
                for key in (u.name, u.id, *[e for e in u.emails if not e.startswith("@")]):
                    self._add(party, key)
        self._people_by_addr = {p.email: p for p in cfg.people}
        self._people_by_id = {p.id: p for p in cfg.people}

    def _add(self, party: Party, key: str) -> None:
        self._by_key.setdefault(key.strip().lower(), party)

    def resolve(self, token: str) -> Party | None:
        token = token.strip().strip("。.")
        m = _ANGLE.search(token)
        if m:
            token = m.group(1)
        party = self._by_key.get(token.lower())
        if party is None and "@" in token and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", token):
            return Party(token.lower(), token.lower())
        return party

    def name_of(self, address: str) -> str:
        party = self._by_key.get(address.lower())
        if party:
            return party.name
        unit = self.unit_of(address)
        return unit.name if unit else address

    def unit_of(self, address: str):
        for u in self.cfg.units:
            if u.owns(address):
                return u
        return None

    def person(self, address: str):
        return self._people_by_addr.get(address.lower())

    def is_staff(self, address: str) -> bool:
        a = address.lower()
        return a in self.cfg.office.staff or a == self.cfg.office.head

    def is_known(self, address: str) -> bool:
        return self.is_staff(address) or address.lower() in self._people_by_addr or self.unit_of(address) is not None

    def principals_for(self, address: str) -> list[str]:
        """Addresses `address` may act for: itself and everyone who named it as delegate."""
        a = address.lower()
        me = self._people_by_addr.get(a)
        out = [a]
        if me:
            out += [p.email for p in self.cfg.people if p.delegate == me.id]
        return out

    def delegate_of(self, address: str) -> str | None:
        p = self._people_by_addr.get(address.lower())
        d = self._people_by_id.get(p.delegate) if p and p.delegate else None
        return d.email if d else None

    def superior_of(self, address: str) -> str | None:
        p = self._people_by_addr.get(address.lower())
        s = self._people_by_id.get(p.superior) if p and p.superior else None
        return s.email if s else None

    # -- the route syntax ------------------------------------------------------------------

    def parse_route(self, text: str) -> list[StepSpec]:
        """流程 line → steps: "，"/"," between steps, "+" 会签 (all), "/" 或签 (any)."""
        steps = []
        for chunk in _STEP_SEP.split(text):
            chunk = chunk.strip().strip("。")
            if not chunk:
                continue
            if "+" in chunk or "＋" in chunk:
                kind, names = "all", re.split(r"[+＋]", chunk)
            elif "/" in chunk or "／" in chunk:
                kind, names = "any", re.split(r"[/／]", chunk)
            else:
                kind, names = "one", [chunk]
            addrs = []
            for name in names:
                party = self.resolve(name)
                if party is None:
                    raise RouteError(name.strip())
                if party.address not in addrs:
                    addrs.append(party.address)
            steps.append(StepSpec(kind if len(addrs) > 1 else "one", tuple(addrs)))
        return steps

    def parse_list(self, text: str) -> list[str]:
        """执行/抄送 line → addresses."""
        out = []
        for name in _LIST_SEP.split(text.strip().strip("。")):
            if not name or name in ("无", "-"):
                continue
            party = self.resolve(name)
            if party is None:
                raise RouteError(name)
            if party.address not in out:
                out.append(party.address)
        return out

    def route_for(self, title: str, text: str) -> Route | None:
        """The first [[routes]] rule whose words occur in the title or text; a rule without match is the default."""
        hay = f"{title}\n{text}"
        for route in self.cfg.routes:
            if not route.match or any(word in hay for word in route.match):
                return route
        return None

    def describe_steps(self, steps: list[StepSpec]) -> str:
        parts = []
        for s in steps:
            joiner = "+" if s.kind == "all" else "/"
            parts.append(joiner.join(self.name_of(a) for a in s.approvers))
        return "，".join(parts)

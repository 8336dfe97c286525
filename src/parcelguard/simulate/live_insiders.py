"""How an insider reacts to the door: retry another way, slow down, give up, or be stopped.

Why: a replay that sends an insider's script unchanged measures a robot. A person who is
denied tries a little (another field, a purpose their job makes plausible, another channel)
for the same waybill; after a run of denials they get careful and drop part of their plan;
after a longer run they stop; once their account is suspended they are done. Replaying that
is what lets the live simulation say how many records an adapting insider still gets.

The parameters (patience, how careful, how many retries) are drawn per insider from a
generator the caller seeds from the world seed, so a run is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from parcelguard.reveal.facts import RevealRequest

FIELDS = ("name", "phone", "address")
PURPOSES_BY_ROLE: dict[str, tuple[str, ...]] = {
    "courier": ("delivery", "pickup"),
    "station_clerk": ("exception", "other"),
    "station_manager": ("exception", "other"),
    "warehouse_clerk": ("exception", "other"),
    "cs_agent": ("customer_service", "other"),
    "security_officer": ("investigation", "other"),
    "hq_analyst": ("investigation", "other"),
    "it_engineer": ("other",),
}
"""Purposes a person in the role could state without it looking absurd at first sight."""
CHANNELS_BY_ROLE: dict[str, tuple[str, ...]] = {"courier": ("handheld", "web")}
OFFICE_CHANNELS = ("web", "api")

PATIENCE = (5, 16)
"""Consecutive denials before an insider slows down (drawn per insider, upper bound open)."""
GIVE_UP_AFTER_MORE = (5, 16)
"""Further consecutive denials, once slowed, before they stop altogether."""
SLOW_SKIP = (0.5, 0.85)
"""Share of the planned requests a slowed insider drops."""
RETRIES = (2, 4)
"""Other ways tried for one denied waybill (2 or 3)."""


def variants(request: RevealRequest, role: str) -> list[RevealRequest]:
    """The other ways of asking for the same waybill: one change each, as a person would."""
    out = [replace(request, field=f) for f in FIELDS if f != request.field]
    out += [
        replace(request, purpose=p)
        for p in PURPOSES_BY_ROLE.get(role, ("other",))
        if p != request.purpose
    ]
    out += [
        replace(request, channel=c)
        for c in CHANNELS_BY_ROLE.get(role, OFFICE_CHANNELS)
        if c != request.channel
    ]
    return out


@dataclass(slots=True)
class Insider:
    """One insider account's state while the world is replayed."""

    employee_id: str
    role: str
    rng: np.random.Generator
    patience: int = 0
    give_up: int = 0
    slow_skip: float = 0.0
    retries: int = 0
    consecutive_denials: int = 0
    contained: bool = False
    planned: int = 0
    skipped: int = 0
    _chains: dict[str, list[RevealRequest]] = field(default_factory=dict)
    _tried: set[str] = field(default_factory=set)

    @classmethod
    def drawn(cls, employee_id: str, role: str, rng: np.random.Generator) -> Insider:
        patience = int(rng.integers(*PATIENCE))
        return cls(
            employee_id,
            role,
            rng,
            patience=patience,
            give_up=patience + int(rng.integers(*GIVE_UP_AFTER_MORE)),
            slow_skip=float(rng.uniform(*SLOW_SKIP)),
            retries=int(rng.integers(*RETRIES)),
        )

    @property
    def state(self) -> str:
        if self.contained:
            return "contained"
        if self.consecutive_denials >= self.give_up:
            return "stopped"
        if self.consecutive_denials >= self.patience:
            return "slowed"
        return "active"

    def admit(self, requests: int = 1) -> bool:
        """Whether the insider still makes the next step of their plan (``requests`` reveals:
        an export asks for three fields at once)."""
        self.planned += requests
        state = self.state
        if state in ("contained", "stopped") or (
            state == "slowed" and self.rng.random() < self.slow_skip
        ):
            self.skipped += requests
            return False
        return True

    def learn(self, decided: list[tuple[RevealRequest, bool, bool]]) -> list[RevealRequest]:
        """Feedback of one slice: (request, allowed, contained) each, in order; the retries.

        A waybill gets one chain of retries, started by its first denial while the insider is
        still active; each retry is sent only if the one before it was denied too.
        """
        denied_waybills: dict[str, RevealRequest] = {}
        got: set[str] = set()
        for request, allowed, contained in decided:
            if contained:
                self.contained = True
            if allowed:
                self.consecutive_denials = 0
                got.add(request.waybill_no)
            else:
                self.consecutive_denials += 1
                denied_waybills.setdefault(request.waybill_no, request)
        if self.state != "active":
            self._chains.clear()
            return []
        out: list[RevealRequest] = []
        for waybill, request in denied_waybills.items():
            if waybill in got:
                self._chains.pop(waybill, None)
                continue
            if waybill not in self._tried:
                self._tried.add(waybill)
                ways = variants(request, self.role)
                order = self.rng.permutation(len(ways))
                self._chains[waybill] = [ways[int(i)] for i in order[: self.retries]]
            chain = self._chains.get(waybill)
            if chain:
                out.append(chain.pop(0))
            else:
                self._chains.pop(waybill, None)
        for waybill in got:
            self._chains.pop(waybill, None)
        return out


__all__ = ["PURPOSES_BY_ROLE", "Insider", "variants"]

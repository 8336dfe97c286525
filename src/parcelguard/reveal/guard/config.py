"""The guard's thresholds: configuration the operator owns, with floors that keep it sane.

Why quotas per peer group (role, optionally role at a kind of site) rather than per person:
an insider's own history is what they control, and a new hire has none; the peers doing the
same work set what normal is. ``parcelguard guard tune`` proposes the numbers from a history;
the defaults below are floors a carrier's ordinary day stays under (a courier reveals one
phone per parcel he delivers, about 150 a day at most), so the guard never starts stricter
than the work needs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parcelguard.core.errors import BadInput
from parcelguard.reveal.guard.counters import DEFAULT_WINDOWS

Triple = tuple[int, int, int]

DEFAULT_QUOTAS: dict[str, Triple] = {
    # sensitive reveals (plaintext or a virtual number) per 10 min, hour and day
    "courier": (60, 200, 600),
    "station_clerk": (25, 80, 250),
    "station_manager": (25, 80, 250),
    "cs_agent": (25, 80, 300),
    "warehouse_clerk": (10, 30, 100),
    "security_officer": (10, 30, 80),
    "hq_analyst": (10, 30, 80),
    "it_engineer": (2, 5, 10),
}
FALLBACK_QUOTA: Triple = (5, 15, 40)
"""For a role the configuration does not name: low, because nobody planned for it."""


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """Every threshold the guard applies; see docs/guard.md for what each one stops."""

    windows: tuple[int, ...] = DEFAULT_WINDOWS
    quotas: Mapping[str, Triple] = field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    hard_factor: float = 2.0
    """Past ``hard_factor`` times a quota in any window the account is contained."""
    plaintext_per_day: int = 150
    """Plaintext values a day before the guard hands out masks instead."""
    unlinked_per_hour: int = 3
    """Sensitive reveals without a workflow link per hour before a step-up."""
    unlinked_contain_per_day: int = 20
    denied_step_up_per_10min: int = 6
    denied_contain_per_10min: int = 15
    denied_contain_per_day: int = 60
    foreign_contain_per_day: int = 5
    step_up_new_network: bool = True
    remote_per_hour: int = 1
    """Unlinked reveals of parcels far away (other provinces) in an hour: a step-up from the
    first, since no route of the actor's own site leads there."""
    remote_contain_per_day: int = 10
    refused_unlinked_contain_per_day: int = 10
    """Refused requests in a day for parcels the actor has no workflow relation to (other
    carriers' numbers included): a seller's list gets there in minutes, honest mistakes
    (a mistyped number, a ticket not yet saved) come once or twice a day."""
    fresh_hours: int = 48
    """A parcel younger than this is fresh: a buyer paid ten yuan for one under two days old."""
    fresh_targeted_per_hour: int = 2
    """Unlinked reveals of fresh parcels of targeted categories in an hour before a step-up."""
    fresh_targeted_contain_per_day: int = 10
    sheet_run_step_up: int = 8
    """Ascending waybill numbers in a row before a step-up: at random, a run of 8 has odds
    of 1 in 40,320 (1/8!); a spreadsheet sorted by number produces one every time."""
    sheet_run_contain: int = 20

    def quota(self, role: str, site_kind: str = "") -> Triple:
        """The peer group's quota: role at a site kind if configured, else the role's."""
        if site_kind and f"{role}@{site_kind}" in self.quotas:
            return self.quotas[f"{role}@{site_kind}"]
        return self.quotas.get(role, FALLBACK_QUOTA)

    @classmethod
    def load(cls, path: Path) -> GuardConfig:
        """``guard.toml``: a ``[guard]`` table of thresholds and a ``[quotas]`` table.

        A missing file means the defaults. Quotas in the file replace the default of their
        peer group only; a quota under the floor of its role is refused, so a typo cannot
        make every courier's ordinary day a step-up.
        """
        if not path.exists():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise BadInput(f"{path}: cannot read the guard configuration ({exc})") from None
        return cls.from_mapping(data, str(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "guard config") -> GuardConfig:
        unknown = set(data) - {"guard", "quotas"}
        if unknown:
            raise BadInput(f"{source}: unknown table(s) {', '.join(sorted(unknown))}")
        settings = dict(data.get("guard", {}))
        names = set(cls.__dataclass_fields__) - {"quotas", "windows"}
        bad = set(settings) - names
        if bad:
            raise BadInput(f"{source}: unknown setting(s) {', '.join(sorted(bad))}")
        for name, value in settings.items():
            if name == "step_up_new_network":
                if not isinstance(value, bool):
                    raise BadInput(f"{source}: guard.{name} must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise BadInput(f"{source}: guard.{name} must be a positive number")
        quotas = dict(DEFAULT_QUOTAS)
        for group, value in dict(data.get("quotas", {})).items():
            quotas[group] = _triple(value, f"{source}: quotas.{group}")
            role = group.split("@", 1)[0]
            floor = DEFAULT_QUOTAS.get(role, FALLBACK_QUOTA)
            if any(q < f for q, f in zip(quotas[group], floor, strict=True)):
                raise BadInput(
                    f"{source}: quotas.{group} {list(quotas[group])} is under the floor "
                    f"{list(floor)} of role {role}"
                )
        return cls(quotas=quotas, **settings)


def _triple(value: object, where: str) -> Triple:
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, int) and v > 0 for v in value)
    ):
        raise BadInput(f"{where}: give three positive whole numbers [10 min, hour, day]")
    return (value[0], value[1], value[2])

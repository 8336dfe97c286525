"""Running the simulator: one seed, one world, in a fixed order of draws."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from parcelguard.core.errors import BadInput
from parcelguard.simulate.activity import honest_activity, ticket_reveals, tickets
from parcelguard.simulate.scenarios import SCENARIOS, Label
from parcelguard.simulate.tables import world_chunks, world_tables
from parcelguard.simulate.world import World, WorldConfig, build_world

REGIMES = ("legacy",)


def scenario_names(text: str) -> list[str]:
    """``all``, or a comma-separated list of scenario names (``none`` for an honest world)."""
    if text == "all":
        return list(SCENARIOS)
    if text in {"", "none"}:
        return []
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise BadInput(
            f"--scenarios: unknown {', '.join(unknown)}; choose from all, none, "
            + ", ".join(SCENARIOS)
        )
    return names


def simulate(config: WorldConfig, scenarios: Sequence[str]) -> dict[str, pa.Table]:
    """The whole world in memory: for tests, the demo and small worlds."""
    return world_tables(*_generate(config, scenarios))


def simulate_chunks(
    config: WorldConfig, scenarios: Sequence[str]
) -> Iterator[tuple[str, pa.Table]]:
    """The world table by table, a chunk at a time, for streaming it to disk."""
    return world_chunks(*_generate(config, scenarios))


def _generate(
    config: WorldConfig, scenarios: Sequence[str]
) -> tuple[
    World,
    dict[str, npt.NDArray[np.generic]],
    npt.NDArray[np.str_],
    dict[str, npt.NDArray[np.generic]],
    list[Label],
]:
    if config.regime not in REGIMES:
        raise BadInput(
            f"--regime {config.regime}: only 'legacy' exists yet; the guarded regime arrives "
            "with the reveal service"
        )
    if config.days < 1 or config.employees < 100 or config.waybills_per_day < 100:
        raise BadInput("--days must be >= 1, --employees >= 100, --waybills-per-day >= 100")
    rng = np.random.default_rng(config.seed)
    world = build_world(config, rng)
    log = honest_activity(world, rng)
    cases = tickets(world, rng)
    ticket_reveals(world, cases, log, rng)
    labels: list[Label] = []
    for position, name in enumerate(scenarios):
        scenario_rng = np.random.default_rng([config.seed, position, sum(map(ord, name))])
        injected = SCENARIOS[name]().inject(world, log, scenario_rng)
        labels += injected.labels
        if injected.tickets:
            extra = np.array(injected.tickets, dtype=np.int64)
            cases["waybill"] = np.concatenate([cases["waybill"], extra[:, 0]])
            cases["agent"] = np.concatenate([cases["agent"], extra[:, 1]])
            cases["opened"] = np.concatenate([cases["opened"], extra[:, 2]])
            cases["closed"] = np.concatenate([cases["closed"], extra[:, 3]])
            cases["open"] = np.concatenate([cases["open"], np.zeros(len(extra), dtype=bool)])
            cases["kind"] = np.concatenate([cases["kind"], extra[:, 4].astype(np.int8)])
    return world, log.columns(), log.text_table(), cases, labels


def describe(tables: dict[str, pa.Table]) -> dict[str, object]:
    """Vital statistics, so anyone can see that the world looks like a carrier."""
    waybills, accesses, employees = tables["waybills"], tables["accesses"], tables["employees"]
    local_day = pc.strftime(waybills["created_at"], format="%Y-%m-%d")
    per_day = pc.value_counts(local_day).to_pylist()
    reveals = accesses.filter(pc.equal(accesses["action"], "reveal"))
    role_of = dict(
        zip(employees["employee_id"].to_pylist(), employees["role"].to_pylist(), strict=True)
    )
    by_role: dict[str, int] = {}
    for row in pc.value_counts(reveals["employee_id"]).to_pylist():
        role = role_of.get(row["values"], "?")
        by_role[role] = by_role.get(role, 0) + row["counts"]
    purposes = {
        row["values"] or "-": round(row["counts"] / max(accesses.num_rows, 1), 4)
        for row in pc.value_counts(accesses["purpose"]).to_pylist()
    }
    labels = tables.get("labels")
    scenarios: dict[str, int] = {}
    if labels is not None:
        for row in pc.value_counts(labels["scenario"]).to_pylist():
            scenarios[row["values"]] = row["counts"]
    couriers = pc.sum(pc.equal(employees["role"], "courier")).as_py() or 1
    deliveries = pc.sum(pc.equal(tables["scans"]["kind"], "deliver")).as_py() or 0
    days = max(len(per_day), 1)
    return {
        "rows": {name: table.num_rows for name, table in tables.items()},
        "parcels_per_courier_day": round(deliveries / couriers / days, 1),
        "waybills_per_day": {
            row["values"]: row["counts"] for row in sorted(per_day, key=lambda r: r["values"])
        },
        "employees_by_role": {
            row["values"]: row["counts"] for row in pc.value_counts(employees["role"]).to_pylist()
        },
        "reveals_by_role": dict(sorted(by_role.items())),
        "access_share_by_purpose": purposes,
        "denied_share": round(
            pc.sum(pc.equal(accesses["decision"], "deny")).as_py() / max(accesses.num_rows, 1), 4
        ),
        "scenario_accounts": scenarios,
    }

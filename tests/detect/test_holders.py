"""The harvester link: whose parcels an account's unexplained lookups were, against chance."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from parcelguard.config import Settings
from parcelguard.detect.holders import (
    HOLDER_CONCENTRATION,
    NO_CONCENTRATION,
    NO_UNEXPLAINED,
    UNKNOWN_WAYBILLS,
    Holdings,
    binomial_tail,
    holdings_from_tables,
    holdings_in_store,
    link_holders,
)
from parcelguard.storage import connect_current
from parcelguard.storage.schema import assignments


def world(couriers: int, per_courier: int) -> tuple[dict[str, frozenset[str]], dict[str, int]]:
    """``couriers`` couriers holding ``per_courier`` waybills each: W<c>-<i> held by C<c>."""
    held_by = {
        f"W{c}-{i}": frozenset({f"C{c}"}) for c in range(couriers) for i in range(per_courier)
    }
    return held_by, {f"C{c}": per_courier for c in range(couriers)}


def test_one_courier_holding_the_list_is_named_with_the_figures() -> None:
    held_by, totals = world(100, 50)  # each courier holds 1 % of the period's 5,000 waybills
    holdings = Holdings(held_by, totals, 5_000)
    asked = [f"W7-{i}" for i in range(40)] + ["W1-0", "W2-0"]
    finding = link_holders("CLERK", asked, holdings)
    assert [link.holder_id for link in finding.named] == ["C7"]
    top = finding.ranked[0]
    assert (top.held, top.of) == (40, 42)
    assert top.expected == pytest.approx(0.42)
    assert top.lift == pytest.approx(40 / 0.42)
    assert top.p_value < 1e-60
    assert finding.reasons == (HOLDER_CONCENTRATION,)
    assert finding.as_dict()["named"] == ["C7"]


def test_lookups_spread_as_chance_spreads_them_name_nobody() -> None:
    held_by, totals = world(100, 50)
    asked = [f"W{c}-{c % 50}" for c in range(100)]  # one waybill of each courier
    finding = link_holders("AGENT", asked, Holdings(held_by, totals, 5_000))
    assert finding.named == ()
    assert finding.reasons == (NO_CONCENTRATION,)
    assert all(link.held == 1 for link in finding.ranked)


def test_a_busy_courier_with_most_of_the_traffic_is_no_link() -> None:
    # C0 holds 80 % of everything, and so 80 % of an honest-looking sample: lift 1, not named.
    held_by = {f"W{i}": frozenset({"C0" if i % 5 else "C1"}) for i in range(1_000)}
    totals = {"C0": 800, "C1": 200}
    finding = link_holders("AGENT", [f"W{i}" for i in range(100)], Holdings(held_by, totals, 1_000))
    assert finding.ranked[0].holder_id == "C0"
    assert finding.ranked[0].lift == pytest.approx(1.0)
    assert finding.named == ()


def test_two_holders_of_one_list_are_both_named_and_ranked() -> None:
    held_by, totals = world(200, 20)
    asked = [f"W3-{i}" for i in range(20)] + [f"W9-{i}" for i in range(12)]
    finding = link_holders("CLERK", asked, Holdings(held_by, totals, 4_000))
    assert [link.holder_id for link in finding.ranked[:2]] == ["C3", "C9"]
    assert [link.held for link in finding.ranked[:2]] == [20, 12]
    # C9 holds 12 of 32: under the share a harvester's own list has, however unlikely.
    assert [link.holder_id for link in finding.named] == ["C3"]


def test_a_waybill_held_by_two_couriers_counts_for_each() -> None:
    held_by = {f"W{i}": frozenset({"PICK", f"DROP{i}"}) for i in range(30)}
    held_by |= {f"X{i}": frozenset({f"DROP{i}"}) for i in range(3_000)}
    totals = (
        {"PICK": 30}
        | {f"DROP{i}": 2 for i in range(30)}
        | {f"DROP{i}": 1 for i in range(30, 3_000)}
    )
    finding = link_holders("CLERK", [f"W{i}" for i in range(30)], Holdings(held_by, totals, 3_030))
    assert [link.holder_id for link in finding.named] == ["PICK"]
    assert all(link.held == 1 for link in finding.ranked[1:])


def test_unknown_waybills_are_counted_apart_and_are_not_trials() -> None:
    held_by, totals = world(100, 50)
    asked = [f"W5-{i}" for i in range(10)] + ["SF1001234567890", "JD00987654321"]
    finding = link_holders("CLERK", asked, Holdings(held_by, totals, 5_000))
    assert (finding.asked, finding.unknown) == (12, 2)
    assert finding.ranked[0].of == 10
    assert finding.reasons == (UNKNOWN_WAYBILLS, HOLDER_CONCENTRATION)


def test_only_unknown_numbers_or_own_parcels_link_nobody() -> None:
    held_by, totals = world(10, 10)
    holdings = Holdings(held_by, totals, 100)
    foreign = link_holders("CLERK", ["SF1", "SF2"], holdings)
    assert foreign.ranked == ()
    assert foreign.reasons == (UNKNOWN_WAYBILLS, NO_UNEXPLAINED)
    own = link_holders("C4", [f"W4-{i}" for i in range(10)], holdings)  # a courier's own parcels
    assert own.ranked == ()
    assert own.reasons == (NO_UNEXPLAINED,)


def test_a_handful_is_too_few_to_name_anyone() -> None:
    held_by, totals = world(1_000, 10)
    finding = link_holders("CLERK", ["W1-0", "W1-1", "W1-2"], Holdings(held_by, totals, 10_000))
    assert finding.ranked[0].held == 3
    assert finding.named == ()


def test_binomial_tail_matches_the_exact_sum() -> None:
    exact = sum(math.comb(20, j) * 0.1**j * 0.9 ** (20 - j) for j in range(4, 21))
    assert binomial_tail(4, 20, 0.1) == pytest.approx(exact, rel=1e-12)
    assert binomial_tail(0, 20, 0.1) == 1.0
    assert binomial_tail(21, 20, 0.1) == 0.0
    # 3 of 3 at p = 1e-4 is 1e-12: the log-space sum keeps tails that small exact.
    assert binomial_tail(3, 3, 1e-4) == pytest.approx(1e-12, rel=1e-9)
    assert binomial_tail(50, 60, 0.01) < 1e-70


def test_holdings_from_the_exchange_format_use_assignments_and_pickup_scans() -> None:
    t = datetime(2016, 10, 1, tzinfo=UTC)
    tables = {
        "waybills": pa.table({"waybill_no": ["A", "B", "C", "D"]}),
        "assignments": pa.table(
            {"waybill_no": ["A", "B", "C"], "courier_id": ["DROP1", "DROP1", "DROP2"]}
        ),
        "scans": pa.table(
            {
                "ts": [t] * 4,
                "waybill_no": ["A", "B", "A", "D"],
                "employee_id": ["PICK", "PICK", "CLERK9", "PICK"],
                "kind": ["pickup", "pickup", "arrive", "pickup"],
            }
        ),
    }
    holdings = holdings_from_tables(tables, ["A", "C", "Z"])
    assert holdings.held_by == {"A": {"DROP1", "PICK"}, "C": {"DROP2"}}
    assert holdings.totals == {"DROP1": 2, "DROP2": 1, "PICK": 3}
    assert holdings.universe == 4


def test_holdings_in_store_read_the_assignments_of_the_period(settings: Settings) -> None:
    t = datetime(2016, 10, 1, tzinfo=UTC)
    rows = [("A", "C1", 0, 5), ("B", "C1", 0, 5), ("C", "C2", 0, 5), ("D", "C2", 9 * 24, 10 * 24)]
    engine = connect_current(settings.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                assignments.insert(),
                [
                    {
                        "waybill_no": waybill,
                        "courier_id": courier,
                        "assigned_at": t + timedelta(hours=start),
                        "until": t + timedelta(hours=end),
                    }
                    for waybill, courier, start, end in rows
                ],
            )
        with engine.connect() as conn:
            holdings = holdings_in_store(conn, ["A", "D"], t, t + timedelta(days=2))
    finally:
        engine.dispose()
    assert holdings.held_by == {"A": {"C1"}}  # D was assigned after the period
    assert holdings.totals == {"C1": 2, "C2": 1}
    assert holdings.universe == 3

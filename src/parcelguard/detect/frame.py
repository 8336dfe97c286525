"""The accounts' days as the detectors see them, and robust baselines over peers.

Why medians and MAD: a peer group's day holds the odd busy courier and, worse, the insider
herself; a mean and standard deviation are dragged by exactly the values we look for, a
median and the median absolute deviation are not. Counts near zero get a Poisson-like
floor on the scale, so that two lookups where peers have none is not "infinitely" unusual.

Peer group = role x kind of home site (``courier@station``), as the online guard groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

MAD_TO_SIGMA = 1.4826
"""MAD times this estimates the standard deviation of a normal distribution."""


@dataclass(frozen=True, slots=True)
class Frame:
    """Per account and day (``days``) and per account over the whole input (``history``)."""

    days: Any  # pandas.DataFrame, one row per (employee_id, day)
    history: Any  # pandas.DataFrame, one row per employee_id
    first_day: int
    last_day: int

    @property
    def window_days(self) -> int:
        return self.last_day - self.first_day + 1

    @property
    def history_window(self) -> str:
        return f"P{self.window_days}D"


SUMMED = (
    "events",
    "reveals",
    "exports",
    "unexplained",
    "distinct_waybills",
    "off_shift",
    "remote",
    "fresh",
    "sensitive",
    "fresh_sensitive",
    "untouched",
    "repeats",
    "denied",
    "login_failed",
    "foreign",
    "unknown",
    "new_device",
    "new_ip",
    "night_logins",
    "pairs",
    "ascending",
    "tickets",
    "fresh_sensitive_tickets",
)


def build_frame(actor_days: pa.Table, ticket_days: pa.Table, unexplained_total: pa.Table) -> Frame:
    """Join the pipelines' outputs into one frame; days without tickets have 0 tickets.

    ``unexplained_total`` holds each account's distinct unexplained waybills over the
    input (a sum of daily distinct counts would count a snooper's repeats twice).
    """
    days = actor_days.to_pandas()
    tickets = ticket_days.to_pandas()
    days = days.merge(tickets, on=["employee_id", "day"], how="outer")
    for column in ("tickets", "fresh_sensitive_tickets"):
        days[column] = days[column].fillna(0).astype("int64")
    numeric = [c for c in SUMMED if c in days.columns]
    days[numeric] = days[numeric].fillna(0).astype("int64")
    # An agent with tickets but no access that day: her role and site come from other days.
    for column in ("role", "site_kind", "left_day"):
        days[column] = days.groupby("employee_id")[column].transform("first")
    days["group"] = days["role"].fillna("?") + "@" + days["site_kind"].fillna("?")
    days["day"] = days["day"].astype("int64")
    days = days.sort_values(["employee_id", "day"], kind="stable").reset_index(drop=True)
    history = days.groupby("employee_id", sort=True).agg(
        {**dict.fromkeys(numeric, "sum"), "group": "first", "role": "first", "left_day": "first"}
    )
    totals = unexplained_total.to_pandas().set_index("employee_id")
    history["unexplained_waybills"] = (
        totals["unexplained_waybills"].reindex(history.index).fillna(0).astype("int64")
    )
    history["active_days"] = days.groupby("employee_id")["day"].nunique()
    history = history.reset_index()
    first = int(days["day"].min()) if len(days) else 0
    last = int(days["day"].max()) if len(days) else 0
    return Frame(days=days, history=history, first_day=first, last_day=last)


def peer_baseline(table: Any, feature: str, by: list[str]) -> tuple[Any, Any]:
    """Each row's peers' median of ``feature`` and a robust scale (MAD, with a floor).

    The floor is ``sqrt(median + 1)``: what a Poisson count around the median would spread.
    """
    grouped = table.groupby(by, sort=False)[feature]
    median = grouped.transform("median").astype("float64")
    deviation = (table[feature] - median).abs()
    mad = deviation.groupby([table[c] for c in by], sort=False).transform("median")
    scale = np.maximum(MAD_TO_SIGMA * mad.astype("float64"), np.sqrt(median + 1.0))
    return median, scale


def robust_z(table: Any, feature: str, by: list[str]) -> tuple[Any, Any]:
    """(value - peers' median) / scale, and the median, per row."""
    median, scale = peer_baseline(table, feature, by)
    return (table[feature] - median) / scale, median


def empty_frame() -> Frame:
    return Frame(pd.DataFrame(), pd.DataFrame(), 0, 0)


__all__ = [
    "MAD_TO_SIGMA",
    "SUMMED",
    "Frame",
    "build_frame",
    "empty_frame",
    "peer_baseline",
    "robust_z",
]

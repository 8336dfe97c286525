"""The baselines on hand-made account-days: they do find the loud outlier, and only it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from parcelguard.detect.baselines import BASELINES, FEATURES, VOLUME_BAR


@pytest.fixture
def days() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    table = pd.DataFrame({f: rng.poisson(2, 2_000) for f in FEATURES})
    table["reveals"] = rng.poisson(40, 2_000)
    table.loc[7, ["reveals", "unexplained", "fresh", "remote"]] = [900, 900, 800, 850]
    table["employee_id"] = [f"E{i}" for i in range(2_000)]
    return table


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_each_baseline_ranks_the_loud_outlier_near_the_top(days: pd.DataFrame, name: str) -> None:
    # Near, not first: among 23 noisy counts an Isolation Forest ranks it third here, which
    # is part of why it is the weakest baseline in the evaluation.
    scored = BASELINES[name](days)
    assert 7 in np.argsort(-scored.scores)[:5]
    assert bool(scored.alerts[7])
    assert scored.alerts.sum() <= 10  # about the contamination share of 2,000 days, or the bar


def test_the_volume_bar_is_a_bar_on_reveals_alone(days: pd.DataFrame) -> None:
    scored = BASELINES["volume_threshold"](days)
    assert scored.alerts.tolist() == (days["reveals"] >= VOLUME_BAR).tolist()

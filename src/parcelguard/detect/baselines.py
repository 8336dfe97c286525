"""The baselines the detectors must beat: PyOD's Isolation Forest and ECOD, and a volume bar.

Why these: they are what a carrier would try first, unsupervised outlier scores over the
same per-account-day features the detectors see, and the plain "too many reveals a day"
rule the police in the case effectively used. If the detectors cannot beat them on
precision, their reasons are decoration.

The bars were set on the tuning seeds (11, 12, 2016 and 7, as the detectors' were) and are
not tuned on the worlds they are reported on: the outlier share is one a carrier could
afford to look at (0.2 % of account-days), which gave no false alerts on those seeds, and
the volume bar is just above the largest daily reveal count of any honest account there
(91). Their rankings (precision at k) do not depend on either bar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from parcelguard.detect.frame import SUMMED

F64 = npt.NDArray[np.float64]

FEATURES: tuple[str, ...] = SUMMED
"""Exactly the detectors' per-account-day counts, nothing the baselines alone would see."""
CONTAMINATION = 0.002
"""Share of account-days a PyOD model calls outliers (set on the tuning seeds)."""
VOLUME_BAR = 100
"""Reveals in one day: above every honest account-day of the tuning seeds (at most 91)."""
SEED = 2016


@dataclass(frozen=True, slots=True)
class Scored:
    """Per account-day of the frame: a score (higher is stranger) and whether it alerts."""

    scores: F64
    alerts: npt.NDArray[np.bool_]


def _matrix(days: Any) -> F64:
    x: F64 = days[list(FEATURES)].to_numpy(dtype=np.float64)
    return np.asarray(np.log1p(np.maximum(x, 0.0)), dtype=np.float64)


def _pyod(factory: Callable[[], Any]) -> Callable[[Any], Scored]:
    def score(days: Any) -> Scored:
        x = _matrix(days)
        if len(x) < 10:
            return Scored(np.zeros(len(x)), np.zeros(len(x), dtype=bool))
        model = factory()
        model.fit(x)
        scores = np.asarray(model.decision_scores_, dtype=np.float64)
        labels = np.asarray(model.labels_, dtype=bool)
        return Scored(scores, labels)

    return score


def iforest(days: Any) -> Scored:
    from pyod.models.iforest import IForest

    return _pyod(lambda: IForest(contamination=CONTAMINATION, random_state=SEED, n_jobs=1))(days)


def ecod(days: Any) -> Scored:
    from pyod.models.ecod import ECOD

    return _pyod(lambda: ECOD(contamination=CONTAMINATION))(days)


def volume(days: Any) -> Scored:
    reveals = days["reveals"].to_numpy(dtype=np.float64)
    return Scored(reveals, reveals >= VOLUME_BAR)


BASELINES: dict[str, Callable[[Any], Scored]] = {
    "pyod_iforest": iforest,
    "pyod_ecod": ecod,
    "volume_threshold": volume,
}

__all__ = [
    "BASELINES",
    "CONTAMINATION",
    "FEATURES",
    "VOLUME_BAR",
    "Scored",
    "ecod",
    "iforest",
    "volume",
]

"""Seeded comparisons: a metric's spread over seeds, and the paired difference of two methods.

Two methods trained with the same seed share the data order and (where the architectures
match) the starting weights, so the difference of their scores at one seed cancels much of the
seed's own luck. The rule this toolkit reports by: a difference is real when its mean over seeds
exceeds twice the standard deviation of the per-seed differences. Fewer than two seeds give no
spread, so nothing is called real from one run.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    mean: float
    sd: float  # sample standard deviation (n - 1); nan below two values
    n: int

    @property
    def real(self) -> bool | None:
        """Whether the mean is more than twice the spread away from zero (None: too few values)."""
        if self.n < 2 or math.isnan(self.mean):
            return None
        return abs(self.mean) > 2 * self.sd

    def format(self, digits: int = 2) -> str:
        if self.n == 0:
            return "–"
        if self.n == 1 or math.isnan(self.sd):
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"

    def as_dict(self) -> dict:
        return {"mean": self.mean, "sd": self.sd, "n": self.n, "real": self.real}


def spread(values: Iterable[float]) -> Spread:
    values = [float(v) for v in values]
    if not values:
        return Spread(float("nan"), float("nan"), 0)
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return Spread(statistics.fmean(values), sd, len(values))


def paired_difference(a: Mapping[int, float], b: Mapping[int, float]) -> Spread:
    """The spread of a[seed] − b[seed] over the seeds both have."""
    return spread(a[seed] - b[seed] for seed in sorted(set(a) & set(b)))

"""Seeded comparisons: a metric's spread over seeds, and the one rule every comparison is judged by.

Two methods trained with the same seed share the data order and (where the architectures match)
the starting weights, so the difference of their scores at one seed cancels much of the seed's
own luck. The rule: a paired t-test on the per-seed differences, two-sided, with the t
distribution's critical values at n − 1 degrees of freedom (scipy.stats), reported as the mean
difference with its 95 % confidence interval and p; across the family of contrasts one table
tests, p is corrected by Holm's step-down method, and a difference is called real when its
corrected p is below 0.05. Fewer than two seeds give no spread, so nothing is called real from
one run. A null is read through its interval: the interval's ends are the largest effects in
each direction that the data do not rule out.

Holm's correction is written here (six lines) rather than taken from statsmodels, which scipy does
not replace and which would be a large dependency for it; its test checks a worked example.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from scipy import stats

ALPHA = 0.05
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Spread:
    mean: float
    sd: float  # sample standard deviation (n - 1); nan below two values
    n: int

    def format(self, digits: int = 2) -> str:
        if self.n == 0:
            return "–"
        if self.n == 1 or math.isnan(self.sd):
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"

    def as_dict(self) -> dict:
        return {"mean": self.mean, "sd": self.sd, "n": self.n}


def spread(values: Iterable[float]) -> Spread:
    values = [float(v) for v in values]
    if not values:
        return Spread(float("nan"), float("nan"), 0)
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return Spread(statistics.fmean(values), sd, len(values))


@dataclass(frozen=True)
class PairedTest:
    """A mean paired difference, its 95 % confidence interval, its two-sided p and, once
    ``holm`` has seen its family, the corrected p the verdict is read from."""

    mean: float
    sd: float
    n: int
    low: float
    high: float
    p: float  # nan below two seeds
    p_holm: float | None = None  # None: not corrected (a lone test)

    @property
    def p_verdict(self) -> float:
        return self.p if self.p_holm is None else self.p_holm

    @property
    def real(self) -> bool | None:
        """Whether the difference is real at 5 % (after Holm where corrected); None: too few seeds."""
        if math.isnan(self.p_verdict):
            return None
        return self.p_verdict < ALPHA

    def format(self, digits: int = 2) -> str:
        """``+0.18 [−0.32, +0.68]``: the mean and its 95 % interval (the mean alone from one seed)."""
        if self.n == 0:
            return "–"
        if math.isnan(self.low):
            return f"{self.mean:+.{digits}f}"
        return f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "real": self.real}


def t_test(mean: float, sd: float, n: int) -> PairedTest:
    """The paired t-test of ``n`` per-seed differences with this mean and sample sd. Differences
    that are all equal (sd 0) are a certain effect when non-zero and none when zero."""
    nan = float("nan")
    if n < 2 or math.isnan(sd):
        return PairedTest(mean, sd, n, nan, nan, nan)
    if sd == 0:
        return PairedTest(mean, sd, n, mean, mean, 0.0 if mean else 1.0)
    standard_error = sd / math.sqrt(n)
    t = mean / standard_error
    critical = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)
    p = 2 * stats.t.sf(abs(t), n - 1)
    return PairedTest(mean, sd, n, mean - critical * standard_error, mean + critical * standard_error, float(p))


def paired_test(a: Mapping[int, float], b: Mapping[int, float]) -> PairedTest:
    """The test of a[seed] − b[seed] over the seeds both have."""
    differences = spread(a[seed] - b[seed] for seed in sorted(set(a) & set(b)))
    return t_test(differences.mean, differences.sd, differences.n)


def holm(tests: Sequence[PairedTest]) -> list[PairedTest]:
    """``tests`` with ``p_holm`` set by Holm's step-down correction over the family (tests without
    a p, from one seed, are not counted in it and stay uncorrected)."""
    counted = sorted((i for i, test in enumerate(tests) if not math.isnan(test.p)), key=lambda i: tests[i].p)
    corrected, running = list(tests), 0.0
    for rank, i in enumerate(counted):
        running = max(running, min(1.0, (len(counted) - rank) * tests[i].p))
        corrected[i] = dataclasses.replace(tests[i], p_holm=running)
    return corrected

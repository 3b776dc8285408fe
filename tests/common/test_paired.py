import math

import pytest

from vqct.common.paired import Spread, paired_difference, spread


def test_spread_is_mean_and_sample_sd():
    result = spread([1.0, 2.0, 3.0])
    assert (result.mean, result.sd, result.n) == (2.0, 1.0, 3)
    assert result.format(1) == "2.0 ± 1.0"
    single = spread([4.0])
    assert math.isnan(single.sd) and single.format(1) == "4.0" and single.real is None


def test_pairing_cancels_what_seeds_share():
    # two methods whose scores swing together with the seed: unpaired spreads of 1 dB, a steady 0.1 dB gap
    a = {0: 20.0, 1: 21.0, 2: 22.0}
    b = {0: 19.9, 1: 20.9, 2: 21.9}
    difference = paired_difference(a, b)
    assert difference.mean == pytest.approx(0.1) and difference.sd == pytest.approx(0.0, abs=1e-9)
    assert difference.real is True
    assert spread(a.values()).sd == pytest.approx(1.0)  # unpaired, the gap would be lost in this


def test_real_needs_the_mean_beyond_twice_the_sd_and_two_seeds():
    assert Spread(0.3, 0.1, 3).real is True
    assert Spread(0.3, 0.15, 3).real is False  # exactly twice is not beyond
    assert Spread(-0.5, 0.2, 3).real is True  # either direction
    assert Spread(0.3, float("nan"), 1).real is None


def test_only_shared_seeds_are_paired():
    difference = paired_difference({0: 1.0, 1: 2.0, 5: 9.0}, {1: 1.0, 0: 0.5, 7: 0.0})
    assert difference.n == 2 and difference.mean == pytest.approx(0.75)
    assert paired_difference({0: 1.0}, {1: 1.0}).format() == "–"

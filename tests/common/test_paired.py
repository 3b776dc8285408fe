import math

import pytest
from scipy import stats

from vqct.common.paired import PairedTest, holm, paired_test, spread, t_test


def test_spread_is_mean_and_sample_sd():
    result = spread([1.0, 2.0, 3.0])
    assert (result.mean, result.sd, result.n) == (2.0, 1.0, 3)
    assert result.format(1) == "2.0 ± 1.0"
    single = spread([4.0])
    assert math.isnan(single.sd) and single.format(1) == "4.0"


def test_the_paired_test_is_scipys_paired_t_test():
    a = {0: 24.1, 1: 23.7, 2: 24.4, 3: 23.9}
    b = {0: 23.8, 1: 23.6, 2: 23.9, 3: 23.95}
    test = paired_test(a, b)
    reference = stats.ttest_rel([a[s] for s in range(4)], [b[s] for s in range(4)])
    interval = reference.confidence_interval(0.95)
    assert test.p == pytest.approx(reference.pvalue, rel=1e-9)
    assert (test.low, test.high) == (pytest.approx(interval.low, rel=1e-9), pytest.approx(interval.high, rel=1e-9))
    assert test.n == 4 and test.mean == pytest.approx(0.2125)


def test_critical_values_follow_the_degrees_of_freedom():
    # t = 3.46 with three seeds: the old "twice the sd" rule called this real; two-sided p is 0.074
    three = t_test(mean=2.0, sd=1.0, n=3)
    assert three.p == pytest.approx(0.0742, abs=1e-3) and three.real is False
    # the same mean/sd ratio with five seeds is beyond the 5 % bound (t = 4.47, df 4)
    assert t_test(mean=2.0, sd=1.0, n=5).real is True
    # the interval uses t(0.975, 2) = 4.303, not 1.96 or 2
    assert three.high - three.mean == pytest.approx(4.3027 / math.sqrt(3), abs=1e-3)


def test_pairing_cancels_what_seeds_share():
    # two methods whose scores swing together with the seed: unpaired spreads of 1 dB, a 0.1 dB gap
    a = {0: 20.0, 1: 21.0, 2: 22.0}
    b = {0: 19.91, 1: 20.9, 2: 21.89}
    test = paired_test(a, b)
    assert test.mean == pytest.approx(0.1) and test.real is True
    assert spread(a.values()).sd == pytest.approx(1.0)  # unpaired, the gap would be lost in this


def test_one_seed_calls_nothing_and_equal_differences_are_certain():
    single = paired_test({0: 1.0, 5: 2.0}, {0: 0.5})
    assert single.n == 1 and single.real is None and single.format() == "+0.50"
    assert paired_test({0: 1.0}, {1: 1.0}).format() == "–"
    assert t_test(0.1, 0.0, 3).real is True and t_test(0.0, 0.0, 3).real is False


def test_only_shared_seeds_are_paired():
    test = paired_test({0: 1.0, 1: 2.0, 5: 9.0}, {1: 1.0, 0: 0.5, 7: 0.0})
    assert test.n == 2 and test.mean == pytest.approx(0.75)


def test_holm_steps_down_through_the_family():
    # a worked example: p = 0.01, 0.04, 0.03, 0.005 in a family of four
    ps = [0.01, 0.04, 0.03, 0.005]
    family = [PairedTest(1.0, 1.0, 3, 0.0, 2.0, p) for p in ps]
    corrected = [test.p_holm for test in holm(family)]
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → monotone: 0.06 for the last
    assert corrected == pytest.approx([0.03, 0.06, 0.06, 0.02])
    verdicts = [test.real for test in holm(family)]
    assert verdicts == [True, False, False, True]  # 0.03 alone would be real; the family says no
    assert [test.real for test in family] == [True, True, True, True]


def test_holm_leaves_single_seed_tests_out_of_the_family():
    lone = t_test(0.5, float("nan"), 1)
    family = holm([t_test(1.0, 0.3, 3), lone])
    assert family[1].p_holm is None and family[1].real is None
    assert family[0].p_holm == pytest.approx(family[0].p)  # a family of one

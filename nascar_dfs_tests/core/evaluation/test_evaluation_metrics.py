from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from nascar_dfs.core.evaluation.metrics import (
    central_interval,
    crps_ensemble,
    interval_coverage,
    interval_hits,
    pit_deciles,
    pit_randomized,
)


def brute_force_fair_crps(members: np.ndarray, y: float) -> float:
    """Ferro (2014) fair CRPS by its O(M²) definition."""
    m = members.size
    abs_error = np.mean(np.abs(members - y))
    pair_sum = np.sum(np.abs(members[:, None] - members[None, :]))
    return float(abs_error - pair_sum / (2 * m * (m - 1)))


def normal_crps(y: float) -> float:
    """Closed-form CRPS of N(0, 1) at y (Gneiting & Raftery 2007)."""
    phi = math.exp(-0.5 * y * y) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + math.erf(y / math.sqrt(2)))
    return y * (2 * cdf - 1) + 2 * phi - 1 / math.sqrt(math.pi)


def test_crps_matches_brute_force_on_small_ensembles() -> None:
    rng = np.random.default_rng(1)
    ens = rng.integers(1, 41, size=(17, 6)).astype(float)
    ens[:, 5] = rng.normal(size=17)  # one continuous column as well
    obs = np.array([1.0, 40.0, 12.0, 20.5, 7.0, 0.3])
    expected = [brute_force_fair_crps(ens[:, j], obs[j]) for j in range(6)]
    np.testing.assert_allclose(crps_ensemble(ens, obs), expected, rtol=1e-12, atol=1e-12)


def test_crps_of_a_perfect_point_ensemble_is_zero() -> None:
    ens = np.full((50, 3), 7.0)
    np.testing.assert_allclose(crps_ensemble(ens, np.full(3, 7.0)), 0.0, atol=1e-12)


def test_crps_grows_with_distance_from_the_observation() -> None:
    ens = np.full((10, 3), 5.0)
    scores = crps_ensemble(ens, np.array([5.0, 8.0, 15.0]))
    np.testing.assert_allclose(scores, [0.0, 3.0, 10.0])


def test_fair_crps_is_unbiased_for_ensemble_size() -> None:
    # Average over many small ensembles drawn from N(0, 1): the fair score recovers the
    # distribution's CRPS for 4 members as well as for 64 (the plain estimator is 0.14 too high at M=4).
    rng = np.random.default_rng(7)
    y = 0.5
    target = normal_crps(y)
    for members in (4, 64):
        ens = rng.normal(size=(members, 20_000))
        mean_score = crps_ensemble(ens, np.full(20_000, y)).mean()
        assert mean_score == pytest.approx(target, abs=0.012)


def empirical_cdf_crps(members: np.ndarray, y: float) -> float:
    """CRPS of the members' empirical distribution: the integral of (F(x) - 1{x >= y})^2."""
    points = np.sort(np.append(members, y))
    total = 0.0
    for left, right in itertools.pairwise(points):
        cdf = np.mean(members <= left)
        total += (cdf - float(left >= y)) ** 2 * (right - left)
    return total


def test_classic_crps_is_the_crps_of_the_empirical_distribution() -> None:
    rng = np.random.default_rng(3)
    ens = rng.integers(1, 41, size=(12, 5)).astype(float)
    obs = np.array([1.0, 40.0, 12.0, 20.5, 7.0])
    expected = [empirical_cdf_crps(ens[:, j], obs[j]) for j in range(5)]
    classic = crps_ensemble(ens, obs, fair=False)
    np.testing.assert_allclose(classic, expected, rtol=1e-12, atol=1e-12)
    # a 12-member ensemble scores worse under the classic estimator than under the fair one
    assert np.all(classic > crps_ensemble(ens, obs))


def test_nan_padding_scores_like_the_shorter_ensemble() -> None:
    rng = np.random.default_rng(3)
    short = rng.normal(size=5)
    long = rng.normal(size=9)
    ragged = np.full((9, 2), np.nan)
    ragged[:5, 0] = short
    ragged[:, 1] = long
    scores = crps_ensemble(ragged, np.array([0.2, -0.4]))
    assert scores[0] == pytest.approx(brute_force_fair_crps(short, 0.2))
    assert scores[1] == pytest.approx(brute_force_fair_crps(long, -0.4))


def test_single_member_ensemble_scores_absolute_error() -> None:
    ens = np.array([[3.0, np.nan], [np.nan, np.nan]])
    with pytest.raises(ValueError, match="no members"):
        crps_ensemble(ens, np.array([1.0, 1.0]))
    assert crps_ensemble(ens[:, :1], np.array([1.0]))[0] == pytest.approx(2.0)


def test_large_ensemble_fits_in_memory() -> None:
    rng = np.random.default_rng(0)
    ens = rng.integers(1, 41, size=(10_000, 40)).astype(float)
    scores = crps_ensemble(ens, np.arange(1, 41, dtype=float))
    assert scores.shape == (40,)
    # a uniform 1..40 forecast is worst for the extreme finishers and best for the middle
    assert scores[0] > scores[19] and scores[39] > scores[19]


def test_crps_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        crps_ensemble(np.zeros((5, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="members, drivers"):
        crps_ensemble(np.zeros(5), np.zeros(5))


def test_randomized_pit_is_uniform_for_a_calibrated_discrete_forecast() -> None:
    rng = np.random.default_rng(11)
    ens = rng.poisson(3.0, size=(200, 10_000)).astype(float)
    obs = rng.poisson(3.0, size=10_000).astype(float)
    deciles = pit_deciles(pit_randomized(ens, obs, rng))
    assert deciles.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(deciles, 0.1, atol=0.012)


def test_pit_of_an_overconfident_forecast_piles_up_in_the_tails() -> None:
    rng = np.random.default_rng(12)
    ens = rng.normal(scale=0.5, size=(300, 5_000))
    obs = rng.normal(size=5_000)
    deciles = pit_deciles(pit_randomized(ens, obs, rng))
    assert deciles[0] > 0.2 and deciles[-1] > 0.2
    assert deciles[4] < 0.1


def test_pit_is_zero_below_and_one_above_the_ensemble() -> None:
    ens = np.array([[2.0, 2.0], [3.0, 3.0]])
    u = pit_randomized(ens, np.array([1.0, 9.0]), np.random.default_rng(0))
    np.testing.assert_allclose(u, [0.0, 1.0])


def test_pit_deciles_rejects_values_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pit_deciles(np.array([0.5, 1.2]))
    with pytest.raises(ValueError, match="no PIT"):
        pit_deciles(np.array([]))


def test_interval_coverage_of_a_calibrated_forecast_is_near_the_level() -> None:
    rng = np.random.default_rng(5)
    ens = rng.normal(size=(1_000, 5_000))
    obs = rng.normal(size=5_000)
    assert interval_coverage(ens, obs, level=0.8) == pytest.approx(0.8, abs=0.02)
    assert interval_coverage(ens, obs, level=0.5) == pytest.approx(0.5, abs=0.02)


def test_interval_bounds_and_hits() -> None:
    ens = np.tile(np.arange(1.0, 11.0)[:, None], (1, 3))  # 1..10 for every driver
    lower, upper = central_interval(ens, 0.8)
    np.testing.assert_allclose(lower, 1.9)
    np.testing.assert_allclose(upper, 9.1)
    np.testing.assert_array_equal(interval_hits(ens, np.array([1.0, 5.0, 9.1])), [False, True, True])
    with pytest.raises(ValueError, match="level"):
        central_interval(ens, 1.0)

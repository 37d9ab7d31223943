from __future__ import annotations

import math

import numpy as np
import pytest

from nascar_dfs.core.scenarios.kernel import preview_acceptance, simulate
from nascar_dfs.core.scenarios.spec import DnfCountView, FinishTopView, GroupTopView, LapsLedView
from nascar_dfs.core.scenarios.views import ImpossibleViewsError


@pytest.fixture(scope="module")
def strength_order(kansas_params):
    return np.argsort(-kansas_params.log_worth.mean(axis=0))


@pytest.fixture(scope="module")
def unconstrained(kansas, kansas_params, dominance):
    return simulate(kansas_params, kansas, dominance, n=20_000, seed=101)


def _joint(views_fn, s) -> float:
    return float(np.mean(views_fn(s)))


def test_rejection_rate_equals_one_minus_joint_probability(
    kansas, kansas_params, dominance, strength_order, unconstrained
):
    star, mid = kansas.drivers[strength_order[0]], kansas.drivers[strength_order[8]]
    i, j = kansas.index_of(star), kansas.index_of(mid)
    views = [
        FinishTopView(driver=star, k=5),
        LapsLedView(driver=mid, laps=1),
        DnfCountView(min=0, max=5),
    ]
    u = unconstrained
    p_hat = _joint(lambda s: (s.finish[:, i] <= 5) & (s.laps_led[:, j] >= 1) & (s.dnf.sum(axis=1) <= 5), u)
    assert 0.02 < p_hat < 0.5  # an ordinary view: neither sure nor rare

    kept = simulate(kansas_params, kansas, dominance, n=1500, seed=7, views=views)
    assert kept.n == 1500
    assert np.all(kept.finish[:, i] <= 5)
    assert np.all(kept.laps_led[:, j] >= 1)
    assert np.all(kept.dnf.sum(axis=1) <= 5)
    acceptance = 1.0 - kept.rejection_rate
    # Sampling error of both estimates (binomial), four standard errors.
    se = math.sqrt(p_hat * (1 - p_hat) / u.n + p_hat * (1 - p_hat) / kept.draws)
    assert abs(acceptance - p_hat) < 4 * se


def test_group_view_counts_members_in_the_top(kansas, kansas_params, dominance, strength_order):
    group = [kansas.drivers[k] for k in strength_order[:4]]
    view = GroupTopView(drivers=group, m=3, k=10)
    s = simulate(kansas_params, kansas, dominance, n=400, seed=3, views=[view])
    cols = [kansas.index_of(d) for d in group]
    assert np.all((s.finish[:, cols] <= 10).sum(axis=1) >= 3)


def test_views_given_as_dicts_work_like_models(kansas, kansas_params, dominance):
    driver = kansas.drivers[0]
    a = simulate(kansas_params, kansas, dominance, n=300, seed=5, views=[FinishTopView(driver=driver, k=15)])
    b = simulate(
        kansas_params,
        kansas,
        dominance,
        n=300,
        seed=5,
        views=[{"kind": "finish_top", "driver": driver, "k": 15}],
    )
    np.testing.assert_array_equal(a.finish, b.finish)


def test_preview_estimates_acceptance(kansas, kansas_params, dominance, strength_order, unconstrained):
    star = kansas.drivers[strength_order[0]]
    acc = preview_acceptance(kansas_params, kansas, dominance, [FinishTopView(driver=star, k=3)], seed=1)
    truth = float(np.mean(unconstrained.finish[:, kansas.index_of(star)] <= 3))
    assert acc.draws == 2000
    assert abs(acc.rate - truth) < 4 * acc.stderr + 0.01
    assert acc.elapsed_s >= 0


def test_impossible_view_fails_fast_with_its_acceptance(kansas, kansas_params, dominance):
    driver = kansas.drivers[0]
    view = LapsLedView(driver=driver, laps=kansas.laps + 1)  # more laps than the race has
    with pytest.raises(ImpossibleViewsError) as err:
        simulate(kansas_params, kansas, dominance, n=10_000, seed=1, views=[view])
    assert err.value.acceptance.rate == 0.0
    assert err.value.acceptance.draws > 0
    assert f"{driver} leads at least {kansas.laps + 1} laps" in str(err.value)


def test_nearly_impossible_views_are_refused_before_spending_the_budget(
    kansas, kansas_params, dominance, strength_order
):
    weakest = [kansas.drivers[k] for k in strength_order[-3:]]
    views = [GroupTopView(drivers=weakest, m=3, k=3)]  # the three weakest cars sweep the podium
    with pytest.raises(ImpossibleViewsError) as err:
        simulate(kansas_params, kansas, dominance, n=5000, seed=2, views=views)
    assert err.value.acceptance.rate < 1e-3
    assert "finish top 3" in str(err.value)


def test_small_budget_that_cannot_reach_n_is_refused(kansas, kansas_params, dominance, strength_order):
    star = kansas.drivers[strength_order[0]]
    with pytest.raises(ImpossibleViewsError):
        simulate(
            kansas_params,
            kansas,
            dominance,
            n=2000,
            seed=2,
            views=[FinishTopView(driver=star, k=1)],
            max_draws=2500,
        )


def test_unknown_drivers_are_listed(kansas, kansas_params, dominance):
    views = [FinishTopView(driver="Nobody Atall", k=3), LapsLedView(driver="Ghost Rider", laps=5)]
    with pytest.raises(ValueError, match="Ghost Rider, Nobody Atall"):
        simulate(kansas_params, kansas, dominance, n=100, seed=0, views=views)
    with pytest.raises(ValueError, match="Nobody Atall"):
        preview_acceptance(kansas_params, kansas, dominance, views[:1], seed=0)

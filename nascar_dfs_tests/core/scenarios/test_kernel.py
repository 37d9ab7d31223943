from __future__ import annotations

import numpy as np
import pytest

from nascar_dfs.core.field import Field
from nascar_dfs.core.model.types import FieldParams
from nascar_dfs.core.scenarios.kernel import simulate, simulate_for_spec
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.core.scenarios.validate import validate_scenarios
from nascar_dfs.core.scoring import dk_points


@pytest.fixture(scope="module")
def kansas_set(kansas, kansas_params, dominance):
    return simulate(kansas_params, kansas, dominance, n=3000, seed=5)


def test_totals_are_exact_in_every_scenario(kansas_set, kansas):
    s = kansas_set
    assert s.finish.shape == (3000, kansas.size)
    assert np.all(s.laps_led.sum(axis=1) == kansas.laps)
    assert np.all(s.fastest_laps.sum(axis=1) == s.green_laps)
    assert np.all(s.green_laps <= kansas.laps)
    assert np.all(s.laps_led <= s.laps_completed)
    assert np.all(s.fastest_laps <= s.laps_completed)
    np.testing.assert_array_equal(np.sort(s.finish, axis=1), np.tile(np.arange(1, kansas.size + 1), (s.n, 1)))
    validate_scenarios(s, kansas.laps)


def test_dnfs_run_fewer_laps_and_finish_behind_running_cars(kansas_set, kansas):
    s = kansas_set
    assert np.all(s.laps_completed[~s.dnf] == kansas.laps)
    assert np.all(s.laps_completed[s.dnf] < kansas.laps)
    worst_running = np.where(s.dnf, 0, s.finish).max(axis=1)
    best_dnf = np.where(s.dnf, s.finish, 99).min(axis=1)
    assert np.all(worst_running < best_dnf)
    assert np.all((~s.dnf).any(axis=1))
    # The winner leads the last lap, so he always leads something.
    assert np.all(s.laps_led[s.finish == 1] > 0)


def test_dk_points_follow_the_scoring_rules(kansas_set, kansas):
    s = kansas_set
    expected = dk_points(s.finish, kansas.starts, s.laps_led, s.fastest_laps, kansas.season)
    np.testing.assert_allclose(s.dk_points, expected, atol=1e-4)


def test_strong_cars_finish_ahead_and_lead_more(kansas_set, kansas_params):
    strength = kansas_params.log_worth.mean(axis=0)
    strong, weak = int(np.argmax(strength)), int(np.argmin(strength))
    s = kansas_set
    assert s.finish[:, strong].mean() + 10 < s.finish[:, weak].mean()
    assert s.laps_led[:, strong].mean() > 5 * max(s.laps_led[:, weak].mean(), 0.1)
    assert s.fastest_laps[:, strong].mean() > s.fastest_laps[:, weak].mean()


def test_same_seed_same_races_other_seed_other_races(kansas, kansas_params, dominance):
    a = simulate(kansas_params, kansas, dominance, n=500, seed=9)
    b = simulate(kansas_params, kansas, dominance, n=500, seed=9)
    c = simulate(kansas_params, kansas, dominance, n=500, seed=10)
    for name in ("finish", "dnf", "laps_completed", "laps_led", "fastest_laps", "green_laps", "dk_points"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.finish, c.finish)
    assert a.draws == 500 and a.rejection_rate == 0.0


# Real 2019-2024 figures vs the kernel fed the estimated DominanceParams and a plausible field.
# Tolerances: leaders +-15 % of the real mean, shares +-0.05 absolute (real race-to-race sd of these shares
# is 0.05-0.25, so the tolerance is well inside one sd). Dirt has 3 races: too few to compare.
@pytest.mark.parametrize("track_type", ["superspeedway", "intermediate", "short", "road"])
def test_dominance_figures_match_real_races(track_type, fields, dominance, recent_race_stats, make_params):
    real = recent_race_stats[recent_race_stats["track_type"] == track_type]
    field = fields[track_type]
    field = Field(**{**field.__dict__, "laps": int(real["laps"].median())})
    params = make_params(field, dnf_rate=float(real["dnf_rate"].mean()))
    s = simulate(params, field, dominance, n=3000, seed=2)
    laps = field.laps
    sim = {
        "leaders": (s.laps_led > 0).sum(axis=1).mean(),
        "top_share": (s.laps_led.max(axis=1) / laps).mean(),
        "top5_share": ((s.laps_led * (s.finish <= 5)).sum(axis=1) / laps).mean(),
        "green_share": (s.green_laps / laps).mean(),
        "fastest_top_share": (s.fastest_laps.max(axis=1) / s.green_laps).mean(),
    }
    assert sim["leaders"] == pytest.approx(real["leaders"].mean(), rel=0.15)
    for share in ("top_share", "top5_share", "green_share", "fastest_top_share"):
        assert sim[share] == pytest.approx(real[share].mean(), abs=0.05), share
    # Fastest laps cover 60-94 % of the laps in real races; the simulated share stays in that range mostly.
    assert np.mean((s.green_laps / laps > 0.55) & (s.green_laps / laps <= 1.0)) > 0.95


def test_rejects_inputs_that_do_not_match(kansas, kansas_params, dominance):
    short = FieldParams(kansas_params.log_worth[:, :-1], kansas_params.dnf_prob[:, :-1])
    with pytest.raises(ValueError, match="drivers"):
        simulate(short, kansas, dominance, n=10, seed=0)
    with pytest.raises(ValueError, match="positive"):
        simulate(kansas_params, kansas, dominance, n=0, seed=0)
    bad = FieldParams(kansas_params.log_worth, kansas_params.dnf_prob * 0 + 1.5)
    with pytest.raises(ValueError, match="dnf_prob"):
        simulate(bad, kansas, dominance, n=10, seed=0)


def test_every_car_failing_still_leaves_a_winner(kansas, kansas_params, dominance):
    doomed = FieldParams(kansas_params.log_worth, np.ones_like(kansas_params.dnf_prob))
    s = simulate(doomed, kansas, dominance, n=200, seed=1)
    assert np.all((~s.dnf).sum(axis=1) == 1)
    assert np.all(s.laps_led.sum(axis=1) == kansas.laps)
    validate_scenarios(s, kansas.laps)


class _StubModel:
    """Stands in for FittedModel: field_params + dominance dict are all simulate_for_spec uses."""

    def __init__(self, params: FieldParams, dominance: dict) -> None:
        self._params, self.dominance, self.seeds = params, dominance, []

    def field_params(self, field: Field, n_draws: int | None = None, seed: int = 0) -> FieldParams:
        self.seeds.append(seed)
        return self._params


def test_simulate_for_spec_uses_the_specs_count_and_views(kansas, kansas_params, dominance):
    model = _StubModel(kansas_params, dominance.to_dict())
    driver = kansas.drivers[0]
    spec = ConstraintSpec(scenarios=300, views=[{"kind": "finish_top", "driver": driver, "k": 20}])
    s = simulate_for_spec(model, kansas, spec, seed=4)
    assert s.n == 300 and model.seeds == [4]
    assert np.all(s.finish[:, 0] <= 20)
    assert s.draws > 300 and 0 < s.rejection_rate < 1


def test_finishing_order_is_plackett_luce_without_dnfs(kansas, kansas_params, dominance):
    params = FieldParams(kansas_params.log_worth, np.zeros_like(kansas_params.dnf_prob))
    s = simulate(params, kansas, dominance, n=20_000, seed=12)
    lw = params.log_worth
    worth = np.exp(lw - lw.max(axis=1, keepdims=True))
    win_prob = (worth / worth.sum(axis=1, keepdims=True)).mean(axis=0)  # exact P(win), averaged over draws
    win_freq = (s.finish == 1).mean(axis=0)
    se = np.sqrt(win_prob * (1 - win_prob) / s.n)
    assert np.all(np.abs(win_freq - win_prob) < 4.5 * se + 1e-3)
    assert not s.dnf.any()

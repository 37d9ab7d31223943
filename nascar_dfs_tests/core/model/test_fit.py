"""One small fit on the SYNTHETIC demo history, shared by every test of this module."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.core.field import Field
from nascar_dfs.core.model.fit import FitConfig, FitError, fit_model
from nascar_dfs.core.model.fitted import FittedModel
from nascar_dfs.core.model.types import FieldParams

# short chains: thresholds loose enough for 600 draws, strict enough to catch a broken sampler
SMALL = FitConfig(chains=2, tune=300, draws=300, seed=1, max_rhat=1.1, min_ess_bulk=30, max_divergences=20)


def _completed(history: RaceHistory) -> pd.DataFrame:
    races = history.points_races()
    return races[races["race_id"].isin(history.results["race_id"])].reset_index(drop=True)


@pytest.fixture(scope="module")
def target(demo_history: RaceHistory) -> str:
    return str(_completed(demo_history)["race_id"].iloc[-1])


@pytest.fixture(scope="module")
def model(demo_history: RaceHistory, target: str) -> FittedModel:
    return fit_model(demo_history, target, SMALL)


@pytest.fixture(scope="module")
def forward_model(demo_history: RaceHistory, target: str) -> FittedModel:
    """The same fit with the forward likelihood, the one that generated the demo history."""
    priors = dataclasses.replace(SMALL.priors, likelihood="forward")
    return fit_model(demo_history, target, dataclasses.replace(SMALL, priors=priors))


@pytest.fixture(scope="module")
def last_field(demo_history: RaceHistory, target: str) -> Field:
    """The drivers of the last training race, all starting mid-pack order given by car number."""
    races = _completed(demo_history)
    previous = str(races["race_id"].iloc[-2])
    rows = demo_history.results[demo_history.results["race_id"] == previous].sort_values("car_number")
    info = demo_history.race(target)
    return Field(
        race_id=target,
        season=info.season,
        track_slug=info.track_slug,
        track_type=info.track_type,
        laps=info.laps,
        drivers=tuple(rows["driver"]),
        teams=tuple(rows["team"]),
        manufacturers=tuple(rows["manufacturer"]),
        starts=np.arange(1, len(rows) + 1),
    )


def _win_probability(params: FieldParams) -> np.ndarray:
    """Share of simulated races each driver wins, by the model's own likelihood (Gumbel-max)."""
    rng = np.random.default_rng(0)
    draws = np.repeat(params.log_worth, 20, axis=0)
    shock = rng.gumbel(size=draws.shape)
    performance = draws + (shock if params.likelihood == "forward" else -shock)
    return np.bincount(np.argmax(performance, axis=1), minlength=draws.shape[1]) / len(draws)


def test_fit_reports_diagnostics_within_thresholds(model: FittedModel, target: str) -> None:
    d = model.diagnostics
    assert model.race_id == target
    assert d.sampler in ("nutpie", "pymc")
    assert d.divergences <= SMALL.max_divergences
    assert d.max_rhat <= SMALL.max_rhat and d.min_ess_bulk >= SMALL.min_ess_bulk
    assert {"design", "build", "compile", "sample", "diagnostics"} <= set(d.timings)
    # a retry's chains pooled with the earlier ones, or alone when the earlier ones drag the pool down
    assert d.draws == SMALL.draws and d.chains in {SMALL.chains, SMALL.chains * (1 + d.retries)}
    assert model.n_draws == d.chains * d.draws
    assert len(model.version) == 16
    assert model.likelihood == "reverse"  # the default finishing-order likelihood
    assert model.dominance  # the scenario kernel's laps-led / fastest-lap parameters ride along


def test_clearly_best_driver_is_the_most_likely_winner(
    forward_model: FittedModel, demo_history: RaceHistory, last_field: Field
) -> None:
    # Forward likelihood: the demo history is drawn by forward Plackett-Luce with one dominant
    # winner. The reverse fit of these 24 races shrinks skill hard (sd_skill ~0.1) and ranks that
    # driver second by win probability: it learns the back of the field, not who wins.
    model = forward_model
    assert model.likelihood == "forward"
    trained = demo_history.results[demo_history.results["race_id"].isin(_completed(demo_history)["race_id"])]
    best = str(trained.groupby("driver")["finish"].mean().idxmin())
    assert best in last_field.drivers
    # same start for everyone so only the learned strength separates them
    level = dataclasses.replace(last_field, starts=np.full(last_field.size, last_field.size // 2))
    p_win = _win_probability(model.field_params(level))
    ranked = np.argsort(-p_win)
    assert last_field.drivers[ranked[0]] == best
    assert p_win[ranked[0]] > 1.5 * p_win[ranked[1]]


def test_a_better_start_raises_a_drivers_chances(model: FittedModel, last_field: Field) -> None:
    front = dataclasses.replace(last_field, starts=np.arange(1, last_field.size + 1))
    back = dataclasses.replace(last_field, starts=np.arange(last_field.size, 0, -1))
    p_front = _win_probability(model.field_params(front))[0]
    p_back = _win_probability(model.field_params(back))[0]
    assert p_front > p_back


def test_save_load_round_trip_gives_identical_field_params(
    model: FittedModel, last_field: Field, tmp_path: Path
) -> None:
    path = model.save(tmp_path / "model")
    model.save(path)  # overwriting an existing model works and leaves no staging folders behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    loaded = FittedModel.load(path)
    assert loaded.version == model.version
    assert loaded.dominance == model.dominance
    assert loaded.diagnostics == model.diagnostics
    a = model.field_params(last_field, n_draws=200, seed=3)
    b = loaded.field_params(last_field, n_draws=200, seed=3)
    np.testing.assert_array_equal(a.log_worth, b.log_worth)
    np.testing.assert_array_equal(a.dnf_prob, b.dnf_prob)
    assert json.loads((path / "model.json").read_text())["format"] == 3
    assert loaded.likelihood == a.likelihood == b.likelihood == "reverse"
    # the likelihood is part of the content: the same draws as a forward fit are another model
    forward = dataclasses.replace(model, likelihood="forward", version="")
    assert forward.version != model.version


def test_reverse_model_scenarios_are_valid_races_of_the_fixed_field(
    model: FittedModel, demo_history: RaceHistory, last_field: Field
) -> None:
    from nascar_dfs.core.scenarios.dominance import DominanceParams
    from nascar_dfs.core.scenarios.kernel import simulate

    params = model.field_params(last_field, n_draws=200, seed=1)
    sims = simulate(params, last_field, DominanceParams.from_dict(model.dominance), 500, seed=2)
    d = last_field.size
    assert np.all(np.sort(sims.finish, axis=1) == np.arange(1, d + 1))  # one order per scenario
    assert np.all(sims.laps_led.sum(axis=1) == last_field.laps)
    assert np.all(sims.fastest_laps.sum(axis=1) == np.asarray(sims.green_laps).reshape(-1))
    running = ~sims.dnf
    # running cars take the top places, DNFs the places behind them
    assert np.all(np.where(running, sims.finish, 0).max(axis=1) == running.sum(axis=1))


def test_recent_pace_moves_the_log_worth_and_a_format_1_model_without_it_still_loads(
    model: FittedModel, last_field: Field, tmp_path: Path
) -> None:
    assert {"pace_coef", "recent_pace"} <= set(model.draws)
    draws = {k: v.copy() for k, v in model.draws.items()}
    draws["pace_coef"][:] = 1.0
    drivers = list(model.index.drivers)
    draws["recent_pace"][:, drivers.index(last_field.drivers[0])] += 0.5
    paced = dataclasses.replace(model, draws=draws, version="")
    before = model.field_params(last_field, seed=3).log_worth
    delta = paced.field_params(last_field, seed=3).log_worth - before
    # the demo history has no running positions: every recorded pace is 0 but the one raised
    np.testing.assert_allclose(delta[:, 0], 0.5, atol=1e-5)
    np.testing.assert_allclose(delta[:, 1:], 0.0, atol=1e-5)
    # a model saved before the pace term (format 1: no pace draws) evaluates without it
    old = {k: v for k, v in model.draws.items() if k not in ("pace_coef", "recent_pace")}
    path = dataclasses.replace(model, draws=old, version="").save(tmp_path / "old")
    meta = json.loads((path / "model.json").read_text())
    (path / "model.json").write_text(json.dumps({**meta, "format": 1}))
    loaded = FittedModel.load(path).field_params(last_field, seed=3)
    assert loaded.log_worth.shape == (model.n_draws, last_field.size)


def test_load_rejects_tampered_draws(model: FittedModel, tmp_path: Path) -> None:
    path = model.save(tmp_path / "model")
    draws = {k: v.copy() for k, v in model.draws.items()}
    draws["skill"][0, 0] += 1.0
    np.savez(path / "draws.npz", **draws)
    with pytest.raises(ValueError, match="does not match its version"):
        FittedModel.load(path)


def test_unseen_driver_team_and_make_get_population_draws(model: FittedModel, last_field: Field) -> None:
    rookie = dataclasses.replace(
        last_field,
        drivers=(*last_field.drivers[:-1], "Brand New Rookie"),
        teams=(*last_field.teams[:-1], "Brand New Team"),
        manufacturers=(*last_field.manufacturers[:-1], "Brand New Make"),
    )
    params = model.field_params(rookie, n_draws=500, seed=11)
    assert params.log_worth.shape == params.dnf_prob.shape == (500, rookie.size)
    assert np.isfinite(params.log_worth).all()
    assert ((params.dnf_prob > 0) & (params.dnf_prob < 1)).all()
    assert params.log_worth[:, -1].std() > 0.05  # uncertain, not a fixed default
    again = model.field_params(rookie, n_draws=500, seed=11)
    np.testing.assert_array_equal(params.log_worth, again.log_worth)
    other_seed = model.field_params(rookie, n_draws=500, seed=12)
    assert not np.array_equal(params.log_worth[:, -1], other_seed.log_worth[:, -1])


def test_impossible_threshold_raises_fit_error_naming_it(demo_history: RaceHistory, target: str) -> None:
    impossible = dataclasses.replace(SMALL, tune=50, draws=50, min_ess_bulk=1e9)
    with pytest.raises(FitError, match="min_ess_bulk") as err:
        fit_model(demo_history, target, impossible)
    d = err.value.diagnostics
    assert d.min_ess_bulk < 1e9
    # the retry sampled as many chains again, and the error judges all of them pooled
    assert (d.retries, d.chains, d.draws) == (SMALL.retries, SMALL.chains * (1 + SMALL.retries), 50)


def test_refit_for_another_target_reuses_the_compiled_model(
    model: FittedModel, demo_history: RaceHistory
) -> None:
    earlier = str(_completed(demo_history)["race_id"].iloc[-3])
    # only the compile reuse is under test here: short chains, no convergence demands
    quick = dataclasses.replace(SMALL, tune=100, draws=100, min_ess_bulk=0.0, max_rhat=float("inf"))
    refit = fit_model(demo_history, earlier, quick)
    if model.diagnostics.sampler == "nutpie":  # nutpie works here: the refit reuses it, no fallback
        assert refit.diagnostics.sampler == "nutpie", refit.diagnostics.fallback_reason
        assert refit.diagnostics.compile_cached
    assert refit.race_id == earlier and refit.version != model.version

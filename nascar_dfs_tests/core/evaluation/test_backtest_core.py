"""The backtest's bookkeeping on the real history, with stand-in forecasters instead of MCMC fits."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nascar_dfs.core.data.history import RaceHistory, load_history
from nascar_dfs.core.evaluation.backtest import (
    ForecastFailed,
    ModelForecast,
    observed_outcome,
    results_before,
    run_backtest,
    season_races,
)
from nascar_dfs.core.evaluation.baseline import naive_baseline
from nascar_dfs.core.field import Field
from nascar_dfs.core.model.types import FieldParams


@pytest.fixture(scope="module")
def history(shared_data_dir: Path) -> RaceHistory:
    return load_history(shared_data_dir)


def baseline_as_model(history: RaceHistory, field: Field, scenarios: int, seed: int) -> ModelForecast:
    forecast = naive_baseline(results_before(history, field.race_id), field)
    return ModelForecast(forecast.finish, forecast.dk_points, {"kind": "baseline"}, 0.5, 0.25)


def oracle(history: RaceHistory, field: Field, scenarios: int, seed: int) -> ModelForecast:
    """Knows the result: every simulated race is the real one."""
    observed = observed_outcome(history, field)
    return ModelForecast(
        np.tile(observed.finish, (scenarios, 1)),
        np.tile(observed.dk_points, (scenarios, 1)),
        {"max_rhat": np.float64(1.0)},
        1.0,
        0.1,
    )


def test_season_races_are_the_last_n_in_schedule_order(history: RaceHistory) -> None:
    races = season_races(history, 2024, last=3)
    assert races["race_num"].tolist() == [34, 35, 36]
    assert races["race_id"].iloc[-1] == "2024-cup-phoenix-2"


def test_season_without_races_names_the_available_seasons(history: RaceHistory) -> None:
    with pytest.raises(ValueError, match=r"season 2031 has no points races.*2024"):
        season_races(history, 2031)


def test_results_before_hold_only_earlier_races(history: RaceHistory) -> None:
    rows = results_before(history, "2024-cup-phoenix-1")
    assert "2024-cup-phoenix-1" not in set(rows["race_id"])
    later = rows[(rows["season"] == 2024) & (rows["race_num"] >= 4)]
    assert later.empty
    assert rows[rows["season"] == 2024]["race_id"].nunique() == 3  # Daytona, Atlanta, Las Vegas


def test_observed_dk_points_reproduce_published_totals(history: RaceHistory) -> None:
    from nascar_dfs.core.data.entry_list import field_from_history

    field = field_from_history(history, "2021-cup-talladega-2")
    observed = observed_outcome(history, field)
    # DraftKings totals published for this race (shared DRAFTKINGS.md)
    assert observed.dk_points[field.index_of("Bubba Wallace")] == pytest.approx(65.15)
    assert observed.dk_points[field.index_of("Kyle Busch")] == pytest.approx(-8.55)


def test_baseline_as_model_scores_no_improvement(history: RaceHistory) -> None:
    report = run_backtest(history, 2024, last=3, scenarios=100, forecaster=baseline_as_model)
    assert report.overall.races == 3
    assert report.overall.finish_improvement == pytest.approx(0.0)
    assert report.overall.dk_improvement == pytest.approx(0.0)
    assert report.overall.model_dk_coverage == report.overall.baseline_dk_coverage
    assert report.overall.total_fit_seconds == pytest.approx(1.5)
    assert not report.targets["finish_improvement_met"]
    # the naive forecast is far from perfect on real races
    assert report.overall.baseline_finish_crps > 3.0
    # the classic estimator is reported beside the fair one and charges the 12-race ensemble more
    assert report.overall.finish_improvement_classic == pytest.approx(0.0)
    assert all(r.baseline_finish_crps_classic > r.baseline_finish_crps for r in report.races)
    assert all(r.baseline_dk_crps_classic > r.baseline_dk_crps for r in report.races)


def test_oracle_beats_the_baseline_completely(history: RaceHistory) -> None:
    messages: list[str] = []
    report = run_backtest(history, 2024, last=2, scenarios=50, forecaster=oracle, progress=messages.append)
    assert report.overall.model_finish_crps == pytest.approx(0.0)
    assert report.overall.finish_improvement == pytest.approx(1.0)
    assert report.overall.dk_improvement == pytest.approx(1.0)
    assert report.overall.model_dk_coverage == 1.0
    assert report.targets["finish_improvement_met"] and report.targets["dk_improvement_met"]
    assert not report.targets["dk_coverage_met"]  # 100% lies outside the calibrated 75-85% band
    assert len(messages) == 2 and "2024-cup-phoenix-2" in messages[-1]


def test_report_is_one_json_document_with_per_race_and_per_type_results(history: RaceHistory) -> None:
    report = run_backtest(history, 2024, last=4, scenarios=50, forecaster=oracle)
    doc = json.loads(report.to_json())
    assert [r["race_id"] for r in doc["races"]][-1] == "2024-cup-phoenix-2"
    assert doc["races"][0]["diagnostics"] == {"max_rhat": 1.0}
    assert sum(t["races"] for t in doc["by_track_type"].values()) == 4
    assert len(doc["overall"]["model_dk_pit_deciles"]) == 10


def test_a_race_that_cannot_be_fitted_is_reported_not_dropped(history: RaceHistory) -> None:
    def fails_at_phoenix(history: RaceHistory, field: Field, scenarios: int, seed: int) -> ModelForecast:
        if field.race_id == "2024-cup-phoenix-2":
            raise ForecastFailed(field.race_id, "model fit rejected: max_rhat 1.2 > 1.05", {"max_rhat": 1.2})
        return oracle(history, field, scenarios, seed)

    report = run_backtest(history, 2024, last=3, scenarios=20, forecaster=fails_at_phoenix)
    assert report.overall.races == 2
    assert [f["race_id"] for f in report.failed] == ["2024-cup-phoenix-2"]
    assert "max_rhat" in report.failed[0]["reason"]


def test_checkpoint_sees_the_races_done_so_far(history: RaceHistory) -> None:
    seen: list[int] = []
    final = run_backtest(
        history,
        2024,
        last=3,
        scenarios=20,
        forecaster=oracle,
        checkpoint=lambda r: seen.append(r.overall.races),
    )
    assert seen == [1, 2, 3]
    assert final.overall.races == 3


class _FakeModel:
    """Stands in for a fitted race model: every driver equally strong, no DNFs."""

    def __init__(self, race_id: str) -> None:
        self.race_id = race_id
        self.dominance: dict = {}
        self.diagnostics = {"max_rhat": 1.0}

    def field_params(self, field: Field, seed: int = 0) -> FieldParams:
        zeros = np.zeros((4, field.size))
        return FieldParams(log_worth=zeros, dnf_prob=zeros)


def _fake_simulate(params: FieldParams, field: Field, dominance: object, n: int, seed: int) -> object:
    rng = np.random.default_rng(seed)
    finish = np.argsort(rng.random((n, field.size)), axis=1) + 1
    zeros = np.zeros_like(finish)
    return SimpleNamespace(
        finish=finish,
        dk_points=(45.0 - finish) + (field.starts - finish),
        laps_led=zeros,
        fastest_laps=zeros,
    )


def test_refit_every_k_races_fits_only_on_earlier_races(
    history: RaceHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nascar_dfs.core.model import fit
    from nascar_dfs.core.scenarios import dominance, kernel

    races = season_races(history, 2024, last=6)["race_id"].tolist()
    fitted_for: list[str] = []

    def fake_fit(history: RaceHistory, race_id: str, config: object = None) -> _FakeModel:
        fitted_for.append(race_id)
        if race_id == races[2]:
            raise fit.FitError(["max_rhat 1.2 > 1.05"], {"max_rhat": 1.2})
        return _FakeModel(race_id)

    monkeypatch.setattr(fit, "fit_model", fake_fit)
    monkeypatch.setattr(kernel, "simulate", _fake_simulate)
    monkeypatch.setattr(dominance.DominanceParams, "from_dict", classmethod(lambda cls, data: data))

    report = run_backtest(history, 2024, last=6, scenarios=50, refit_every=2)
    # fits before races 1, 3 (fails), 4 (retried after the failure), 6 of the last six
    assert fitted_for == [races[0], races[2], races[3], races[5]]
    assert [f["race_id"] for f in report.failed] == [races[2]]
    used = [r.diagnostics["fitted_for"] for r in report.races]
    assert used == [races[0], races[0], races[3], races[3], races[5]]
    assert report.config["refit_every"] == 2


def backwards_grid(history: RaceHistory, field: Field, scenarios: int, seed: int) -> ModelForecast:
    """A forecaster sure of the wrong thing: the grid finishes in reverse, in every race."""
    finish = field.size + 1.0 - np.asarray(field.starts, dtype=np.float64)
    return ModelForecast(
        np.tile(finish, (scenarios, 1)), np.tile(60.0 - finish, (scenarios, 1)), {}, 0.0, 0.0
    )


def test_the_chosen_forecast_switches_per_track_type_only_after_a_race_of_that_type_was_scored(
    history: RaceHistory,
) -> None:
    report = run_backtest(history, 2024, last=8, scenarios=300, forecaster=backwards_grid)

    seen: set[str] = set()
    for race in report.races:
        assert race.replay_finish_crps < race.model_finish_crps  # the replay knows the drivers
        expected = "replay" if race.track_type in seen else "model"
        assert race.chosen_forecaster == expected, race.race_id
        picked = race.replay_finish_crps if expected == "replay" else race.model_finish_crps
        assert race.chosen_finish_crps == pytest.approx(picked)
        seen.add(race.track_type)
    counts = report.overall.chosen_counts
    assert counts["model"] == len(seen) and counts["replay"] == 8 - len(seen)
    assert report.overall.chosen_finish_improvement > report.overall.finish_improvement
    assert len(report.overall.chosen_finish_pit_deciles) == 10
    assert report.to_dict()["overall"]["chosen_counts"] == counts

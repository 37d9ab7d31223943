"""The science the assets call, behind one seam.

Every import of `nascar_dfs.core` that costs time (PyMC, PyTensor) happens inside a function, so
loading the Dagster definitions stays fast and the compile-cache environment is set before the
model module is imported. Tests replace these functions to exercise the platform without a fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nascar_dfs.core.field import Field
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.core.scenarios.types import ScenarioSet


def demo_data_dir() -> Path:
    from nascar_dfs.core.data.demo import DEMO_DIR

    return Path(DEMO_DIR)


def load_history(data_dir: Path) -> Any:
    from nascar_dfs.core.data.history import load_history as load

    return load(data_dir)


def read_slate(path: Path) -> Any:
    from nascar_dfs.core.data.draftkings import read_dk_salaries

    return read_dk_salaries(path)


def match_slate(slate: Any, history: Any) -> Any:
    """Slate drivers named as the history names them; debutants keep their DraftKings name."""
    from nascar_dfs.core.data.draftkings import match_slate_drivers

    return match_slate_drivers(slate, history.results["driver"].unique(), allow_unknown=True)


def slate_field(slate: Any, history: Any, race_id: str) -> Field:
    from nascar_dfs.core.data.fields import field_from_slate

    return field_from_slate(slate, history, race_id)


def history_field(history: Any, race_id: str) -> Field:
    from nascar_dfs.core.data.fields import field_from_history

    return field_from_history(history, race_id)


def fit(history: Any, race_id: str, options: dict[str, Any]) -> Any:
    from nascar_dfs.core.model.fit import FitConfig, fit_model

    return fit_model(history, race_id, FitConfig(**options))


def simulate(model: Any, field: Field, spec: ConstraintSpec, seed: int) -> ScenarioSet:
    from nascar_dfs.core.scenarios.kernel import simulate_for_spec

    return simulate_for_spec(model, field, spec, seed)


def portfolio(slate: Any, spec: ConstraintSpec, scenarios: ScenarioSet) -> Any:
    from nascar_dfs.core.optimizer import build_portfolio

    return build_portfolio(slate, spec, scenarios=scenarios)


def ownership(slate: Any, scenarios: ScenarioSet) -> Any:
    """Projected field ownership of the slate's drivers (a DataFrame in the slate's pool order)."""
    from nascar_dfs.core.contest.slate import slate_ownership

    return slate_ownership(slate, scenarios)


def contest_field(ownership_frame: Any, contest: Any, lineups: int, seed: int) -> Any:
    from nascar_dfs.core.contest.slate import contest_field as draw

    return draw(ownership_frame, contest, lineups, seed)


def field_check(field: Any, tolerance: float, names: list[str]) -> tuple[bool, dict[str, Any]]:
    from nascar_dfs.core.contest.slate import field_check as check

    return check(field, tolerance, names)


def contest_portfolio(slate: Any, spec: ConstraintSpec, scenarios: ScenarioSet, field: Any) -> Any:
    """The spec's lineups picked by simulated ROI against ``field`` (a ContestPortfolio)."""
    from nascar_dfs.core.contest.selection import contest_portfolio as pick

    return pick(slate, spec, scenarios, spec.contest, field.target, field=field, report=False)


def contest_report(
    slate: Any, scenarios: ScenarioSet, portfolio: Any, field: Any, contest: Any, tolerance: float
) -> dict[str, Any]:
    """The portfolio and the field played in the scenario set's races, as JSON-ready figures (with
    the field's ownership check, so a reader of the report sees it too)."""
    from nascar_dfs.core.contest.slate import portfolio_report, report_dict
    from nascar_dfs.core.optimizer.build import as_pool

    names = list(as_pool(slate).names)
    passed, figures = field_check(field, tolerance, names)
    ids = [list(lineup.dk_ids) for lineup in portfolio.lineups]
    report, in_sample = portfolio_report(slate, scenarios, ids, field, contest)
    who = [{"drivers": list(lineup.drivers), "dk_ids": list(lineup.dk_ids)} for lineup in portfolio.lineups]
    return report_dict(report, in_sample, who, figures, passed)


def upload_csv_text(lineups: list[list[int]], workdir: Path) -> str:
    """The DraftKings upload file as text, written by the data module's own writer."""
    from nascar_dfs.core.data.draftkings import write_upload_csv

    path = workdir / "DKUpload.csv"
    write_upload_csv(lineups, path)
    return path.read_text(encoding="utf-8")


def score_finish(model: Any, history: Any, race_id: str, scenarios: int, seed: int) -> dict[str, Any]:
    """Finish-position CRPS of the model and of the naive baseline on one completed race, plus PIT.

    Built from the evaluation module's own pieces, as its walk-forward backtest scores a race.
    """
    import numpy as np

    from nascar_dfs.core.evaluation.backtest import observed_outcome, results_before
    from nascar_dfs.core.evaluation.baseline import naive_baseline
    from nascar_dfs.core.evaluation.metrics import crps_ensemble, pit_randomized

    race_field = history_field(history, race_id)
    sims = simulate(model, race_field, ConstraintSpec(scenarios=scenarios), seed)
    observed = observed_outcome(history, race_field)
    base = naive_baseline(results_before(history, race_id), race_field)
    pit = pit_randomized(sims.finish, observed.finish, np.random.default_rng(seed))
    return {
        "race": race_id,
        "crps": float(crps_ensemble(sims.finish, observed.finish).mean()),
        "baseline_crps": float(crps_ensemble(base.finish, observed.finish).mean()),
        "pit": [round(float(u), 4) for u in pit],
    }


def ingest_feed(feed_path: Path, data_dir: Path) -> str:
    """Append the race of a NASCAR weekend feed JSON to the data folder; returns its race_id.

    The feed names its track ("Sonoma Raceway"); the venue slug is the tracks.csv row carrying that
    name (current or earlier), so a feed for a venue the folder does not know is refused.
    """
    import pandas as pd

    from nascar_dfs.core.data.feed import FeedError, append_feed_race

    tracks = pd.read_csv(data_dir / "tracks.csv", dtype=str).fillna("")
    slugs: dict[str, str] = {}
    for row in tracks.itertuples():
        for name in [row.track_name, *str(getattr(row, "other_names", "")).split(";")]:
            if name.strip():
                slugs[name.strip().lower()] = row.track_slug

    def slug_of(race: Any) -> str:
        name = str(race.get("track_name", "")).strip().lower()
        if name not in slugs:
            raise FeedError(f"track {race.get('track_name')!r} of {feed_path.name} is not in tracks.csv")
        return slugs[name]

    return append_feed_race(data_dir, feed_path, slug_of)

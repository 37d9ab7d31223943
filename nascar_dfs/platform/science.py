"""The science the assets call, behind one seam: each function is one call into `nascar_dfs.core`.

Two reasons for the seam, no logic: every import of the core happens inside a function, so loading
the Dagster definitions stays fast and the compile-cache environment is set before the model module
is imported; and the platform's tests (nascar_dfs_tests/platform/fakes.py) replace these functions
to exercise the platform in seconds, without a fit.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    """Slate drivers named as the history names them (debutants keep their DraftKings name); a slate
    with blank TeamAbbrev cells takes the history's teams, so team caps mean the real teams."""
    from nascar_dfs.core.data.draftkings import latest_teams, match_slate_drivers, with_history_teams

    matched = match_slate_drivers(slate, history.results["driver"].unique(), allow_unknown=True)
    return with_history_teams(matched, latest_teams(history.results))


def slate_field(slate: Any, history: Any, race_id: str, starts: Mapping[str, int] | None = None) -> Field:
    """The race's field; `starts` (driver -> position, e.g. an uploaded starting lineup) wins over the
    slate's StartPos; with neither the grid is unknown and the scenarios simulate it."""
    from nascar_dfs.core.data.entry_list import field_from_slate

    return field_from_slate(slate, history, race_id, starts=starts)


def fit(history: Any, race_id: str, options: dict[str, Any]) -> Any:
    from nascar_dfs.core.model.fit import FitConfig, fit_model

    return fit_model(history, race_id, FitConfig(**options))


def simulate(model: Any, field: Field, spec: ConstraintSpec, seed: int) -> ScenarioSet:
    from nascar_dfs.core.scenarios.kernel import simulate_for_spec

    return simulate_for_spec(model, field, spec, seed)


def simulate_forecaster(
    forecaster: str, model: Any, history: Any, field: Field, spec: ConstraintSpec, seed: int
) -> ScenarioSet:
    """Scenarios of the named candidate forecaster (the model fitted for the race, or the ranked replay
    of the races before it) under the spec."""
    from nascar_dfs.core.evaluation.candidates import candidate_forecasters
    from nascar_dfs.core.scenarios.forecasters import forecast_for_spec

    candidates = candidate_forecasters(model, history, field.race_id)
    if forecaster not in candidates:
        raise ValueError(f"unknown forecaster {forecaster!r}; the candidates are {', '.join(candidates)}")
    return forecast_for_spec(candidates[forecaster], field, spec, seed)


def score_candidates(model: Any, history: Any, race_id: str, scenarios: int, seed: int) -> dict[str, Any]:
    """Each candidate forecaster's fair CRPS on a completed race, the model being the one fitted for it."""
    from nascar_dfs.core.evaluation.candidates import score_candidates as score

    return score(model, history, race_id, scenarios, seed)


def selection_window() -> int:
    """Completed races of a track type the forecaster choice looks back on."""
    from nascar_dfs.core.evaluation.selection import WINDOW

    return WINDOW


def choose_forecaster(track_type: str, before: tuple[int, int], scored: list[dict[str, Any]]) -> Any:
    """The selection rule (core/evaluation/selection.py) over score_candidates' results."""
    from nascar_dfs.core.evaluation.selection import ScoredRace
    from nascar_dfs.core.evaluation.selection import choose_forecaster as choose
    from nascar_dfs.core.scenarios.forecasters import MODEL, REPLAY

    races = [
        ScoredRace(s["race"], s["season"], s["race_num"], s["track_type"], s["finish_crps"]) for s in scored
    ]
    return choose(track_type, before, races, (MODEL, REPLAY))


def portfolio(slate: Any, spec: ConstraintSpec, scenarios: ScenarioSet) -> Any:
    """The spec's lineups, ranked with the player's own numbers where the spec gives them."""
    from nascar_dfs.core.optimizer import build_portfolio

    if spec.projections or spec.ownership:
        # Imported only here: the contest module loads SciPy (its ownership fit), 0.3-0.6 s of a
        # plain spec's lineup run that never uses it.
        from nascar_dfs.core.contest.slate import pool_with_player_numbers

        slate = pool_with_player_numbers(slate, spec, scenarios)
    return build_portfolio(slate, spec, scenarios=scenarios)


def reoptimize(slate: Any, entries: Any, out: list[str], spec: ConstraintSpec, scenarios: ScenarioSet) -> Any:
    """The entries with the out drivers replaced, chosen on the scenarios by the spec's objective."""
    from nascar_dfs.core.optimizer import reoptimize_entries

    return reoptimize_entries(entries, slate, out, spec, scenarios=scenarios)


def dk_entries_text(entries: Any, workdir: Path) -> str:
    """A DKEntries.csv as text, written by the data module's own writer."""
    from nascar_dfs.core.data.draftkings import write_dk_entries

    return write_dk_entries(entries, workdir / "DKEntries.csv").read_text(encoding="utf-8")


def ownership(slate: Any, scenarios: ScenarioSet, given: Mapping[str, float] | None = None) -> Any:
    """Projected field ownership of the slate's drivers (a DataFrame in the slate's pool order);
    `given` is the player's own (driver -> percent, a spec's ownership), the model's fills the rest."""
    from nascar_dfs.core.contest.slate import slate_ownership

    return slate_ownership(slate, scenarios, given=given)


def contest_field(ownership_frame: Any, contest: Any, lineups: int, seed: int) -> Any:
    from nascar_dfs.core.contest.slate import contest_field as draw

    return draw(ownership_frame, contest, lineups, seed)


def field_check(field: Any, tolerance: float, names: list[str]) -> tuple[bool, dict[str, Any]]:
    from nascar_dfs.core.contest.slate import field_check as check

    return check(field, tolerance, names)


def contest_portfolio(slate: Any, spec: ConstraintSpec, scenarios: ScenarioSet, field: Any) -> Any:
    """The spec's lineups picked by simulated ROI against ``field`` (a ContestPortfolio)."""
    from nascar_dfs.core.contest.selection import contest_portfolio as pick
    from nascar_dfs.core.contest.slate import pool_with_player_numbers

    if spec.projections:  # the leverage candidates rank on the player's means (ownership: the field's)
        slate = pool_with_player_numbers(slate, spec.model_copy(update={"ownership": {}}), scenarios)
    return pick(slate, spec, scenarios, spec.contest, field.target, field=field, report=False)


def contest_report(
    slate: Any, scenarios: ScenarioSet, portfolio: Any, field: Any, contest: Any, tolerance: float
) -> dict[str, Any]:
    from nascar_dfs.core.contest.slate import contest_report as report

    return report(slate, scenarios, portfolio, field, contest, tolerance)


def projections_table(slate: Any, scenarios: ScenarioSet) -> Any:
    """The drivers' simulated projections as a core Table (nascar_dfs/core/race_tables.py)."""
    from nascar_dfs.core.race_tables import projections_table as table

    return table(slate, scenarios)


def portfolio_tables(portfolio: Any, spec: ConstraintSpec) -> tuple[Any, Any]:
    """The lineups table and the exposures table of a built portfolio."""
    from nascar_dfs.core.race_tables import exposures_table, lineups_table

    return lineups_table(portfolio), exposures_table(portfolio, spec)


def spec_summary(spec: ConstraintSpec) -> str:
    from nascar_dfs.core.race_tables import spec_summary as summary

    return summary(spec)


def upload_csv_text(lineups: list[list[int]], workdir: Path) -> str:
    """The DraftKings upload file as text, written by the data module's own writer."""
    from nascar_dfs.core.data.draftkings import write_upload_csv

    path = workdir / "DKUpload.csv"
    write_upload_csv(lineups, path)
    return path.read_text(encoding="utf-8")


def score_finish(model: Any, history: Any, race_id: str, scenarios: int, seed: int) -> dict[str, Any]:
    from nascar_dfs.core.evaluation.finish_score import score_finish as score

    return score(model, history, race_id, scenarios, seed)


def ingest_feed(feed_path: Path, data_dir: Path) -> str:
    from nascar_dfs.core.data.feed import append_feed_file

    return append_feed_file(data_dir, feed_path)

"""Which forecaster builds a race's scenarios: the candidates scored on the latest completed races of
the race's track type, with the fits already stored for those races (no new fit), and the rule of
core/evaluation/selection.py applied to the scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from nascar_dfs.platform import science, versions
from nascar_dfs.platform.io_manager import output_path, read_output
from nascar_dfs.platform.resources import CheckSettings

FORECASTER_CHOICE = "forecaster_choice"
CALIBRATED_MODEL = "calibrated_model"
REUSE_NOTE = (
    "each candidate is scored on the race's actual field with the calibrated_model fit stored for that "
    "race (trained on the races before it); no model is fitted for the scoring"
)


def scoring_races(history: Any, race: str, storage_root: Path, window: int) -> list[str]:
    """The latest `window` completed points races of the race's track type before it that have a stored
    calibrated_model, oldest first."""
    points = history.points_races()
    position = points.index[points["race_id"] == race]
    if len(position) == 0:
        raise ValueError(f"race {race} is not a points race of the history")
    earlier = points.loc[: position[0] - 1]
    same_type = earlier[earlier["track_type"] == points.loc[position[0], "track_type"]]
    stored = [
        r
        for r in reversed(same_type["race_id"].tolist())
        if history.has_results(r) and output_path(storage_root, CALIBRATED_MODEL, [r]).exists()
    ]
    return list(reversed(stored[:window]))


def choose(
    history: Any, race: str, storage_root: Path, settings: CheckSettings
) -> tuple[dict[str, Any], dg.AssetCheckResult]:
    """The choice's metadata for the calibrated_model output and its forecaster_choice check.

    A failure of the scoring fails the check (ERROR) and names the error; the model then stays the
    forecaster, as before the candidates existed, and the metadata says why.
    """
    track_type, races = "", []
    try:
        points = history.points_races().set_index("race_id")
        if race not in points.index:
            raise ValueError(f"race {race} is not a points race of the history")
        track_type = str(points.loc[race, "track_type"])
        before = (int(points.loc[race, "season"]), int(points.loc[race, "race_num"]))
        races = scoring_races(history, race, storage_root, science.selection_window())
        scored = []
        for r in races:
            model = read_output(storage_root, CALIBRATED_MODEL, [r])
            seed = versions.scenario_seed(r, "forecaster", model.version)
            scored.append(science.score_candidates(model, history, r, settings.crps_eval_scenarios, seed))
        choice = science.choose_forecaster(track_type, before, scored)
    except Exception as exc:  # any scoring error: shown on the failed check, never swallowed
        error = f"{type(exc).__name__}: {exc}"
        meta = {"forecaster": "model", "forecaster_error": error, "forecaster_races": ", ".join(races)}
        check = dg.AssetCheckResult(
            check_name=FORECASTER_CHOICE,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"error": error, "track_type": track_type, "races": ", ".join(races)},
        )
        return meta, check
    scores = {s["race"]: {"finish_crps": s["finish_crps"], "dk_crps": s["dk_crps"]} for s in scored}
    meta = {
        "forecaster": choice.forecaster,
        "forecaster_track_type": track_type,
        "forecaster_races": ", ".join(choice.races),
        "forecaster_mean_finish_crps": dg.MetadataValue.json(choice.mean_finish_crps),
        "forecaster_scores": dg.MetadataValue.json(scores),
        "forecaster_note": REUSE_NOTE
        if choice.races
        else f"no completed {track_type} race with a stored fit yet: the model by default",
    }
    check_meta = {k.removeprefix("forecaster_"): v for k, v in meta.items()} | {
        "window": science.selection_window()
    }
    check = dg.AssetCheckResult(check_name=FORECASTER_CHOICE, passed=True, metadata=check_meta)
    return meta, check

"""Spec preview: the scenario kernel's estimated acceptance rate of the spec's views under the
race's latest calibrated model, field from the race's slate (all read from the platform's
storage; nothing is launched). Runs in the request thread: one unconstrained preview batch."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from api.core.problems import ProblemError
from nascar_dfs.core.scenarios.spec import ConstraintSpec

log = logging.getLogger("api.preview")
PREVIEW_SEED = 0  # fixed: the same spec previews to the same estimate


def _stored(root: Path, asset: str, parts: list[str]) -> Any:
    from nascar_dfs.defs.io_manager import codec_for, output_path

    path = output_path(root, asset, parts)
    if not path.exists():
        return None
    return codec_for(asset).read(path)


def estimate_acceptance(race_id: str, spec: ConstraintSpec) -> float:
    if not spec.views:
        return 1.0  # no scenario condition: every simulated race is kept
    try:
        from nascar_dfs.core.scenarios.dominance import DominanceParams
        from nascar_dfs.core.scenarios.kernel import preview_acceptance
        from nascar_dfs.defs.science import slate_field
        from nascar_dfs.defs.storage import default_base_path
    except ImportError as exc:
        raise ProblemError(
            503,
            "dependency-unavailable",
            "the scenario preview is unavailable in this build",
            headers={"Retry-After": "60"},
        ) from exc
    root = default_base_path()
    model = _stored(root, "calibrated_model", [race_id])
    slate = _stored(root, "race_slate", [race_id])
    history = _stored(root, "race_history", [])
    if model is None or slate is None or history is None:
        raise ProblemError(
            409,
            "model-not-calibrated",
            f"race {race_id} has no calibrated model and slate yet; ask an admin to recalibrate it",
        )
    field = slate_field(slate, history, race_id)
    params = model.field_params(field, seed=PREVIEW_SEED)
    dominance = DominanceParams.from_dict(model.dominance)
    try:
        acceptance = preview_acceptance(params, field, dominance, spec.views, seed=PREVIEW_SEED)
    except ValueError as exc:  # e.g. a view naming a driver who is not in the field
        raise ProblemError(
            422,
            "validation-error",
            str(exc)[:300],
            errors=[{"loc": ["body", "spec", "views"], "msg": str(exc)[:300]}],
        ) from exc
    return float(acceptance.rate)

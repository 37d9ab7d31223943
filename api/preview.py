"""Spec preview: the scenario kernel's estimated acceptance rate under the race's latest
calibrated model (read from the platform's storage; nothing is launched)."""

from __future__ import annotations

import inspect
import logging

from api.context import AppContext
from api.problems import ProblemError
from nascar_dfs.core.scenarios.spec import ConstraintSpec

log = logging.getLogger("api.preview")


def _model_path(race_id: str):  # type: ignore[no-untyped-def]
    from nascar_dfs.defs.io_manager import output_path
    from nascar_dfs.defs.storage import default_base_path

    return output_path(default_base_path(), "calibrated_model", [race_id])


def estimate_acceptance(ctx: AppContext, race_id: str, spec: ConstraintSpec) -> float:
    if not spec.views:
        return 1.0  # no scenario condition: every simulated race is accepted
    try:
        from nascar_dfs.core.scenarios import preview_acceptance
        from nascar_dfs.defs.io_manager import codec_for
    except ImportError as exc:
        raise ProblemError(
            503,
            "dependency-unavailable",
            "the scenario preview is not available in this build",
            headers={"Retry-After": "60"},
        ) from exc
    path = _model_path(race_id)
    if not path.exists():
        raise ProblemError(
            409,
            "model-not-calibrated",
            f"race {race_id} has no calibrated model yet; ask an admin to recalibrate it",
        )
    model = codec_for("calibrated_model").read(path)
    kwargs = {"model": model, "spec": spec, "race_id": race_id}
    params = inspect.signature(preview_acceptance).parameters
    rate = preview_acceptance(**{k: v for k, v in kwargs.items() if k in params})
    return float(getattr(rate, "acceptance", rate))

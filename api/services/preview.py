"""Spec preview: the scenario kernel's estimated acceptance rate of the spec's views under the
race's latest calibrated model, field from the race's slate (all read from the platform's
storage; nothing is launched). Runs in the request thread: one unconstrained preview batch."""

from __future__ import annotations

import logging

from api.core.problems import ProblemError
from nascar_dfs.core.scenarios.dominance import DominanceParams
from nascar_dfs.core.scenarios.kernel import preview_acceptance
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform.reads import preview_inputs

log = logging.getLogger("api.preview")
PREVIEW_SEED = 0  # fixed: the same spec previews to the same estimate


def estimate_acceptance(race_id: str, spec: ConstraintSpec) -> float:
    if not spec.views:
        return 1.0  # no scenario condition: every simulated race is kept
    inputs = preview_inputs(race_id)
    if inputs is None:
        raise ProblemError(
            409,
            "model-not-calibrated",
            f"race {race_id} has no calibrated model and slate yet; ask an admin to recalibrate it",
        )
    params = inputs.model.field_params(inputs.field, seed=PREVIEW_SEED)
    dominance = DominanceParams.from_dict(inputs.model.dominance)
    try:
        acceptance = preview_acceptance(params, inputs.field, dominance, spec.views, seed=PREVIEW_SEED)
    except ValueError as exc:  # e.g. a view naming a driver who is not in the field
        raise ProblemError(
            422,
            "validation-error",
            str(exc)[:300],
            errors=[{"loc": ["body", "spec", "views"], "msg": str(exc)[:300]}],
        ) from exc
    return float(acceptance.rate)

"""Specs: the preview of a spec's scenario acceptance rate (launches nothing)."""

from __future__ import annotations

from fastapi import Depends

from api.core.problems import invalid_body, problem_responses
from api.deps import Ctx, read_limit, v1_router
from api.models import PreviewOut, PreviewRequest
from api.services.preview import estimate_acceptance

router = v1_router()


@router.post(
    "/specs/preview",
    response_model=PreviewOut,
    responses=problem_responses(409),
    dependencies=[Depends(read_limit)],
    summary="Estimated scenario acceptance rate of a spec (launches nothing)",
)
def preview_spec(body: PreviewRequest, ctx: Ctx) -> PreviewOut:
    if not ctx.races.exists(body.race_id):
        raise invalid_body(["race_id"], f"unknown race_id {body.race_id!r}")
    rate = estimate_acceptance(body.race_id, body.spec)
    return PreviewOut(race_id=body.race_id, spec_key=body.spec.key, acceptance_rate=rate)

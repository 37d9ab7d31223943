"""Webhook secrets: each owner's own signing secret, rotated with an overlap."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, Field

from api.core.problems import problem_responses
from api.deps import Ctx, require_write, v1_router
from api.services.keys import Principal
from api.services.webhook_secrets import rotate

router = v1_router()


class WebhookSecretOut(BaseModel):
    id: str
    secret: str = Field(description="whsec_<base64>: verify webhook-signature with it; shown only here, once")
    created_at: datetime
    previous_valid_until: datetime | None = Field(
        None, description="until then deliveries are also signed with the secrets this one replaces"
    )


@router.post(
    "/webhook-secrets",
    status_code=201,
    response_model=WebhookSecretOut,
    responses=problem_responses(403),
    summary="Create (or rotate) your webhook signing secret",
)
def create_webhook_secret(
    ctx: Ctx, principal: Annotated[Principal, Depends(require_write)]
) -> WebhookSecretOut:
    issued = rotate(ctx.engine, principal.owner, ctx.clock(), ctx.settings.webhook_secret_overlap_s)
    until = issued.previous_valid_until
    return WebhookSecretOut(
        id=issued.id,
        secret=issued.secret,
        created_at=datetime.fromtimestamp(issued.created_at, tz=UTC),
        previous_valid_until=datetime.fromtimestamp(until, tz=UTC) if until is not None else None,
    )

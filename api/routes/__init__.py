"""The HTTP routes, one module per resource: the /v1 resources (each built on
`api.deps.v1_router`, which requires an API key) and the unauthenticated probes."""

from __future__ import annotations

from api.routes import admin, lineup_requests, probes, races, reoptimize, specs, webhook_secrets

V1_ROUTERS = (
    lineup_requests.router,
    reoptimize.router,
    races.router,
    specs.router,
    webhook_secrets.router,
    admin.router,
)
ROUTERS = (*V1_ROUTERS, probes.router)

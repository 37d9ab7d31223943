"""Schemathesis against the app's own OpenAPI document, in-process with the fake launcher:
no 5xx, no undocumented status, no response that breaks the schema (api.md §9)."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from schemathesis import checks

from api.app import create_app
from api.core.config import Settings
from api.core.db import (
    idempotency_keys,
    lineup_contests,
    lineup_request_runs,
    lineup_requests,
    lineup_results,
    outbox,
    webhook_deliveries,
)
from api.services.keys import create_key
from nascar_dfs.platform.slate_store import save_slate, slates_dir

from .conftest import DEMO_SLATE, OTHER_RACE, RACE
from .fakes import FakeLauncher

_WORKDIR = Path(tempfile.mkdtemp(prefix="api-contract-"))
_STORAGE = _WORKDIR / "storage"  # the platform's storage root of this run (uploaded slates land there)
APP = create_app(
    Settings(
        database_url=f"sqlite:///{_WORKDIR / 'api.db'}",
        background_worker=False,
        rate_limits_enabled=False,  # limits have their own tests; here they would hide valid input
        active_runs_per_key=1_000_000,
        webhook_secret="whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ),
    launcher=FakeLauncher(races=[RACE, OTHER_RACE]),
)
for _race in (RACE, OTHER_RACE):  # a lineup request needs its race's slate (409 slate-missing)
    save_slate(slates_dir(_STORAGE), _race, DEMO_SLATE)
ADMIN_KEY = create_key(APP.state.ctx.engine, "contract", "admin", time.time()).secret_key
EXAMPLES = int(os.environ.get("NASCAR_DFS_CONTRACT_EXAMPLES", "5"))

schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(autouse=True)
def _platform_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Uploaded slates land under the platform's storage root: this run's own, not the default."""
    monkeypatch.setenv("NASCAR_DFS_STORAGE", str(_STORAGE))


@schema.auth()
class ApiKeyAuth:
    def get(self, case, ctx):  # type: ignore[no-untyped-def]
        return ADMIN_KEY

    def set(self, case, data, ctx):  # type: ignore[no-untyped-def]
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
        if case.method == "POST" and "Idempotency-Key" in case.headers:
            # Generated keys repeat across examples with different bodies (a legitimate 422);
            # a fresh key per case exercises the create path instead.
            case.headers["Idempotency-Key"] = uuid.uuid4().hex


@schema.parametrize()
# derandomize: hypothesis-jsonschema sometimes fails to draw a unique-items array for the spec
# ("Cannot generate an array with 1 demanded elements", a generator error, not an API failure);
# a fixed seed keeps CI deterministic while NASCAR_DFS_CONTRACT_EXAMPLES widens the search by hand.
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case) -> None:  # type: ignore[no-untyped-def]
    # positive_data_acceptance is off: OpenAPI cannot express the spec's cross-field rules
    # (min <= max, locks vs excludes) nor "race must exist", so schema-valid bodies may be a 422.
    case.call_and_validate(excluded_checks=[checks.positive_data_acceptance])


# 50: with the player-numbers paths the schema links more operations to GET /v1/races, and 25
# derandomized scenarios no longer reached a created request's own operations.
STATEFUL_SCENARIOS = int(os.environ.get("NASCAR_DFS_CONTRACT_SCENARIOS", "50"))
# The stateful run chains valid calls; invalid input is the stateless run's job above.
stateful_schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
stateful_schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE], with_security_parameters=False
)
stateful_schema.auth()(ApiKeyAuth)
# Children before parents (foreign keys); keys and the audit log stay.
REQUEST_TABLES = (
    lineup_request_runs,
    lineup_results,
    lineup_contests,
    webhook_deliveries,
    outbox,
    lineup_requests,
    idempotency_keys,
)
_followed: set[tuple[str, str, int]] = set()
_labels: dict[str, str] = {}


class ApiWorkflow(stateful_schema.as_state_machine()):  # type: ignore[misc]
    """Sequences of calls chained by the schema's links (declared: POST 202 -> GET; inferred by
    schemathesis: -> cancel, lineups, dk-upload.csv), every default check included, so
    ensure_resource_availability asserts that a 202's resource is GETtable at once."""

    def setup(self) -> None:
        # Every scenario starts from no lineup requests. Hypothesis replays scenarios (to shrink
        # and to check a failure); one that met the requests of earlier scenarios would get other
        # answers, draw other links and be reported as flaky data generation, not as the failure.
        with APP.state.ctx.engine.begin() as conn:
            for table in REQUEST_TABLES:
                conn.execute(sa.delete(table))

    def before_call(self, case):  # type: ignore[no-untyped-def]
        if case.operation.label == "POST /v1/lineup-requests" and isinstance(case.body, dict):
            # A random race id is a (correct) 422; a known one lets the chain reach its links.
            case.body["race_id"] = RACE

    def step(self, input):  # type: ignore[no-untyped-def]
        output = super().step(input)
        _labels[output.case.id] = f"{output.case.operation.label} -> {output.response.status_code}"
        if input.transition is not None and input.is_applied:
            parent = _labels.get(input.transition.parent_id, "?")
            _followed.add((parent, output.case.operation.label, output.response.status_code))
        return output

    def validate_response(self, response, case, additional_checks=None, **kwargs):  # type: ignore[no-untyped-def]
        # Same exclusion as the stateless run, same reason.
        case.validate_response(
            response,
            additional_checks=additional_checks,
            excluded_checks=[checks.positive_data_acceptance],
            transport_kwargs=kwargs or None,
        )


def test_stateful_links_follow_a_created_request() -> None:
    _followed.clear()
    _labels.clear()
    ApiWorkflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,  # the same sequences on every CI run
        )
    )
    # ensure_resource_availability already GETs every 202's resource; this asserts that chains
    # from a created request to its own operations (status, results, cancel) were exercised.
    from_created = {
        target
        for parent, target, status in _followed
        if parent == "POST /v1/lineup-requests -> 202"
        and "/v1/lineup-requests/{request_id}" in target
        and status != 404
    }
    assert from_created, "\n".join(map(str, sorted(_followed)))

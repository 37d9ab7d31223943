"""Small helpers shared by the API tests."""

from __future__ import annotations

import uuid
from typing import Any

from api.orchestration.launcher import RunResults

from .conftest import RACE, Api

PROBLEM = "application/problem+json"


def body(lineups: int = 3, race_id: str = RACE, **spec: Any) -> dict[str, Any]:
    return {"race_id": race_id, "spec": {"lineups": lineups, **spec}}


def submit(api: Api, headers: dict[str, str], payload: dict[str, Any] | None = None, key: str | None = None):  # type: ignore[no-untyped-def]
    return api.client.post(
        "/v1/lineup-requests",
        json=payload or body(),
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


def fake_results(n: int) -> RunResults:
    """n distinct 6-driver lineups and their DraftKings upload CSV (synthetic ids)."""
    lineups = [
        [{"name": f"Driver {i}-{j}", "dk_id": 1000 + 10 * i + j, "salary": 8000} for j in range(6)]
        for i in range(n)
    ]
    csv = "D,D,D,D,D,D\n" + "".join(",".join(str(d["dk_id"]) for d in lu) + "\n" for lu in lineups)
    return RunResults(lineups=lineups, upload_csv=csv)


def assert_problem(resp, status: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM), resp.headers["content-type"]
    data = resp.json()
    assert data["status"] == status
    assert data["type"] and data["title"]
    assert data["request_id"] == resp.headers["x-request-id"]
    return data

"""RFC 9457: every non-2xx is problem+json carrying the request id (api.md §4)."""

from __future__ import annotations

import logging

from .conftest import Api
from .helpers import assert_problem, body, submit


def test_unknown_route_is_a_404_problem(api: Api) -> None:
    assert_problem(api.client.get("/v1/nope", headers=api.key()), 404)
    assert_problem(api.client.get("/nothing-here"), 404)


def test_wrong_method_is_a_405_problem_with_allow(api: Api) -> None:
    resp = api.client.delete("/v1/races", headers=api.key())
    assert_problem(resp, 405)
    assert "GET" in resp.headers["allow"]


def test_validation_error_lists_every_invalid_field(api: Api) -> None:
    payload = body(lineups=0, max_exposure=2.0)
    data = assert_problem(submit(api, api.key(), payload), 422)
    locs = {tuple(e["loc"]) for e in data["errors"]}
    assert ("body", "spec", "lineups") in locs
    assert ("body", "spec", "max_exposure") in locs
    assert "ConstraintSpec" not in str(data)


def test_spec_inconsistency_names_the_problem(api: Api) -> None:
    payload = body(locks=["Kyle Larson"], excludes=["Kyle Larson"])
    data = assert_problem(submit(api, api.key(), payload), 422)
    assert "Kyle Larson" in data["detail"] or "Kyle Larson" in str(data["errors"])
    assert api.launcher.launches == []


def test_internal_error_hides_the_traceback_but_logs_it(api: Api, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.ERROR, logger="api"):
        resp = api.client.get("/_test/boom", headers={"X-Request-ID": "trace-me-123"})
    data = assert_problem(resp, 500)
    text = resp.text
    for leak in ("Traceback", "/srv/secret", "RuntimeError", ".py"):
        assert leak not in text
    assert data["request_id"] == "trace-me-123"
    logged = [r for r in caplog.records if r.exc_info and getattr(r, "request_id", None) == "trace-me-123"]
    assert logged and logged[0].exc_info[0] is RuntimeError


def test_forbidden_is_a_403_problem(api: Api) -> None:
    assert_problem(api.client.get("/_test/forbidden"), 403)


def test_request_id_is_echoed_or_replaced(api: Api) -> None:
    good = api.client.get("/livez", headers={"X-Request-ID": "abc.DEF_123-x"})
    assert good.headers["x-request-id"] == "abc.DEF_123-x"
    bad = api.client.get("/livez", headers={"X-Request-ID": "x" * 200})
    assert bad.headers["x-request-id"] != "x" * 200
    assert len(bad.headers["x-request-id"]) == 36


def test_openapi_declares_problem_json_and_no_fastapi_validation_schema(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    post = doc["paths"]["/v1/lineup-requests"]["post"]
    assert "application/problem+json" in post["responses"]["422"]["content"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])

"""The app's OpenAPI document: FastAPI's, with every error declared as problem+json and no
HTTPValidationError (so the document describes what is on the wire, and schemathesis holds the
API to it)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.core.problems import PROBLEM_MEDIA_TYPE, Problem
from api.observability.health import HEALTH_MEDIA_TYPE


class ProblemApp(FastAPI):
    """FastAPI whose /openapi.json is the document below (built once, on first request)."""

    def openapi(self) -> dict[str, Any]:
        if not self.openapi_schema:
            self.openapi_schema = _openapi(self)
        return self.openapi_schema


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with problem+json errors and no HTTPValidationError (wire == spec)."""
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components["HealthStatus"] = {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["pass", "warn", "fail"]}},
    }
    _require_discriminators(components)
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            for code, resp in list(responses.items()):
                if code.isdigit() and int(code) >= 400 and HEALTH_MEDIA_TYPE not in resp.get("content", {}):
                    resp["content"] = problem_content
            for code in ("404", "405", "500") if path.startswith("/v1") else ("500",):
                responses.setdefault(code, {"description": "Problem", "content": problem_content})
            if path.startswith("/v1"):
                responses.setdefault(
                    "401",
                    {
                        "description": "Authentication required",
                        "content": problem_content,
                        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                    },
                )
            if method in ("post", "put"):
                responses.setdefault(
                    "415", {"description": "Unsupported media type", "content": problem_content}
                )
                responses.setdefault("422", {"description": "Validation error", "content": problem_content})
    return schema


def _require_discriminators(components: dict[str, Any]) -> None:
    """A discriminated union needs its tag on the wire even when the model gives it a default."""
    for schema in components.values():
        for node in _walk(schema):
            disc = node.get("discriminator") if isinstance(node, dict) else None
            if not disc:
                continue
            for ref in disc.get("mapping", {}).values():
                target = components.get(ref.rsplit("/", 1)[-1])
                if target is not None and disc["propertyName"] not in target.setdefault("required", []):
                    target["required"].append(disc["propertyName"])


def _walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)

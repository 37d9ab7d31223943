"""Strict schema check of Kubernetes manifests against the `kubernetes` client's models.

The client's own deserializer drops unknown fields silently, so a misspelt `readinesProbe` would
pass it. This walks each document against the model's `openapi_types`/`attribute_map` and
rejects unknown keys and wrong scalar types, then deserializes it so the models' required-field
checks run too.
"""

from __future__ import annotations

import re
from typing import Any

import kubernetes.client as k8s
from kubernetes.client import ApiClient

# apiVersion/kind → model class name; the manifests use only these kinds.
_MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "Service"): "V1Service",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("batch/v1", "Job"): "V1Job",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
}

_LIST = re.compile(r"^list\[(.+)\]$")
_DICT = re.compile(r"^dict\(str, (.+)\)$|^dict\[str, (.+)\]$")


class ManifestError(ValueError):
    """A manifest that the Kubernetes API server would reject."""


def model_name(document: dict[str, Any]) -> str:
    key = (document.get("apiVersion"), document.get("kind"))
    if key not in _MODELS:
        raise ManifestError(f"no schema for apiVersion/kind {key}")
    return _MODELS[key]


def validate_document(document: dict[str, Any]) -> Any:
    """Return the document as its kubernetes model; raise ManifestError on any schema violation."""
    name = model_name(document)
    _check(document, name, path=document.get("kind", "?"))
    try:
        return ApiClient()._ApiClient__deserialize(document, name)  # type: ignore[attr-defined]
    except ValueError as exc:  # required field missing or enum value invalid
        raise ManifestError(f"{document.get('kind')}: {exc}") from exc


def _check(value: Any, type_name: str, path: str) -> None:
    if type_name == "object":
        return
    if (match := _LIST.match(type_name)) is not None:
        if not isinstance(value, list):
            raise ManifestError(f"{path}: expected a list, got {type(value).__name__}")
        for i, item in enumerate(value):
            _check(item, match.group(1), f"{path}[{i}]")
        return
    if (match := _DICT.match(type_name)) is not None:
        if not isinstance(value, dict):
            raise ManifestError(f"{path}: expected a mapping, got {type(value).__name__}")
        for key, item in value.items():
            _check(item, match.group(1) or match.group(2), f"{path}.{key}")
        return
    if type_name in _SCALARS:
        _check_scalar(value, type_name, path)
        return
    _check_model(value, type_name, path)


_SCALARS = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float), "datetime": (str,)}


def _check_scalar(value: Any, type_name: str, path: str) -> None:
    # bool is an int in Python, but `replicas: true` is not a valid integer field.
    if (type_name != "bool" and isinstance(value, bool)) or not isinstance(value, _SCALARS[type_name]):
        raise ManifestError(f"{path}: expected {type_name}, got {type(value).__name__} {value!r}")


def _check_model(value: Any, type_name: str, path: str) -> None:
    model = getattr(k8s, type_name, None)
    if model is None:
        raise ManifestError(f"{path}: unknown model {type_name}")
    if not isinstance(value, dict):
        raise ManifestError(f"{path}: expected a {type_name} mapping, got {type(value).__name__}")
    by_json_name = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for key, item in value.items():
        if key not in by_json_name:
            raise ManifestError(f"{path}: unknown field {key!r} for {type_name}")
        _check(item, model.openapi_types[by_json_name[key]], f"{path}.{key}")

"""Fixtures for the deployment checks: the manifests of deploy/k8s, parsed once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S_DIR = REPO / "deploy" / "k8s"
# Not Kubernetes objects: the instance and workspace YAML become ConfigMaps via kustomize.
NON_OBJECT_FILES = {"dagster.yaml", "workspace.yaml", "kustomization.yaml"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fault_injection: breaks a real process or server on loopback (bounded in time)"
    )


def manifest_files() -> list[Path]:
    files = sorted(p for p in K8S_DIR.glob("*.yaml") if p.name not in NON_OBJECT_FILES)
    if not files:
        raise FileNotFoundError(f"no manifests in {K8S_DIR}")
    return files


def load_documents() -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) for every non-empty YAML document of the manifests."""
    out: list[tuple[str, dict[str, Any]]] = []
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                out.append((path.name, doc))
    return out


@pytest.fixture(scope="session")
def documents() -> list[tuple[str, dict[str, Any]]]:
    return load_documents()


@pytest.fixture(scope="session")
def instance_yaml() -> dict[str, Any]:
    return yaml.safe_load((K8S_DIR / "dagster.yaml").read_text())

"""Durable store of constraint specs keyed by their hash.

A spec partition key is only a 16-hex hash; the run that materializes it recovers the spec from
`specs/<key>.json` under the storage base path. The file is written before the partition is
added, so a partition never exists without its spec.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import storage
from nascar_dfs.platform.partitions import register_spec, validate_spec_key
from nascar_dfs.platform.storage import atomic_write_text


class UnknownSpecError(KeyError):
    """A spec partition whose canonical JSON was never stored."""

    def __str__(self) -> str:
        return str(self.args[0])


def spec_path(base: Path, spec_key: str) -> Path:
    return storage.spec_path(base, validate_spec_key(spec_key))


def save_spec(base: Path, spec: ConstraintSpec) -> str:
    """Store the spec's canonical JSON under its key (idempotent); returns the key."""
    path = spec_path(base, spec.key)
    text = spec.canonical_json()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)
    return spec.key


def load_spec(base: Path, spec_key: str) -> ConstraintSpec:
    path = spec_path(base, spec_key)
    if not path.exists():
        raise UnknownSpecError(f"spec {spec_key} was never registered: {path} does not exist")
    spec = ConstraintSpec.model_validate_json(path.read_text(encoding="utf-8"))
    if spec.key != spec_key:
        raise UnknownSpecError(f"{path} holds spec {spec.key}, not {spec_key}: the file was altered")
    return spec


def register_spec_partition(instance: dg.DagsterInstance, base: Path, spec: ConstraintSpec) -> str:
    """Persist the spec, then add its partition; returns the partition key."""
    key = save_spec(base, spec)
    register_spec(instance, key)
    return key

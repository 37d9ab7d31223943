"""Partitions: races and constraint specs as dynamic partitions, and their product.

Dagster accepts almost any string as a dynamic partition key (`|`, `/`, 200 characters...), and
`|` would collide with the multi-partition delimiter and `/` would nest IO-manager paths, so every
key is validated here before anything is added to an instance (race keys by the data's own rule).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import dagster as dg

from nascar_dfs.core import race_key
from nascar_dfs.core.scenarios.spec import SPEC_KEY_LENGTH

RACE = "race"
SPEC = "spec"

race_partitions = dg.DynamicPartitionsDefinition(name=RACE)
spec_partitions = dg.DynamicPartitionsDefinition(name=SPEC)
race_spec_partitions = dg.MultiPartitionsDefinition({RACE: race_partitions, SPEC: spec_partitions})

_SPEC_KEY = re.compile(rf"^[0-9a-f]{{{SPEC_KEY_LENGTH}}}$")


class PartitionKeyError(ValueError):
    """A race or spec key that must never become a partition."""


def validate_race_key(race: str) -> str:
    """The race key rule is the data's own (core/race_key.py); here it guards the partitions."""
    try:
        return race_key.validate_race_key(race)
    except race_key.RaceKeyError as exc:
        raise PartitionKeyError(str(exc)) from None


def validate_spec_key(spec: str) -> str:
    if not isinstance(spec, str) or not _SPEC_KEY.match(spec):
        raise PartitionKeyError(
            f"invalid spec key {spec!r}: expected {SPEC_KEY_LENGTH} lowercase hex characters "
            "(ConstraintSpec.key)"
        )
    return spec


def race_spec_key(race: str, spec: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({RACE: validate_race_key(race), SPEC: validate_spec_key(spec)})


def split_race_spec_key(key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """(race, spec) of a multi-partition key, whichever form the run context hands over."""
    if isinstance(key, dg.MultiPartitionKey):
        dims = key.keys_by_dimension
        return dims[RACE], dims[SPEC]
    # Plain strings order the dimensions by name: "race|spec".
    parts = key.split("|")
    if len(parts) != 2:
        raise PartitionKeyError(f"not a race|spec partition key: {key!r}")
    return validate_race_key(parts[0]), validate_spec_key(parts[1])


def register_races(instance: dg.DagsterInstance, races: Iterable[str]) -> list[str]:
    """Add the race partitions that are missing; returns the keys that were new."""
    wanted = [validate_race_key(r) for r in races]
    known = set(instance.get_dynamic_partitions(RACE))
    new = sorted({r for r in wanted if r not in known})
    if new:
        instance.add_dynamic_partitions(RACE, new)
    return new


def register_spec(instance: dg.DagsterInstance, spec_key: str) -> bool:
    """Add one spec partition if missing; True when it was new."""
    validate_spec_key(spec_key)
    if instance.has_dynamic_partition(SPEC, spec_key):
        return False
    instance.add_dynamic_partitions(SPEC, [spec_key])
    return True

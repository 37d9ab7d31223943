"""Pre-lock re-optimizations of a DKEntries.csv: their inputs in storage, their dynamic partition.

A re-optimization is one lineup request's race x spec, a DKEntries.csv and the changes since the
lineups were built (drivers out, drivers sent to the rear, a new starting lineup). Its partition key
is a content hash of the four, so the same file and changes for the same request are one partition
(materialized once), and any difference is another. Like a spec (spec_store.py), the inputs are
written under the storage base path before the partition is added, so a partition never exists
without them; the run (nascar_dfs/defs/lineups/reoptimize.py) reads them back by key.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from nascar_dfs.core.names import name_key
from nascar_dfs.platform import science, versions
from nascar_dfs.platform.partitions import validate_race_key, validate_spec_key
from nascar_dfs.platform.storage import atomic_write_text, reoptimization_paths

REOPTIMIZATION = "reoptimization"
reoptimization_partitions = dg.DynamicPartitionsDefinition(name=REOPTIMIZATION)

_KEY = re.compile(r"^[0-9a-f]{16}$")
MAX_ENTRIES_BYTES = 2_000_000  # a DKEntries.csv of 150 entries with DraftKings' player list is ~40 kB


class ReoptimizationInputError(ValueError):
    """Every problem of a re-optimization's file or changes, each naming what is wrong."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


class UnknownReoptimizationError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Changes:
    """What changed before lock: drivers out, drivers sent to the rear, a new starting lineup."""

    out: tuple[str, ...] = ()
    to_rear: tuple[str, ...] = ()
    starts: Mapping[str, int] | None = None  # the whole new starting lineup: driver -> position

    @property
    def new_grid(self) -> bool:
        """Whether the race's scenarios must be re-simulated on another starting lineup."""
        return bool(self.to_rear) or self.starts is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": list(self.out),
            "to_rear": list(self.to_rear),
            "starts": None if self.starts is None else dict(sorted(self.starts.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Changes:
        starts = data.get("starts")
        return cls(
            out=tuple(data.get("out") or ()),
            to_rear=tuple(data.get("to_rear") or ()),
            starts=None if starts is None else {str(k): int(v) for k, v in starts.items()},
        )


@dataclass(frozen=True)
class Reoptimization:
    race: str
    spec_key: str
    entries_csv: str
    changes: Changes = field(default_factory=Changes)

    @property
    def entries_sha256(self) -> str:
        return hashlib.sha256(self.entries_csv.encode("utf-8")).hexdigest()

    def request_json(self) -> str:
        """Canonical JSON of the request (the entries by their hash), what the key is the hash of."""
        body = {
            "race": self.race,
            "spec": self.spec_key,
            "entries_sha256": self.entries_sha256,
            "changes": self.changes.as_dict(),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @property
    def key(self) -> str:
        return versions.digest(versions.REOPTIMIZED_ENTRIES_CODE, self.request_json())


def validate_reoptimization_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise UnknownReoptimizationError(f"invalid re-optimization key {key!r}: expected 16 lowercase hex")
    return key


def save_reoptimization(base: Path, request: Reoptimization) -> str:
    """Store the request and its DKEntries.csv under its key (idempotent); returns the key."""
    validate_race_key(request.race)
    validate_spec_key(request.spec_key)
    key = request.key
    request_path, entries_path = reoptimization_paths(base, key)
    atomic_write_text(entries_path, request.entries_csv)  # the file first: the JSON names its hash
    atomic_write_text(request_path, request.request_json())
    return key


def load_reoptimization(base: Path, key: str) -> Reoptimization:
    request_path, entries_path = reoptimization_paths(base, validate_reoptimization_key(key))
    if not request_path.exists() or not entries_path.exists():
        raise UnknownReoptimizationError(f"re-optimization {key} was never stored: {request_path} is missing")
    body = json.loads(request_path.read_text(encoding="utf-8"))
    request = Reoptimization(
        race=body["race"],
        spec_key=body["spec"],
        entries_csv=entries_path.read_text(encoding="utf-8"),
        changes=Changes.from_dict(body["changes"]),
    )
    if request.key != key:
        raise UnknownReoptimizationError(f"{request_path} holds re-optimization {request.key}, not {key}")
    return request


def register_reoptimization(instance: dg.DagsterInstance, base: Path, request: Reoptimization) -> str:
    """Persist the inputs, then add the partition; returns the partition key."""
    key = save_reoptimization(base, request)
    if not instance.has_dynamic_partition(REOPTIMIZATION, key):
        instance.add_dynamic_partitions(REOPTIMIZATION, [key])
    return key


def parse_entries(text: str) -> Any:
    """The DKEntries of a file's text, read by the data module's reader; ReoptimizationInputError
    naming the file's row and column otherwise."""
    from nascar_dfs.core.data.draftkings import read_dk_entries
    from nascar_dfs.core.data.errors import DataValidationError

    if len(text.encode("utf-8")) > MAX_ENTRIES_BYTES:
        raise ReoptimizationInputError([f"DKEntries.csv is larger than {MAX_ENTRIES_BYTES:,} bytes"])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "DKEntries.csv"
        path.write_text(text, encoding="utf-8")
        try:
            return read_dk_entries(path)
        except (DataValidationError, ValueError) as exc:
            raise ReoptimizationInputError([str(exc)]) from None


def check_inputs(players: Any, entries: Any, changes: Changes) -> None:
    """Every problem of the entries and changes against the slate's players (DraftKings names or
    the history's spelling, matched by name_key), raised at once."""
    problems: list[str] = []
    known = _known_names(players)
    ids = {int(i) for i in players["dk_id"]}
    for entry in entries.entries:
        unknown = [str(i) for i in entry.lineup or () if int(i) not in ids]
        if unknown:
            listed = ", ".join(unknown)
            problems.append(f"entry {entry.entry_id}: DraftKings id(s) {listed} not on the race's slate")
    for label, names in (("out", changes.out), ("to_rear", changes.to_rear)):
        unknown = [name for name in names if name_key(name) not in known]
        if unknown:
            problems.append(f"{label}: {', '.join(unknown)} not on the race's slate")
    overlap = {name_key(n) for n in changes.out} & {name_key(n) for n in changes.to_rear}
    if overlap:
        problems.append(f"a driver is both out and sent to the rear: {', '.join(sorted(overlap))}")
    if changes.starts is not None:
        problems += _starts_problems(changes.starts, known)
    if not changes.out and not changes.new_grid:
        problems.append("the changes name no driver out, none sent to the rear and no new starting lineup")
    if problems:
        raise ReoptimizationInputError(problems)


def _known_names(players: Any) -> dict[str, str]:
    """name_key of every DraftKings name and history spelling -> the DraftKings name."""
    drivers = players["driver"] if "driver" in players.columns else [None] * len(players)
    known: dict[str, str] = {}
    for name, driver in zip(players["name"], drivers, strict=True):
        known[name_key(str(name))] = str(name)
        if isinstance(driver, str) and driver:
            known[name_key(driver)] = str(name)
    return known


def _starts_problems(starts: Mapping[str, int], known: dict[str, str]) -> list[str]:
    problems = []
    unknown = [name for name in starts if name_key(name) not in known]
    if unknown:
        problems.append(f"starts: {', '.join(unknown)} not on the race's slate")
    given = {known.get(name_key(name)) for name in starts}
    missing = sorted(set(known.values()) - given)
    if missing:
        problems.append(f"starts: no position for {', '.join(missing)}")
    positions = list(starts.values())
    if any(p < 1 for p in positions) or len(set(positions)) != len(positions):
        problems.append(f"starts: positions must be distinct and from 1, got {sorted(positions)}")
    return problems


def check_reoptimization(storage_root: Path, race: str, spec: Any, request: Reoptimization) -> Any:
    """The request's entries, checked against the slate the request's lineups were built from
    (the spec's pinned version, else the race's current one); ReoptimizationInputError listing
    every problem otherwise."""
    from nascar_dfs.platform import slate_store

    entries = parse_entries(request.entries_csv)
    slates = slate_store.slates_dir(storage_root)
    if spec.slate_version is not None:
        path = slate_store.pinned_slate(slates, race, spec.slate_version).path
    else:
        path = slate_store.require_current(slates, race).path
    check_inputs(science.read_slate(path).players, entries, request.changes)
    return entries


def pool_names(slate: Any, names: Sequence[str], where: str) -> list[str]:
    """The pool's spelling (what the scenarios and the optimizer call a driver) of names given by
    their DraftKings name or their history spelling."""
    from nascar_dfs.core.optimizer.build import as_pool

    players = slate.players
    pool = as_pool(slate)
    drivers = players["driver"] if "driver" in players.columns else [None] * len(players)
    lookup: dict[str, str] = {}
    for name, driver, pooled in zip(players["name"], drivers, pool.names, strict=True):
        lookup[name_key(str(name))] = pooled
        lookup[name_key(pooled)] = pooled
        if isinstance(driver, str) and driver:
            lookup[name_key(driver)] = pooled
    unknown = [name for name in names if name_key(name) not in lookup]
    if unknown:
        raise ReoptimizationInputError([f"{where}: {', '.join(unknown)} not on the race's slate"])
    return [lookup[name_key(name)] for name in names]


def new_grid(slate: Any, changes: Changes, scenarios: Any) -> dict[str, int] | None:
    """The starting lineup to re-simulate the race on (pool spelling), None when it is unchanged:
    the changes' lineup, else the one the scenarios were built on, with the rear drivers moved last."""
    from nascar_dfs.core.optimizer.reoptimize import starts_with_rear

    if not changes.new_grid:
        return None
    if changes.starts is not None:
        names = pool_names(slate, list(changes.starts), "starts")
        grid = dict(zip(names, changes.starts.values(), strict=True))
    else:
        if not scenarios.starts_known:
            raise ReoptimizationInputError(
                ["to_rear: the race's starting grid is unknown (no starting lineup): give the whole new "
                 "starting lineup as starts"]
            )  # fmt: skip
        grid = {name: int(start) for name, start in zip(scenarios.drivers, scenarios.starts, strict=True)}
    rear = pool_names(slate, changes.to_rear, "to_rear")
    return starts_with_rear(grid, rear) if rear else grid

"""Slates, content-addressed: every DKSalaries.csv stored for a race is kept under its version.

Layout under the slates folder (<storage>/slates, storage.py):
  <race>.csv                 the race's current slate (what race_slate reads and the plan compares)
  <race>/<version>.csv       every version ever stored, never rewritten
  <race>/<version>.json      what the upload declared with it (its debutants)

A version is the digest of the file's bytes, the same `slate_version` the race_slate asset records,
so a request that pinned one finds its exact file however often the slate is replaced later.

The packaged demo slate (demo_data/DKSalaries.csv) belongs to the synthetic demo races: it is the
slate of a demo race with no upload, and of no other race (a real race without a slate has none).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from nascar_dfs.platform import science, versions
from nascar_dfs.platform.io_manager import read_output
from nascar_dfs.platform.materializations import recorded
from nascar_dfs.platform.storage import (
    SLATES_DIR,
    atomic_write,
    atomic_write_text,
    current_slate_path,
    slate_version_path,
    validate_slate_version,
)

DEMO_SLATE = "DKSalaries.csv"


class SlateMissingError(LookupError):
    """A race (or a pinned version of its slate) that has no stored DKSalaries.csv."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class StoredSlate:
    race: str
    version: str
    path: Path
    demo: bool  # the packaged demo slate of a demo race
    new_drivers: tuple[str, ...] = ()


def slate_version(content: bytes) -> str:
    """The version of a slate file: the digest race_slate records as `slate_version`."""
    return versions.digest(content.hex())


# The paths are storage.py's (the one place the layout is spelled out).
validate_version = validate_slate_version
current_path = current_slate_path
version_path = slate_version_path


def save_slate(slates_dir: Path, race: str, content: bytes, new_drivers: tuple[str, ...] = ()) -> str:
    """Keep `content` under its version and make it the race's current slate; returns the version.

    The version file is written first, so a current slate always has its version file."""
    version = slate_version(content)
    kept = version_path(slates_dir, race, version)
    if not kept.exists():
        atomic_write(kept, lambda tmp: tmp.write_bytes(content))
    meta = json.dumps({"new_drivers": sorted(new_drivers)}, sort_keys=True)
    atomic_write_text(kept.with_suffix(".json"), meta)
    atomic_write(current_path(slates_dir, race), lambda tmp: tmp.write_bytes(content))
    return version


def demo_races() -> frozenset[str]:
    """The races of the packaged demo data (synthetic venues): the only races the demo slate serves."""
    return _races_of(science.demo_data_dir() / "races.csv")


@cache
def _races_of(path: Path) -> frozenset[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return frozenset(row["race_id"] for row in csv.DictReader(fh) if row.get("race_id"))


def is_demo_race(race: str) -> bool:
    return race in demo_races()


def demo_slate_path() -> Path:
    return science.demo_data_dir() / DEMO_SLATE


def _new_drivers(path: Path) -> tuple[str, ...]:
    meta = path.with_suffix(".json")
    if not meta.exists():
        return ()
    return tuple(json.loads(meta.read_text(encoding="utf-8")).get("new_drivers", ()))


def current_slate(slates_dir: Path, race: str) -> StoredSlate | None:
    """The race's current slate: its upload, else the demo slate for a demo race, else None."""
    path = current_path(slates_dir, race)
    if path.exists():
        version = slate_version(path.read_bytes())
        kept = version_path(slates_dir, race, version)
        return StoredSlate(race, version, path, demo=False, new_drivers=_new_drivers(kept))
    if is_demo_race(race):
        demo = demo_slate_path()
        return StoredSlate(race, slate_version(demo.read_bytes()), demo, demo=True)
    return None


def slate_names(path: Path) -> list[str]:
    """The Name column of a stored slate (its debutants are drivers of its race too)."""
    return [str(n) for n in science.read_slate(path).players["name"]]


def require_current(slates_dir: Path, race: str) -> StoredSlate:
    found = current_slate(slates_dir, race)
    if found is None:
        raise SlateMissingError(
            f"race {race} has no slate: upload its DKSalaries.csv first "
            f"(PUT /v1/races/{race}/slate or `nascar-dfs race slate {race} DKSalaries.csv`)"
        )
    return found


def pinned_slate(slates_dir: Path, race: str, version: str) -> StoredSlate:
    """The exact slate a request pinned (SlateMissingError when that version was never stored)."""
    kept = version_path(slates_dir, race, version)
    if kept.exists():
        return StoredSlate(race, version, kept, demo=False, new_drivers=_new_drivers(kept))
    if is_demo_race(race):
        demo = demo_slate_path()
        if slate_version(demo.read_bytes()) == version:
            return StoredSlate(race, version, demo, demo=True)
    raise SlateMissingError(f"slate version {version} of race {race} was never stored")


def slates_dir(storage_root: Path) -> Path:
    return storage_root / SLATES_DIR


def run_slate(instance: Any, storage_root: Path, race: str, spec: Any, race_slate: Any) -> tuple[Any, str]:
    """The slate (matched to the history) a run of `spec` builds on, and its version: the version
    the spec pinned, else the race's current one (race_slate). A pinned version other than the
    current is read from the store, so a replaced slate never changes a request's lineups."""
    current = recorded(instance, "race_slate", race, "slate_version")
    if current is None:  # race_slate is this run's input, so it was materialized with its version
        raise SlateMissingError(f"race_slate of {race} recorded no slate_version: materialize race_slate")
    pinned = spec.slate_version
    if pinned is None or pinned == current:
        return race_slate, current
    history = read_output(storage_root, "race_history", [])
    if history is None:
        raise SlateMissingError("the race history is not materialized: the pinned slate cannot be matched")
    stored = pinned_slate(slates_dir(storage_root), race, pinned)
    return science.match_slate(science.read_slate(stored.path), history), pinned

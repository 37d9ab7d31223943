"""The player's own numbers of a race (core/player_numbers.py), for every door (the REST API, the
CLI): a CSV uploaded for a race and an owner, checked against the race's slate and kept under the
platform's storage by race, owner and content version (storage.player_numbers_path), and folded
into a request's spec, so the numbers themselves are part of the spec's hash and the Dagster runs
read them from the spec like any other field.

Owner-scoped: a version is looked up under the caller's own folder only, so one owner's file never
reaches another's request. Names are matched to the race's spelling (the one its scenarios use) by
name_key, from the history's spelling or DraftKings' spelling of the same slate row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from nascar_dfs.core.names import name_key
from nascar_dfs.core.player_numbers import (
    CSV_FILE,
    NumbersProblem,
    PlayerNumbers,
    PlayerNumbersError,
    in_race_spelling,
    into_spec,
    merge,
    ownership_problem,
    parse_csv,
)
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import science, slate_store, versions
from nascar_dfs.platform.io_manager import read_output
from nascar_dfs.platform.storage import atomic_write, player_numbers_dir, player_numbers_path
from nascar_dfs.platform.uploads import race_history

__all__ = [
    "CSV_FILE",
    "NumbersMissingError",
    "NumbersUpload",
    "PlayerNumbersError",
    "StoredNumbers",
    "delete_numbers_file",
    "fold_player_numbers",
    "list_numbers_files",
    "race_spellings",
    "read_numbers_file",
    "spec_ownership_problem",
    "spec_unknown_names",
    "upload_player_numbers",
]


class NumbersMissingError(LookupError):
    """No numbers of that version were uploaded by this owner for this race."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class NumbersUpload:
    version: str
    drivers: int
    projections: int
    ownership: int
    slate_version: str


@dataclass(frozen=True)
class StoredNumbers:
    """One file an owner uploaded for a race: its content version, when it was kept, its size."""

    version: str
    uploaded_at: datetime
    size_bytes: int


@dataclass(frozen=True)
class RaceSpellings:
    """name_key -> the race's spelling: `field` of the scenarios' names only, `any` with DraftKings'."""

    field: dict[str, str]
    any: dict[str, str]


def owner_digest(owner: str) -> str:
    return versions.digest("player-numbers-owner", owner)


def numbers_version(content: bytes) -> str:
    return versions.digest(content.hex())


def race_spellings(storage_root: Path, data_dir: Path, race: str, slate_version: str) -> RaceSpellings:
    """The drivers of the race's slate version as its scenarios name them (the history's spelling,
    matched as the scenario set matches it), and DraftKings' name of each as another key."""
    from nascar_dfs.core.optimizer import pool_from_slate

    stored = slate_store.pinned_slate(slate_store.slates_dir(storage_root), race, slate_version)
    slate = science.read_slate(stored.path)
    history = read_output(storage_root, "race_history", [])
    if history is None:
        history = race_history(storage_root, data_dir)
    names = pool_from_slate(science.match_slate(slate, history)).names
    field = {name_key(n): n for n in names}
    dk = {name_key(str(d)): n for d, n in zip(slate.players["name"], names, strict=True)}
    return RaceSpellings(field=field, any={**dk, **field})


def spec_unknown_names(
    storage_root: Path, data_dir: Path, race: str, spec: ConstraintSpec
) -> dict[str, list[str]]:
    """Per spec field (projections, ownership), its drivers not on the spec's pinned slate."""
    if spec.slate_version is None:
        raise ValueError("the spec is not pinned to a slate version")
    if not spec.projections and not spec.ownership:
        return {}
    known = race_spellings(storage_root, data_dir, race, spec.slate_version).field
    found = {
        "projections": sorted(n for n in spec.projections if name_key(n) not in known),
        "ownership": sorted(n for n in spec.ownership if name_key(n) not in known),
    }
    return {field: names for field, names in found.items() if names}


def spec_ownership_problem(storage_root: Path, data_dir: Path, race: str, spec: ConstraintSpec) -> str | None:
    """Why the spec's ownership cannot be the field of its pinned slate (e.g. 600% given to some
    drivers leaves nothing for the others), None when it can."""
    if not spec.ownership or spec.slate_version is None:
        return None
    drivers = len(race_spellings(storage_root, data_dir, race, spec.slate_version).field)
    return ownership_problem(spec.ownership, drivers)


def upload_player_numbers(
    storage_root: Path, data_dir: Path, race: str, owner: str, content: bytes
) -> NumbersUpload:
    """Read the file (PlayerNumbersError lists each bad row and each name not on the race's current
    slate), then keep it for this owner under its content version."""
    numbers = parse_csv(content)
    current = slate_store.require_current(slate_store.slates_dir(storage_root), race)
    in_race = in_race_spelling(numbers, race_spellings(storage_root, data_dir, race, current.version).any)
    version = numbers_version(content)
    path = player_numbers_path(storage_root, race, owner_digest(owner), version)
    if not path.exists():
        atomic_write(path, lambda tmp: tmp.write_bytes(content))
    return NumbersUpload(
        version, len(in_race.drivers), len(in_race.projections), len(in_race.ownership), current.version
    )


def read_numbers_file(storage_root: Path, race: str, owner: str, version: str) -> bytes:
    """The bytes this owner uploaded for the race under `version` (NumbersMissingError otherwise)."""
    return _stored_path(storage_root, race, owner, version).read_bytes()


def _stored_path(storage_root: Path, race: str, owner: str, version: str) -> Path:
    try:
        path = player_numbers_path(storage_root, race, owner_digest(owner), version)
    except ValueError as exc:
        raise NumbersMissingError(f"player numbers {version!r}: {exc}") from None
    if not path.exists():
        raise NumbersMissingError(
            f"no player numbers {version} of race {race} were uploaded with your key"
            f" (PUT /v1/races/{race}/player-numbers)"
        )
    return path


def list_numbers_files(storage_root: Path, race: str, owner: str) -> list[StoredNumbers]:
    """The versions this owner uploaded for the race, newest first (none: an empty list)."""
    folder = player_numbers_dir(storage_root, race, owner_digest(owner))
    if not folder.is_dir():
        return []
    stored = []
    for path in folder.glob("*.csv"):  # atomic_write's temp files do not end in .csv
        stat = path.stat()
        stored.append(StoredNumbers(path.stem, datetime.fromtimestamp(stat.st_mtime, UTC), stat.st_size))
    return sorted(stored, key=lambda s: (s.uploaded_at, s.version), reverse=True)


def delete_numbers_file(storage_root: Path, race: str, owner: str, version: str) -> None:
    """Forget one of this owner's files (NumbersMissingError if there is none). Requests that named it
    keep their results: the numbers were folded into their specs at submit."""
    _stored_path(storage_root, race, owner, version).unlink(missing_ok=True)


def fold_player_numbers(
    storage_root: Path, data_dir: Path, race: str, spec: ConstraintSpec, files: list[tuple[str, bytes]]
) -> ConstraintSpec:
    """The pinned spec with the files' numbers in its projections and ownership, each name in the
    race's spelling; PlayerNumbersError (naming the file, the rows and names) when a file is bad,
    names a driver not on the pinned slate, or gives a value another file or the spec gives."""
    if spec.slate_version is None:
        raise ValueError("the spec is not pinned to a slate version")
    spellings = race_spellings(storage_root, data_dir, race, spec.slate_version).any
    parsed: list[PlayerNumbers] = []
    for name, content in files:
        try:
            parsed.append(in_race_spelling(parse_csv(content, name), spellings))
        except PlayerNumbersError as exc:
            raise PlayerNumbersError(name, exc.problems) from None
    try:
        return into_spec(spec, merge(parsed))
    except ValueError as exc:
        if isinstance(exc, PlayerNumbersError):
            raise
        # The folded spec breaks a spec rule (e.g. more than 600% ownership with the spec's own).
        raise PlayerNumbersError(CSV_FILE, [NumbersProblem(None, None, str(exc))]) from None

"""DKSalaries.csv uploads: read with the data module's reader, every name matched to the race
history, and kept content-addressed in the platform's slate store (slate_store.py) only when valid."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from api.core.problems import ProblemError, invalid_body
from nascar_dfs.core.data.draftkings import (
    UndeclaredDebutantError,
    UnknownDriversError,
    match_slate_drivers,
    read_dk_salaries,
)
from nascar_dfs.core.data.errors import DataValidationError
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import race_week as slate_store

FILE = "DKSalaries.csv"


@dataclass(frozen=True)
class StoredUpload:
    drivers: int
    version: str
    new_drivers: tuple[str, ...]


def slates_dir() -> Path:
    """The slate store the platform's race_slate asset reads: <storage>/slates."""
    from nascar_dfs.platform.reads import storage_root

    return slate_store.slates_dir(storage_root())


def slate_path(race_id: str) -> Path:
    """The race's current slate file, where the platform's race_slate asset reads it."""
    return slate_store.current_path(slates_dir(), race_id)


def history_drivers(data_dir: Path) -> list[str]:
    """Every driver name of the data folder's results (cup_results.csv `driver`), first seen first."""
    path = data_dir / "cup_results.csv"
    if not path.exists():
        raise ProblemError(503, "dependency-unavailable", "the race history has no cup_results.csv")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        names = [row.get("driver") or "" for row in csv.DictReader(fh)]
    return list(dict.fromkeys(n for n in names if n))


def parse_new_drivers(raw: str | None) -> tuple[str, ...]:
    """`?new_drivers=A,B`: the slate names declared as debutants (first Cup race)."""
    if not raw:
        return ()
    return tuple(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))


def _invalid(message: str, row: int | None = None, column: str | None = None) -> ProblemError:
    where = f" row {row}, column {column}" if row is not None else ""
    return ProblemError(
        422,
        "invalid-slate",
        f"{FILE}{where}: {message}",
        errors=[{"loc": ["body", FILE], "file": FILE, "row": row, "column": column, "msg": message[:200]}],
    )


def _unknown(exc: UnknownDriversError) -> ProblemError:
    return ProblemError(
        422,
        "unknown-drivers",
        f"{len(exc.names)} slate name(s) match no driver of the race history: "
        + "; ".join(f"{n} (closest: {', '.join(exc.suggestions[n]) or 'none'})" for n in exc.names)
        + ". Fix the spelling, or declare debutants with ?new_drivers=Name,Name",
        errors=[
            {
                "loc": ["body", FILE],
                "name": name,
                "msg": "not in the race history",
                "suggestions": exc.suggestions[name],
            }
            for name in exc.names
        ],
    )


def store_slate(
    race_id: str,
    content: bytes,
    known_drivers: Iterable[str],
    new_drivers: tuple[str, ...] = (),
) -> StoredUpload:
    """Validate the file and its names, then keep it as the race's current slate."""
    fd, tmp_name = tempfile.mkstemp(prefix=".DKSalaries.", suffix=".csv")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        try:
            slate = read_dk_salaries(tmp)
        except DataValidationError as exc:
            raise _invalid(exc.message, exc.row, exc.column) from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise _invalid(f"could not be read: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    try:
        match_slate_drivers(slate, known_drivers, debutants=new_drivers)
    except UnknownDriversError as exc:
        raise _unknown(exc) from exc
    except UndeclaredDebutantError as exc:
        raise ProblemError(
            422,
            "unknown-drivers",
            str(exc).replace(str(slate.source), FILE),
            errors=[{"loc": ["query", "new_drivers"], "msg": str(exc).replace(str(slate.source), FILE)}],
        ) from exc
    version = slate_store.save_slate(slates_dir(), race_id, content, new_drivers)
    return StoredUpload(len(slate.players), version, new_drivers)


def pin_spec(race_id: str, spec: ConstraintSpec) -> ConstraintSpec:
    """The spec with the slate version its lineups are built from: the one it names (which must be
    stored for the race), else the race's current one. A race with no slate is a 409: lineups are
    never built from another race's salaries."""
    store = slates_dir()
    if spec.slate_version is not None:
        try:
            slate_store.pinned_slate(store, race_id, spec.slate_version)
        except slate_store.SlateMissingError as exc:
            raise invalid_body(["spec", "slate_version"], str(exc)) from exc
        return spec
    current = slate_store.current_slate(store, race_id)
    if current is None:
        raise ProblemError(
            409,
            "slate-missing",
            f"race {race_id} has no slate: an admin uploads its DKSalaries.csv first "
            f"(PUT /v1/races/{race_id}/slate)",
        )
    return spec.model_copy(update={"slate_version": current.version})


def slate_names(path: Path) -> list[str]:
    """The Name column of a stored slate (its debutants are known drivers of its race)."""
    return [str(n) for n in read_dk_salaries(path).players["name"]]

"""DKSalaries.csv uploads over HTTP: the platform's upload function (nascar_dfs/platform/uploads.py,
the one the CLI calls too) with its errors as problem details, and the slate a request pins."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from api.core.problems import ProblemError, invalid_body
from nascar_dfs.core.data.draftkings import UndeclaredDebutantError, UnknownDriversError
from nascar_dfs.core.data.errors import DataValidationError
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import race_week as slate_store

FILE = slate_store.SLATE_FILE
T = TypeVar("T")


def slates_dir() -> Path:
    """The slate store the platform's race_slate asset reads: <storage>/slates, under the platform's
    storage root ($NASCAR_DFS_STORAGE, nascar_dfs/platform/storage.py); never a folder of the API's."""
    from nascar_dfs.platform.reads import storage_root

    return slate_store.slates_dir(storage_root())


def slate_path(race_id: str) -> Path:
    """The race's current slate file."""
    return slate_store.current_path(slates_dir(), race_id)


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


def history_guard(call: Callable[[], T]) -> T:
    """A history that cannot be loaded is the platform's problem, not the upload's: 503."""
    try:
        return call()
    except slate_store.HistoryUnavailableError as exc:
        raise ProblemError(
            503, "dependency-unavailable", str(exc)[:500], headers={"Retry-After": "30"}
        ) from exc


def store_slate(
    storage_root: Path, data_dir: Path, race_id: str, content: bytes, new_drivers: tuple[str, ...] = ()
) -> slate_store.SlateUpload:
    """Validate the file and its names, then keep it as the race's current slate."""
    try:
        return history_guard(
            lambda: slate_store.upload_slate(storage_root, data_dir, race_id, content, new_drivers)
        )
    except DataValidationError as exc:
        raise _invalid(exc.message, exc.row, exc.column) from exc
    except UnknownDriversError as exc:
        raise _unknown(exc) from exc
    except UndeclaredDebutantError as exc:
        raise ProblemError(
            422,
            "unknown-drivers",
            str(exc),
            errors=[{"loc": ["query", "new_drivers"], "msg": str(exc)}],
        ) from exc


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

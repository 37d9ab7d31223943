"""The player's own numbers over HTTP: the platform's functions (nascar_dfs/platform/player_numbers.py,
the ones the CLI calls too) with their errors as problem details, and the fold into a request's spec."""

from __future__ import annotations

from pathlib import Path

from api.core.problems import ProblemError, invalid_body
from api.services.slates import history_guard
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import race_week


def _invalid(exc: race_week.PlayerNumbersError, loc: list[str | int]) -> ProblemError:
    return ProblemError(
        422,
        "invalid-player-numbers",
        str(exc)[:2000],
        errors=[
            {"loc": loc, "file": exc.file, "row": p.row, "column": p.column, "msg": p.message[:300]}
            for p in exc.problems
        ],
    )


def store(
    storage_root: Path, data_dir: Path, race_id: str, owner: str, content: bytes
) -> race_week.NumbersUpload:
    """Validate the CSV (every bad row, every name not on the race's slate) and keep it for `owner`."""
    try:
        return history_guard(
            lambda: race_week.upload_player_numbers(storage_root, data_dir, race_id, owner, content)
        )
    except race_week.PlayerNumbersError as exc:
        raise _invalid(exc, ["body", exc.file]) from exc
    except race_week.SlateMissingError as exc:
        raise ProblemError(409, "slate-missing", str(exc)) from exc


def content(storage_root: Path, race_id: str, owner: str, version: str) -> bytes:
    """The owner's file of that version; another owner's or an unknown one is a 404."""
    try:
        return race_week.read_numbers_file(storage_root, race_id, owner, version)
    except race_week.NumbersMissingError as exc:
        raise ProblemError(404, "not-found", str(exc)) from exc


def delete(storage_root: Path, race_id: str, owner: str, version: str) -> None:
    try:
        race_week.delete_numbers_file(storage_root, race_id, owner, version)
    except race_week.NumbersMissingError as exc:
        raise ProblemError(404, "not-found", str(exc)) from exc


def check_spec_names(storage_root: Path, data_dir: Path, race_id: str, spec: ConstraintSpec) -> None:
    """The spec's own projections and ownership must name drivers of the slate version it pins: a
    422 naming each unknown one under its field."""
    unknown = history_guard(lambda: race_week.spec_unknown_names(storage_root, data_dir, race_id, spec))
    if not unknown:
        return
    parts = [f"spec.{field} name drivers not on the slate of {race_id}: {', '.join(names)}"
             for field, names in unknown.items()]  # fmt: skip
    raise ProblemError(
        422,
        "validation-error",
        f"{'; '.join(parts)} (slate version {spec.slate_version})",
        errors=[
            {"loc": ["body", "spec", field], "msg": part} for field, part in zip(unknown, parts, strict=True)
        ],
    )


def check_ownership(storage_root: Path, data_dir: Path, race_id: str, spec: ConstraintSpec) -> None:
    """The spec's ownership (its own and its files') must be able to make a field of its slate."""
    problem = history_guard(lambda: race_week.spec_ownership_problem(storage_root, data_dir, race_id, spec))
    if problem is not None:
        raise invalid_body(["spec", "ownership"], f"spec.ownership: {problem}")


def fold(
    storage_root: Path, data_dir: Path, race_id: str, owner: str, spec: ConstraintSpec, versions: list[str]
) -> ConstraintSpec:
    """The pinned spec with the caller's uploaded numbers folded in (another owner's version is not
    found: a 422 like a version never uploaded)."""
    files: list[tuple[str, bytes]] = []
    for k, version in enumerate(versions):
        try:
            content = race_week.read_numbers_file(storage_root, race_id, owner, version)
        except race_week.NumbersMissingError as exc:
            raise invalid_body(["player_numbers", str(k)], str(exc)) from exc
        files.append((f"player-numbers {version}", content))
    try:
        return history_guard(
            lambda: race_week.fold_player_numbers(storage_root, data_dir, race_id, spec, files)
        )
    except race_week.PlayerNumbersError as exc:
        raise _invalid(exc, ["body", "player_numbers"]) from exc

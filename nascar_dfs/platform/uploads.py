"""The uploads of a race week, one function each for every door (the REST API, the CLI): a race's
DraftKings salary file and its starting lineup, read, checked against the race history and kept
under the platform's storage only when valid. Each door turns the errors into its own answer (a
problem+json, a message and an exit code); the checks themselves are made here once.

A name is known when the quarantined history the runs train on knows it: the stored race_history
once it was built, else the data folder loaded the way race_history loads it (a race the loader
dropped lends no driver), never the raw cup_results.csv.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nascar_dfs.core.data.errors import DataValidationError
from nascar_dfs.platform import race_calendar, slate_store, starting_lineups
from nascar_dfs.platform.io_manager import read_output

SLATE_FILE = "DKSalaries.csv"


class HistoryUnavailableError(RuntimeError):
    """The race history the uploads are checked against cannot be loaded (not the upload's fault)."""


@dataclass(frozen=True)
class SlateUpload:
    drivers: int
    version: str
    new_drivers: tuple[str, ...]


@dataclass(frozen=True)
class LineupUpload:
    drivers: int
    version: str


def race_history(storage_root: Path, data_dir: Path) -> Any:
    """The quarantined history: the stored race_history, else the data folder loaded as it loads."""
    stored = read_output(storage_root, "race_history", [])
    if stored is not None:
        return stored
    try:
        return race_calendar.load_history(data_dir, storage_root)
    except (DataValidationError, FileNotFoundError) as exc:
        raise HistoryUnavailableError(f"the race history cannot be loaded: {exc}") from exc


def history_drivers(storage_root: Path, data_dir: Path) -> list[str]:
    """Every driver of the quarantined history, first seen first."""
    results = race_history(storage_root, data_dir).results
    return list(dict.fromkeys(str(d) for d in results["driver"] if isinstance(d, str) and d))


def read_slate_bytes(content: bytes) -> Any:
    """A DKSalaries.csv upload as the data module reads one (errors name DKSalaries.csv, row and
    column, never a temp path)."""
    from nascar_dfs.core.data.draftkings import read_dk_salaries

    with tempfile.TemporaryDirectory(prefix="slate-upload-") as folder:
        path = Path(folder) / SLATE_FILE
        path.write_bytes(content)
        try:
            return read_dk_salaries(path)
        except DataValidationError:
            raise
        except (UnicodeDecodeError, ValueError) as exc:
            raise DataValidationError(SLATE_FILE, None, None, f"could not be read: {exc}") from exc


def upload_slate(
    storage_root: Path, data_dir: Path, race: str, content: bytes, new_drivers: Iterable[str] = ()
) -> SlateUpload:
    """Read the file, match every name to the history (UnknownDriversError lists each unmatched
    one with its closest names unless declared in `new_drivers`; UndeclaredDebutantError for a
    declared name the slate lacks), then keep it as the race's current slate version."""
    from nascar_dfs.core.data.draftkings import UndeclaredDebutantError, match_slate_drivers

    debutants = tuple(dict.fromkeys(n.strip() for n in new_drivers if n.strip()))
    slate = read_slate_bytes(content)
    try:
        match_slate_drivers(slate, history_drivers(storage_root, data_dir), debutants=debutants)
    except UndeclaredDebutantError as exc:
        raise UndeclaredDebutantError(str(exc).replace(str(slate.source), SLATE_FILE)) from None
    version = slate_store.save_slate(slate_store.slates_dir(storage_root), race, content, debutants)
    return SlateUpload(len(slate.players), version, debutants)


def upload_starting_lineup(
    storage_root: Path, data_dir: Path, race: str, content: bytes, feed: bool
) -> LineupUpload:
    """A `driver,start` CSV, or NASCAR's weekend feed JSON with `feed`: every row checked
    (StartingLineupError lists each bad one), drivers known to the history or to the race's slate
    (its declared debutants), then kept as the race's starting lineup."""
    known = history_drivers(storage_root, data_dir)
    slate = slate_store.current_slate(slate_store.slates_dir(storage_root), race)
    if slate is not None:
        known += [str(n) for n in slate_store.slate_names(slate.path)]
    if feed:
        rows, file = starting_lineups.parse_weekend_feed(content), starting_lineups.FEED_FILE
    else:
        rows, file = starting_lineups.parse_csv(content), starting_lineups.CSV_FILE
    starts = starting_lineups.validate(file, rows, known)
    version = starting_lineups.save_starting_lineup(storage_root, race, starts)
    return LineupUpload(len(starts), version)

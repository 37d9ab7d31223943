"""Reading one CSV table against a column schema, vectorized, with errors that point at file/row/column."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from nascar_dfs.core.data.errors import DataValidationError

# pandas is imported by the functions that use it: `nascar-dfs optimize` loads this module through
# draftkings.py and reads its slate without pandas (draftkings.read_dk_salary_rows).
if TYPE_CHECKING:
    import pandas as pd

ColumnKind = Literal["str", "int", "nullable_int", "float", "nullable_float", "bool", "optional_str"]

HEADER_ROWS = 1  # spreadsheet row of data row 0 is 2: one header row, counting from 1
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def sheet_row(position: int) -> int:
    """Spreadsheet row number of the data row at 0-based `position`."""
    return int(position) + HEADER_ROWS + 1


def read_table(
    path: Path,
    required: Mapping[str, ColumnKind],
    optional: Mapping[str, ColumnKind] | None = None,
) -> pd.DataFrame:
    """Read `path` as text, check required columns, convert typed columns; extra columns stay text."""
    raw = _read_text_table(path, required)
    kinds = {**(optional or {}), **required}
    table = raw.copy()
    for column, kind in kinds.items():
        if column in raw.columns:
            table[column] = convert_column(raw[column], kind, path.name, column)
    return table


def _read_text_table(path: Path, required: Mapping[str, ColumnKind]) -> pd.DataFrame:
    """Every cell as text; a missing or unreadable file, or a missing required column, raises."""
    import pandas as pd

    if not path.is_file():
        raise DataValidationError(path.name, None, None, f"file not found at {path}")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[], encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataValidationError(path.name, None, None, f"not a readable UTF-8 CSV file: {exc}") from exc
    missing = [col for col in required if col not in raw.columns]
    if missing:
        raise DataValidationError(
            path.name, None, missing[0], f"required column is missing (columns present: {list(raw.columns)})"
        )
    return raw


def convert_column(values: pd.Series, kind: ColumnKind, file: str, column: str) -> pd.Series:
    """Convert one text column; the first unconvertible cell raises naming its row."""
    import pandas as pd

    text = values.astype(str).str.strip()
    blank = text == ""
    if kind in ("str", "optional_str"):
        if kind == "str":
            _fail_first(blank.to_numpy(), file, column, text, "is empty")
        return text.where(~blank, None) if kind == "optional_str" else text
    if kind == "bool":
        lowered = text.str.lower()
        bad = ~(lowered.isin(_TRUE) | lowered.isin(_FALSE))
        _fail_first(bad.to_numpy(), file, column, text, "is not true/false")
        return lowered.isin(_TRUE)
    numbers = pd.to_numeric(text.where(~blank, None), errors="coerce")
    unparsable = (numbers.isna() & ~blank).to_numpy()
    if kind in ("int", "nullable_int"):
        _fail_first(unparsable, file, column, text, "is not an integer")
        fractional = (numbers.notna() & (numbers != np.floor(numbers.fillna(0)))).to_numpy()
        _fail_first(fractional, file, column, text, "is not an integer")
        if kind == "int":
            _fail_first(blank.to_numpy(), file, column, text, "is empty (an integer is required)")
            return numbers.astype("int64")
        return numbers.astype("Int64")
    _fail_first(unparsable, file, column, text, "is not a number")
    if kind == "float":
        _fail_first(blank.to_numpy(), file, column, text, "is empty (a number is required)")
    return numbers.astype("float64")


def _fail_first(bad: np.ndarray, file: str, column: str, text: pd.Series, problem: str) -> None:
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise DataValidationError(file, sheet_row(position), column, f"{text.iloc[position]!r} {problem}")


def first_bad_position(bad: np.ndarray | pd.Series) -> int | None:
    """0-based position of the first True, or None."""
    mask = np.asarray(bad, dtype=bool)
    return int(np.flatnonzero(mask)[0]) if mask.any() else None


def read_table_lenient(
    path: Path,
    required: Mapping[str, ColumnKind],
    optional: Mapping[str, ColumnKind] | None = None,
    strict: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
    """`read_table` for files whose rows can be quarantined one by one.

    A missing file or column, an unreadable file, or a bad cell of a `strict` column (one that names
    the unit a row belongs to, e.g. race_id) still raises. Any other cell that breaks its kind becomes
    missing and is returned as (0-based position, column, problem); "int" columns then come back as
    nullable Int64, so the caller casts them back once it has dropped the broken rows.
    """
    raw = _read_text_table(path, required)
    kinds = {**(optional or {}), **required}
    table = raw.copy()
    problems: list[tuple[int, str, str]] = []
    for column, kind in kinds.items():
        if column not in raw.columns:
            continue
        if column in strict:
            table[column] = convert_column(raw[column], kind, path.name, column)
            continue
        converted, bad = _convert_lenient(raw[column], kind)
        table[column] = converted
        problems.extend((position, column, problem) for position, problem in bad)
    return table, problems


def _convert_lenient(values: pd.Series, kind: ColumnKind) -> tuple[pd.Series, list[tuple[int, str]]]:
    import pandas as pd

    text = values.astype(str).str.strip()
    blank = text == ""

    def report(mask: np.ndarray | pd.Series, problem: str) -> list[tuple[int, str]]:
        return [(int(p), f"{text.iloc[p]!r} {problem}") for p in np.flatnonzero(np.asarray(mask, dtype=bool))]

    if kind in ("str", "optional_str"):
        bad = report(blank, "is empty") if kind == "str" else []
        return text.where(~blank, None), bad
    if kind == "bool":
        lowered = text.str.lower()
        wrong = ~(lowered.isin(_TRUE) | lowered.isin(_FALSE))
        return lowered.isin(_TRUE), report(wrong, "is not true/false")
    numbers = pd.to_numeric(text.where(~blank, None), errors="coerce")
    unparsable = (numbers.isna() & ~blank).to_numpy()
    if kind in ("int", "nullable_int"):
        fractional = (numbers.notna() & (numbers != np.floor(numbers.fillna(0)))).to_numpy()
        bad = report(unparsable | fractional, "is not an integer")
        if kind == "int":
            bad += report(blank, "is empty (an integer is required)")
        numbers = numbers.where(~(unparsable | fractional))
        return numbers.astype("Int64"), sorted(bad)
    bad = report(unparsable, "is not a number")
    if kind == "float":
        bad += report(blank, "is empty (a number is required)")
    return numbers.astype("float64"), sorted(bad)

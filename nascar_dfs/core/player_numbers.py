"""The player's own numbers for a race: projected DraftKings points (mean, optional sd) and projected
ownership per driver, from a CSV file or a spec, and how they enter a request.

Ownership is in percent of the field's lineups (0-100), the unit every DFS tool publishes it in, so
a value means the same in a spec, a CSV and a table; a CSV cell may carry the "%" sign.

A player names only the drivers they have numbers for; the others keep the platform's: the
model's simulated points, and the ownership model's shares rescaled to what the player's shares
leave of the lineup's six slots (six drivers per lineup make 600%). A 422 for every unnamed driver
would make a player type 36-40 numbers to move one, which no DFS tool asks; the metadata of the
ownership projection says which shares were the player's.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from pydantic import ValidationError

from nascar_dfs.core.contest.ownership import SLOTS, capped_softmax
from nascar_dfs.core.names import name_key
from nascar_dfs.core.scenarios.spec import MAX_DRIVERS, ConstraintSpec, DriverProjection

CSV_FILE = "player-numbers.csv"
NAME_COLUMNS = ("driver", "name")
MEAN_COLUMNS = ("mean", "projection")
SD_COLUMN = "sd"
OWNERSHIP_COLUMN = "ownership"
MAX_OWNERSHIP_PCT = 100.0


@dataclass(frozen=True)
class NumbersProblem:
    row: int | None  # spreadsheet row of the CSV (header = 1)
    column: str | None
    message: str


class PlayerNumbersError(ValueError):
    """Every problem of the player's numbers, each with its row and column where it has one."""

    def __init__(self, file: str, problems: list[NumbersProblem]) -> None:
        self.file = file
        self.problems = problems
        listed = "; ".join(_where(p) + p.message for p in problems)
        super().__init__(f"{file}: {listed}")


def _where(problem: NumbersProblem) -> str:
    if problem.row is None:
        return ""
    return f"row {problem.row}" + (f", column {problem.column}" if problem.column else "") + ": "


@dataclass(frozen=True)
class PlayerNumbers:
    """Driver -> projection and driver -> ownership percent, as the file (or spec) names them."""

    projections: dict[str, DriverProjection] = field(default_factory=dict)
    ownership: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # driver -> its CSV row, for messages

    @property
    def drivers(self) -> list[str]:
        return list(dict.fromkeys([*self.projections, *self.ownership]))


def _number(text: str) -> float | None:
    """A finite number, or None; NaN and infinities are not numbers a player means."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _column(columns: dict[str, str], names: Iterable[str]) -> str | None:
    return next((columns[n] for n in names if n in columns), None)


def parse_csv(content: bytes, file: str = CSV_FILE) -> PlayerNumbers:
    """A CSV with a driver column (`driver` or `name`) and `mean` (or `projection`), optional `sd`,
    and/or `ownership` (percent). PlayerNumbersError lists every bad row: a blank or repeated
    driver, a value that is no finite number or out of its bounds, an sd without a mean."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlayerNumbersError(file, [NumbersProblem(None, None, f"not UTF-8 text: {exc}")]) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _parse_records(reader, file)
    except csv.Error as exc:  # e.g. a NUL byte, or a field beyond the csv module's size limit
        raise PlayerNumbersError(file, [NumbersProblem(reader.line_num, None, f"not a CSV: {exc}")]) from exc


def _parse_records(reader: csv.DictReader, file: str) -> PlayerNumbers:
    columns = {c.strip().lower(): c for c in (reader.fieldnames or []) if c is not None}
    name_col = _column(columns, NAME_COLUMNS)
    mean_col = _column(columns, MEAN_COLUMNS)
    sd_col = columns.get(SD_COLUMN)
    own_col = columns.get(OWNERSHIP_COLUMN)
    if name_col is None or (mean_col is None and own_col is None):
        message = (
            f"the header must name driver and mean and/or ownership (sd optional), got {reader.fieldnames}"
        )
        raise PlayerNumbersError(file, [NumbersProblem(1, None, message)])
    if sd_col is not None and mean_col is None:
        raise PlayerNumbersError(file, [NumbersProblem(1, "sd", "an sd column needs a mean column")])
    problems: list[NumbersProblem] = []
    numbers = PlayerNumbers()
    seen: dict[str, int] = {}
    for record in reader:
        # The reader's line number, not a count of records: it skips blank lines (header = row 1).
        _parse_row(reader.line_num, record, (name_col, mean_col, sd_col, own_col), numbers, seen, problems)
    if not seen and not problems:
        problems.append(NumbersProblem(None, None, "the file names no driver"))
    if len(seen) > MAX_DRIVERS:
        too_many = f"{len(seen)} drivers, more than the {MAX_DRIVERS} allowed"
        problems.append(NumbersProblem(None, None, too_many))
    problems += _ownership_total_problems(numbers.ownership)
    if problems:
        raise PlayerNumbersError(file, problems)
    return numbers


def _parse_row(
    row: int,
    record: dict[str, str | None],
    cols: tuple[str, str | None, str | None, str | None],
    numbers: PlayerNumbers,
    seen: dict[str, int],
    problems: list[NumbersProblem],
) -> None:
    name_col, mean_col, sd_col, own_col = cols

    def cell(col: str | None) -> str:
        return "" if col is None else str(record.get(col) or "").strip()

    name = cell(name_col)
    if not name:
        if any(cell(c) for c in (mean_col, sd_col, own_col)):
            problems.append(NumbersProblem(row, name_col, "no driver named"))
        return  # a blank line
    if name_key(name) in seen:
        problems.append(NumbersProblem(row, name_col, f"{name} is on row {seen[name_key(name)]} already"))
        return
    seen[name_key(name)] = row
    numbers.rows[name] = row
    before = len(problems)
    mean_text, sd_text, own_text = cell(mean_col), cell(sd_col), cell(own_col)
    mean = _number(mean_text) if mean_text else None
    sd = _number(sd_text) if sd_text else None
    if mean_text and mean is None:
        problems.append(NumbersProblem(row, mean_col, f"{name}: mean {mean_text!r} is not a finite number"))
    if sd_text and sd is None:
        problems.append(NumbersProblem(row, sd_col, f"{name}: sd {sd_text!r} is not a finite number"))
    if sd_text and not mean_text:
        problems.append(NumbersProblem(row, sd_col, f"{name}: an sd needs a mean"))
    if len(problems) == before and mean is not None:
        try:
            numbers.projections[name] = DriverProjection(mean=mean, sd=sd)
        except ValidationError as exc:
            for error in exc.errors():
                where = str(error["loc"][0]) if error["loc"] else "mean"
                col = mean_col if where == "mean" else sd_col
                problems.append(NumbersProblem(row, col, f"{name}: {where} {error['msg'].lower()}"))
    if own_text:
        share = _number(own_text.removesuffix("%").strip())
        if share is None:
            problems.append(NumbersProblem(row, own_col, f"{name}: ownership {own_text!r} is not a number"))
        elif not 0.0 <= share <= MAX_OWNERSHIP_PCT:
            problems.append(
                NumbersProblem(row, own_col, f"{name}: ownership {share:g}% is outside 0-100% of the lineups")
            )
        else:
            numbers.ownership[name] = share


def _ownership_total_problems(ownership: Mapping[str, float]) -> list[NumbersProblem]:
    total = sum(ownership.values())
    if total > SLOTS * 100.0 + 0.5:
        return [
            NumbersProblem(
                None,
                OWNERSHIP_COLUMN,
                f"ownership adds up to {total:g}%: six drivers per lineup make 600% at most",
            )
        ]
    return []


def ownership_problem(ownership: Mapping[str, float], drivers: int) -> str | None:
    """Why the player's shares cannot be a field of `drivers` drivers (None when they can): the
    check `with_player_ownership` makes in the run, made before one is launched."""
    named = {f"#{k}": 0.0 for k in range(drivers)}
    given = {f"#{k}": share for k, share in enumerate(ownership.values())}
    if len(given) > drivers:
        return f"ownership names {len(given)} drivers, more than the slate's {drivers}"
    try:
        with_player_ownership(tuple(named), np.full(drivers, SLOTS / drivers), given)
    except ValueError as exc:
        return str(exc)
    return None


def unknown_names(numbers: PlayerNumbers | ConstraintSpec, known: Mapping[str, str]) -> list[str]:
    """The named drivers `known` (name_key -> the race's spelling) lacks, sorted."""
    if isinstance(numbers, PlayerNumbers):
        names = numbers.drivers
    else:
        names = [*numbers.projections, *numbers.ownership]
    return sorted({name for name in names if name_key(name) not in known})


def in_race_spelling(numbers: PlayerNumbers, known: Mapping[str, str]) -> PlayerNumbers:
    """The numbers keyed by the race's spelling of each driver (the scenarios' names), so a file
    written with DraftKings' spelling lands on the same driver; unknown names raise naming each."""
    unknown = unknown_names(numbers, known)
    if unknown:
        problems = [
            NumbersProblem(numbers.rows.get(name), None, f"{name} is not a driver of the race's slate")
            for name in unknown
        ]
        raise PlayerNumbersError(CSV_FILE, problems)
    return PlayerNumbers(
        projections={known[name_key(n)]: p for n, p in numbers.projections.items()},
        ownership={known[name_key(n)]: s for n, s in numbers.ownership.items()},
        rows={known[name_key(n)]: r for n, r in numbers.rows.items()},
    )


def merge(files: Iterable[PlayerNumbers]) -> PlayerNumbers:
    """Several files' numbers as one; a driver's mean or ownership given twice is an error naming it."""
    merged = PlayerNumbers()
    twice: list[str] = []
    for numbers in files:
        for name, projection in numbers.projections.items():
            if name in merged.projections:
                twice.append(f"{name} (mean)")
            merged.projections[name] = projection
        for name, share in numbers.ownership.items():
            if name in merged.ownership:
                twice.append(f"{name} (ownership)")
            merged.ownership[name] = share
        merged.rows.update(numbers.rows)
    if twice:
        message = f"given in more than one file: {', '.join(sorted(twice))}"
        raise PlayerNumbersError(CSV_FILE, [NumbersProblem(None, None, message)])
    return merged


def into_spec(spec: ConstraintSpec, numbers: PlayerNumbers) -> ConstraintSpec:
    """The spec with the numbers folded into its projections and ownership, so the file's content is
    part of the spec's hash (other numbers, another partition). A driver the spec already gives a
    value of the same kind is an error naming it: one of the two would be dropped silently."""
    clash = sorted(
        [f"{n} (mean)" for n in numbers.projections if n in spec.projections]
        + [f"{n} (ownership)" for n in numbers.ownership if n in spec.ownership]
    )
    if clash:
        message = f"given both in the spec and in the file: {', '.join(clash)}"
        raise PlayerNumbersError(CSV_FILE, [NumbersProblem(None, None, message)])
    fields = spec.model_dump(mode="json", exclude_defaults=True)
    fields["projections"] = {**fields.get("projections", {}), **{
        n: p.model_dump(exclude_none=True) for n, p in numbers.projections.items()
    }}  # fmt: skip
    fields["ownership"] = {**spec.ownership, **numbers.ownership}
    return ConstraintSpec.model_validate(fields)


def with_player_ownership(
    names: tuple[str, ...] | list[str], base: np.ndarray, given_pct: Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """(ownership fractions, which were the player's) over `names`: the player's shares as given,
    the others the `base` shares rescaled (their order kept, none above 1) to fill what the player's
    leave of the six slots. When the player names every driver their shares are normalised to six
    slots, as published ownership is. ValueError names unknown drivers and impossible totals."""
    index = {name_key(n): j for j, n in enumerate(names)}
    unknown = sorted(n for n in given_pct if name_key(n) not in index)
    if unknown:
        raise ValueError(f"ownership names drivers not on the slate: {', '.join(unknown)}")
    values = np.asarray(base, dtype=np.float64).copy()
    mine = np.zeros(len(names), dtype=bool)
    for name, pct in given_pct.items():
        j = index[name_key(name)]
        values[j], mine[j] = pct / 100.0, True
    rest = ~mine
    left = SLOTS - values[mine].sum()
    if not rest.any():
        if abs(left) > 0.05 * SLOTS:
            raise ValueError(
                f"the player's ownership of every driver adds up to {100 * values.sum():.1f}%, "
                "not about 600% (six drivers per lineup)"
            )
        return values * (SLOTS / values.sum()), mine
    if left <= 0 or rest.sum() <= left:
        raise ValueError(
            f"the player's ownership adds up to {100 * values[mine].sum():.1f}%, leaving "
            f"{100 * max(left, 0):.1f}% for the {int(rest.sum())} other drivers: six drivers per lineup "
            "make 600%"
        )
    values[rest] = capped_softmax(np.log(np.maximum(values[rest], 1e-9)), left)
    return values, mine

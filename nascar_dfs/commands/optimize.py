"""`nascar-dfs optimize`: the classic DraftKings NASCAR build from a DKSalaries.csv."""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

from nascar_dfs.cli import CliError

HELP = (
    "Build N distinct DraftKings NASCAR Classic lineups maximizing projected points (AvgPointsPerGame "
    "or a --projections CSV of name,points); prints them (or JSON) and writes the upload CSV with --out"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--slate", required=True, type=Path, help="DKSalaries.csv of the contest")
    parser.add_argument("--lineups", required=True, type=int, help="number of distinct lineups (1-500)")
    parser.add_argument("--max-exposure", type=float, default=1.0, help="max share of lineups per driver")
    parser.add_argument("--min-unique", type=int, default=1, help="drivers any two lineups must not share")
    parser.add_argument("--projections", type=Path, help="CSV with columns name,points for every driver")
    parser.add_argument(
        "--objective", choices=("mean", "leverage"), default="mean",
        help="mean projected points, or points discounted by the slate's Projected Ownership",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="write the DraftKings upload CSV here")
    parser.add_argument(
        "--json", action="store_true", help="print lineups, scores, salaries and build time as JSON"
    )


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from nascar_dfs.core.data.draftkings import write_upload_csv
    from nascar_dfs.core.optimizer import build_portfolio
    from nascar_dfs.core.scenarios.spec import ConstraintSpec

    pool = _load_pool(args.slate, args.projections)
    try:
        spec = ConstraintSpec(
            lineups=args.lineups,
            max_exposure=args.max_exposure,
            min_unique=args.min_unique,
            objective=args.objective,
        )
    except ValidationError as exc:
        raise CliError(_first_validation_message(exc)) from None
    try:
        portfolio = build_portfolio(pool, spec)
    except ValueError as exc:  # InfeasibleSpecError, UnknownDriverError, missing ownership
        raise CliError(str(exc)) from None
    if args.out is not None:
        write_upload_csv(portfolio.dk_id_rows(), args.out)
    if args.json:
        payload = portfolio.to_dict() | {"upload_csv": str(args.out) if args.out else None}
        print(json.dumps(payload, indent=2))
    else:
        _print_lineups(portfolio, args.out)
    return 0


def _load_pool(slate_path: Path, projections_path: Path | None):
    # The slate's columns without pandas (a third of this command's time was importing it); the
    # pool is the one pool_from_slate builds from read_dk_salaries (nascar_dfs_tests/core/data).
    from nascar_dfs.core.data.draftkings import read_dk_salary_rows
    from nascar_dfs.core.data.errors import DataValidationError
    from nascar_dfs.core.optimizer.pool import pool_from_rows

    if not slate_path.is_file():
        raise CliError(f"slate file {slate_path} does not exist")
    try:
        pool = pool_from_rows(read_dk_salary_rows(slate_path))
        if projections_path is not None:
            pool = pool.with_projections(_read_projections(projections_path))
    except (DataValidationError, ValueError) as exc:
        raise CliError(str(exc)) from None
    return pool


def _read_projections(path: Path) -> dict[str, float]:
    """name,points rows; every value must be a finite number and every name appear once."""
    if not path.is_file():
        raise CliError(f"projections file {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"name", "points"} <= {f.strip() for f in reader.fieldnames}:
            raise CliError(f"{path.name}: header must hold the columns name,points")
        points: dict[str, float] = {}
        for row_number, row in enumerate(reader, start=2):
            row = {key.strip(): (value or "").strip() for key, value in row.items() if key}
            name = row["name"]
            try:
                value = float(row["points"])
            except ValueError:
                raise CliError(
                    f"{path.name} row {row_number}: points {row['points']!r} is not a number"
                ) from None
            if not name or not math.isfinite(value):
                raise CliError(f"{path.name} row {row_number}: needs a name and a finite number of points")
            if name in points:
                raise CliError(f"{path.name} row {row_number}: {name} appears twice")
            points[name] = value
    if not points:
        raise CliError(f"{path.name} holds no projections")
    return points


def _first_validation_message(exc) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "spec"
    flags = {"lineups": "--lineups", "max_exposure": "--max-exposure", "min_unique": "--min-unique"}
    flag = flags.get(field, field)
    return f"{flag}: {error['msg']}"


def _print_lineups(portfolio, out: Path | None) -> None:
    for number, lineup in enumerate(portfolio.lineups, start=1):
        print(f"{number:4d}  {lineup.projection:8.2f} pts  ${lineup.salary:,}  " + ", ".join(lineup.drivers))
    top = ", ".join(f"{name} {share:.0%}" for name, share in list(portfolio.exposures.items())[:10])
    print(f"{len(portfolio.lineups)} lineups in {portfolio.build_seconds:.2f} s; top exposures: {top}")
    if out is not None:
        print(f"upload CSV written to {out}")

"""`nascar-dfs data validate DIR`: every problem of a data folder, in strict mode."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nascar_dfs.cli import CliError

HELP = (
    "Race data folder checks: `validate DIR` lists every problem (file, row, column, reason, and what "
    "loading does about it) and exits 1 if there is any, 0 on clean data"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", required=True)
    validate = sub.add_parser("validate", help="list every problem of a data folder; exit 1 if any")
    validate.add_argument("data_dir", type=Path, help="folder in the shared data layout")
    validate.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    return _validate(args.data_dir, as_json=args.json)


def _validate(data_dir: Path, as_json: bool) -> int:
    from nascar_dfs.core.data.errors import DataValidationError
    from nascar_dfs.core.data.history import load_history
    from nascar_dfs.core.data.quality import problem_rows

    if not data_dir.is_dir():
        raise CliError(f"data folder {data_dir} does not exist")
    try:
        history = load_history(data_dir)
    except DataValidationError as exc:  # a whole file is unusable: nothing else can be checked
        problems = [
            {"file": exc.file, "row": exc.row, "column": exc.column, "reason": exc.message,
             "action": "load-fails", "race_id": None, "track_slug": None}
        ]  # fmt: skip
        races = results = 0
    else:
        problems = problem_rows(history.quarantine)
        races, results = len(history.races), len(history.results)
    if as_json:
        print(
            json.dumps(
                {"data_dir": str(data_dir), "problems": problems, "races": races, "result_rows": results}
            )
        )
    else:
        for problem in problems:
            print(_line(problem))
        if problems:
            print(f"{len(problems)} problem(s) in {data_dir}")
        else:
            print(f"{data_dir}: no problems ({races} races, {results} result rows)")
    return 1 if problems else 0


def _line(problem: dict) -> str:
    where = str(problem["file"])
    if problem["row"] is not None:
        where += f" row {problem['row']}"
    if problem["column"] is not None:
        where += f", column '{problem['column']}'"
    return f"{where}: {problem['reason']} [{problem['action']}]"

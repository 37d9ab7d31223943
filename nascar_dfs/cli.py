"""`nascar-dfs` command line: one sub-command per module under nascar_dfs.commands, plus those other
packages register under the `nascar_dfs.commands` entry point (the API's `api-keys`)."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys

# name -> module under nascar_dfs.commands exposing add_arguments(parser) and run(args) -> int
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "backtest": "backtest",
    "optimize": "optimize",
    "up": "up",
    "graph": "graph",
    "data": "data",
    "race": "race",
    "lineups": "lineups",
    "reoptimize": "reoptimize",
}
# Commands installed by other packages (the API's `api-keys`), so this package imports none of them.
ENTRY_POINT_GROUP = "nascar_dfs.commands"


class CliError(Exception):
    """A user-facing failure: printed as one line on stderr, exit status 2."""


def _command_modules() -> dict[str, str]:
    modules = {name: f"nascar_dfs.commands.{module}" for name, module in COMMANDS.items()}
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        modules.setdefault(entry.name, entry.value)
    return modules


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for `command` alone when it is known, so a run imports only its own command's
    module (each command's imports are most of the CLI's start-up); every command's otherwise, for
    --help and usage errors."""
    parser = argparse.ArgumentParser(prog="nascar-dfs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    modules = _command_modules()
    if command in modules:
        modules = {command: modules[command]}
    for name, module_name in modules.items():
        module = importlib.import_module(module_name)
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except CliError as exc:
        print(f"nascar-dfs {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # `python -m nascar_dfs.cli` runs this file as __main__, a second copy of the module; the
    # commands raise nascar_dfs.cli.CliError, which only that module's main catches.
    from nascar_dfs.cli import main as package_main

    sys.exit(package_main())

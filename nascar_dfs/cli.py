"""`nascar-dfs` command line: one sub-command per module under nascar_dfs.commands."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> module under nascar_dfs.commands exposing add_arguments(parser) and run(args) -> int
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "backtest": "backtest",
    "optimize": "optimize",
    "up": "up",
    "graph": "graph",
    "api-keys": "api_keys",
}


class CliError(Exception):
    """A user-facing failure: printed as one line on stderr, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nascar-dfs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"nascar_dfs.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"nascar_dfs.commands.{module_name}":
                continue  # command not built yet
            raise
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except CliError as exc:
        print(f"nascar-dfs {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

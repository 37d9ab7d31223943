"""The `nascar-dfs` entry point: a command's run loads that command alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nascar_dfs.cli import COMMANDS, main

# Run in a fresh interpreter so modules other tests imported do not count.
PROBE = """
import sys
from nascar_dfs.cli import build_parser
build_parser({command!r})
print(",".join(sorted(m for m in sys.modules if m.startswith("nascar_dfs.commands."))))
"""


@pytest.mark.parametrize("command", ["optimize", "backtest"])
def test_a_command_loads_only_its_own_module(command: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(command=command)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert out.split(",") == [f"nascar_dfs.commands.{COMMANDS[command]}"]


def test_help_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in [*COMMANDS, "api-keys"])


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err

"""promtool for the rule tests: found on PATH, else the tests skip saying how to install it."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip(
            "promtool is not installed: run `bash scripts/services/promtool.sh` (Debian package prometheus)"
        )
    return path

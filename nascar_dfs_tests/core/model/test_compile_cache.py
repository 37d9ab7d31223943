"""configure_compile_cache must act before pytensor is imported, and refuse to act too late."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import os, sys
from pathlib import Path
from nascar_dfs.core.model.fit import CompileCacheError, configure_compile_cache
wanted = configure_compile_cache(sys.argv[1])
import pytensor
assert Path(pytensor.config.base_compiledir).resolve() == wanted, pytensor.config.base_compiledir
assert configure_compile_cache(sys.argv[1]) == wanted  # same dir again: fine
try:
    configure_compile_cache(sys.argv[2])
except CompileCacheError as exc:
    print("refused:", exc)
else:
    print("accepted a second cache dir")
"""


def test_cache_dir_reaches_pytensor_and_a_late_change_is_refused(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(first), str(second)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "refused:" in proc.stdout and str(first.resolve()) in proc.stdout
    assert first.is_dir()

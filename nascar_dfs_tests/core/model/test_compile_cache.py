"""configure_compile_cache must act before pytensor is imported, and refuse to act too late."""

from __future__ import annotations

import json
import os
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


WORKER = """
from nascar_dfs.core.model.fit import ensure_compile_cache
ensure_compile_cache()
import pytensor
print(pytensor.config.base_compiledir)
"""


def test_a_run_worker_that_configured_nothing_gets_the_persistent_cache(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}
    env["NASCAR_DFS_CACHE_DIR"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", WORKER], capture_output=True, text=True, check=False, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert Path(proc.stdout.strip().splitlines()[-1]).resolve().is_relative_to(tmp_path.resolve())


STACK = """
import gc, json, sys
from nascar_dfs.core.model.fit import import_fitting_stack
import_fitting_stack()
import pytensor
print(json.dumps({
    "compiledir": str(pytensor.config.base_compiledir),
    "gc_enabled": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
    "nutpie": "nutpie" in sys.modules,
}))
"""


def test_the_fitting_stack_is_imported_into_the_persistent_cache_with_the_collector_back_on(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}
    env["NASCAR_DFS_CACHE_DIR"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-c", STACK], capture_output=True, text=True, check=False, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(got["compiledir"]).resolve().is_relative_to(tmp_path.resolve())
    assert got["nutpie"]
    # paused for the import only: a collector left off would let a long fit's cycles pile up
    assert got["gc_enabled"]
    assert got["frozen"] > 100_000  # the libraries' objects are out of every later collection

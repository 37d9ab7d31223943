"""auto on an empty cache: the fit samples the JAX model and leaves the numba one compiled behind it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nascar_dfs.core.model.background_compile import LOCK_NAME

FIT = """
import json, sys
from nascar_dfs.core.model.fit import configure_compile_cache
configure_compile_cache(sys.argv[1])
from nascar_dfs.core.data.demo import DEMO_DIR
from nascar_dfs.core.data.history import load_history
from nascar_dfs.core.model.fit import FitConfig, fit_model
history = load_history(DEMO_DIR)
races = history.points_races()
target = str(races[races["race_id"].isin(history.results["race_id"])]["race_id"].iloc[-1])
config = FitConfig(tune=200, draws=200, min_ess_bulk=0.0, max_rhat=float("inf"), max_divergences=1000)
fitted = fit_model(history, target, config)
print(json.dumps({"sampler": fitted.diagnostics.sampler, "compile": fitted.diagnostics.timings["compile"]}))
"""


def _fit(cache: Path) -> dict[str, object]:
    env = os.environ | {"NASCAR_DFS_NUTPIE_BACKEND": "auto"}
    env.pop("PYTENSOR_FLAGS", None)
    proc = subprocess.run(
        [sys.executable, "-c", FIT, str(cache)], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_first_fit_uses_jax_and_the_next_finds_the_numba_model_cached(tmp_path: Path) -> None:
    pytest.importorskip("jax")
    cache = tmp_path / "pytensor"
    first = _fit(cache)
    assert first["sampler"] == "nutpie"
    assert (cache / "jax").is_dir() and any((cache / "jax").iterdir())  # JAX's persistent cache used
    deadline = time.monotonic() + 1500
    while (cache / LOCK_NAME).exists():  # the background compile, started after the first sampling
        assert time.monotonic() < deadline, (cache / "nascar-nutpie-fill.log").read_text()[-3000:]
        time.sleep(2.0)
    assert list(cache.rglob("nascar-nutpie-*.json")), (cache / "nascar-nutpie-fill.log").read_text()[-3000:]
    second = _fit(cache)
    assert second["sampler"] == "nutpie"
    assert not list(cache.glob("nascar-nutpie-fill-*.pickle"))  # the filler cleaned up its job

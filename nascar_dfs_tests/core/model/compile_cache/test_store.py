"""A fresh process loads the compiled model another process stored; it computes the model's logp and
nutpie samples it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = """
import json, sys
import ctypes
from nascar_dfs.core.model.fit import configure_compile_cache
configure_compile_cache(sys.argv[1])
import numpy as np
import pymc as pm
from nascar_dfs.core.model.compile_cache import compile_nutpie_cached

with pm.Model() as model:
    y = pm.Data("y", np.array([0.3, -1.2, 2.0, 0.7]))
    group = pm.Data("group", np.array([0, 1, 1, 2]))
    scale = pm.HalfNormal("scale", 1.0)
    effect = pm.ZeroSumNormal("effect", sigma=1.0, shape=3)
    level = pm.Deterministic("level", scale * effect)
    pm.Potential("lik", pm.logp(pm.Normal.dist(level[group], 1.0), y).sum())

import pymc.initial_point
compiles = []  # PyMC compiling its initial-point function (~0.4 s a process on the race model)
original = pymc.initial_point.make_initial_point_fn
pymc.initial_point.make_initial_point_fn = lambda **kw: compiles.append(1) or original(**kw)
compiled, hit = compile_nutpie_cached(model)
starts = [compiled.initial_point_func(seed).tolist() for seed in (5, 5, 6)]
point = np.linspace(-0.5, 0.5, compiled.n_dim)
grad = np.zeros(compiled.n_dim)
logp = np.zeros(1)
status = compiled.compiled_logp_func.ctypes(
    compiled.n_dim,
    point.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
    grad.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
    logp.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
    ctypes.c_void_p(compiled.user_data.ctypes.data),
)
names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
import nutpie
trace = nutpie.sample(compiled, draws=40, tune=40, chains=1, seed=3, progress_bar=False)
reference = {n: point[s].reshape(shape) for n, s, shape in zip(*compiled.shape_info) if n in names}
print(json.dumps({
    "hit": hit,
    "status": status,
    "logp": float(logp[0]),
    "grad": grad.tolist(),
    "reference_logp": float(model.compile_logp()(reference)),
    "reference_grad": model.compile_dlogp()(reference).tolist(),
    "sampled": {name: list(trace.posterior[name].shape) for name in ("scale", "effect", "level")},
    "point_compiles": len(compiles),
    "starts": starts,
    "support_point": np.concatenate([np.ravel(v) for v in model.initial_point().values()]).tolist(),
}))
"""


def _run(cache_dir: Path) -> dict:
    # production settings: scripts/test.sh exports NUMBA_OPT=0, at which nothing can be cached
    env = {k: v for k, v in os.environ.items() if k not in ("PYTENSOR_FLAGS", "NUMBA_OPT")}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(cache_dir)], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_second_process_loads_the_stored_model_and_both_compute_the_models_logp(tmp_path: Path) -> None:
    first, second = _run(tmp_path), _run(tmp_path)
    assert (first["hit"], second["hit"]) == (False, True)  # the cache key is the same in a new process
    for run in (first, second):
        assert run["status"] == 0
        np.testing.assert_allclose(run["logp"], run["reference_logp"], rtol=1e-12)
        np.testing.assert_allclose(run["grad"], run["reference_grad"], rtol=1e-9, atol=1e-12)
        # nutpie drives the rebuilt model: every variable in the trace, one chain of 40 draws
        assert run["sampled"] == {"scale": [1, 40], "effect": [1, 40, 3], "level": [1, 40, 3]}
        # nutpie's default start: the support point plus U(-1, 1) jitter, reproducible by seed
        same, again, other = np.array(run["starts"])
        np.testing.assert_array_equal(same, again)
        assert not np.array_equal(same, other)
        assert np.all(np.abs(same - np.array(run["support_point"])) <= 1.0)
    # the stored model's start is read from the cache, not compiled by PyMC in every process
    assert second["point_compiles"] == 0 < first["point_compiles"]
    np.testing.assert_array_equal(first["starts"], second["starts"])


def test_a_support_point_that_depends_on_the_data_is_not_stored() -> None:
    import pymc as pm

    from nascar_dfs.core.model.compile_cache.nutpie_model import data_free_support_point

    with pm.Model() as fixed:
        pm.Normal("x", 2.0, 1.0, shape=2)
        pm.HalfNormal("s", 3.0)
    with pm.Model() as from_data:
        pm.Normal("x", pm.Data("centre", np.array([2.0, -1.0])), 1.0, shape=2)
    assert data_free_support_point(fixed) == pytest.approx([2.0, 2.0, np.log(3.0)])
    assert data_free_support_point(from_data) is None  # a new centre would leave a stored one stale


REFUSAL = """
import numpy as np
import pymc as pm
from nascar_dfs.core.model.compile_cache import compile_nutpie_cached

with pm.Model() as model:
    pm.Normal("x", 0.0, 1.0, shape=2)
try:
    compile_nutpie_cached(model)
except RuntimeError as exc:
    print("refused:", exc)
"""


def test_at_numba_level_0_the_cache_refuses_at_once_so_the_caller_compiles_as_usual(tmp_path: Path) -> None:
    env = os.environ | {"NUMBA_OPT": "0", "PYTENSOR_FLAGS": f"base_compiledir={tmp_path}"}
    proc = subprocess.run(
        [sys.executable, "-c", REFUSAL], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "refused: NUMBA_OPT=0" in proc.stdout
    assert not list(tmp_path.rglob("nascar-nutpie-*.json"))  # nothing half-stored

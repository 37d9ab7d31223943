"""The whole compiled model from disk when a process built the same model before.

nutpie compiles its C-callable wrappers (which link PyTensor's numba graph code) afresh in every
process, and PyTensor's own graph cache misses across processes (see ``fingerprint``). Here the
callbacks are cached by numba (``callbacks``) under a fingerprint of the model's log-density and
trace graphs before any rewrite, and a JSON index beside them records the layout nutpie's model
object needs (``nutpie_model``). A process that builds the same model (same ops, shapes, constants,
priors; the data are runtime inputs) loads the linked machine code and skips PyTensor's rewrites,
PyTensor's graph compile and nutpie's wrapper compile. A miss compiles once at numba's default
optimisation level and stores it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from nascar_dfs.core.model.compile_cache.callbacks import TEMPLATE_VERSION, build_callbacks
from nascar_dfs.core.model.compile_cache.fingerprint import graph_fingerprint
from nascar_dfs.core.model.compile_cache.nutpie_model import (
    compiled_pymc_model,
    data_free_support_point,
    initial_point_fn,
    jittered_start,
    static_shapes,
)


class NotCacheable(RuntimeError):
    """numba cannot store this process's compiled model (the caller compiles it the usual way)."""


def compile_nutpie_cached(
    model: Any, cache_dir: Any = None, *, compile_on_miss: bool = True
) -> tuple[Any, bool]:
    """nutpie's compiled model, its machine code from disk when this model was seen before.

    Returns ``(compiled, hit)``; ``(None, False)`` on a miss when not ``compile_on_miss``. Raises on
    anything unexpected; callers fall back to ``nutpie.compile_pymc_model``.
    """
    from numba.core.config import OPT

    if int(OPT) == 0:
        # at level 0 the linked module keeps a process address, so numba refuses to cache it: fail
        # fast instead of compiling the wrappers for nothing before the caller's fallback compiles
        raise NotCacheable("NUMBA_OPT=0: numba cannot cache the compiled model at optimisation level 0")
    start, shapes = None, static_shapes(model)
    if shapes is None:
        start, shapes = initial_point_fn(model)
    value_vars = [model.rvs_to_values[rv] for rv in model.free_RVs]
    names = [v.name for v in value_vars]
    logp = model.logp()
    remaining = [v for v in model.unobserved_value_vars if v.name not in names]
    key = graph_fingerprint(model, [logp, *remaining], value_vars, shapes, salt=TEMPLATE_VERSION)
    if cache_dir is None:
        from pytensor.link.numba.cache import NUMBA_CACHE_PATH as cache_dir  # the cached code's dir
    index = Path(cache_dir) / f"nascar-nutpie-{key}.json"
    meta, hit = None, False
    if index.is_file():
        try:
            meta = json.loads(index.read_text())
            logp_cf, expand_cf = build_callbacks(meta, key, None, None)
            hit = True
        except Exception:  # index unreadable, or its code gone or unreadable: compile again
            meta = None
    if meta is None and not compile_on_miss:
        return None, False
    if meta is None:
        meta, logp_inner, expand_inner = _compile_graphs(model, logp, value_vars, shapes, remaining)
        logp_cf, expand_cf = build_callbacks(meta, key, logp_inner, expand_inner)
        _write_json(index, meta)  # after the code it indexes: no reader sees an index without code
    if start is None:
        support = _support_point(model, index.with_name(f"nascar-nutpie-{key}-start.json"))
        start = jittered_start(support) if support is not None else initial_point_fn(model)[0]
    return compiled_pymc_model(model, meta, logp_cf, expand_cf, start, names, shapes), hit


def _support_point(model: Any, path: Path) -> list[float] | None:
    """The model's data-free support point, stored beside the index (not in it: the index's hash
    names the cached code) by the first process that needs it."""
    try:
        return json.loads(path.read_text())["support_point"]
    except (OSError, ValueError, KeyError):
        support = data_free_support_point(model)
        _write_json(path, {"support_point": support})
        return support


def _write_json(path: Path, content: dict[str, Any]) -> None:
    """Whole or not at all: a reader never sees half a file."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(content))
    tmp.replace(path)


def _compile_graphs(
    model: Any,
    logp: Any,
    value_vars: list[Any],
    shapes: list[tuple[int, ...]],
    remaining: list[Any],
) -> tuple[dict[str, Any], Any, Any]:
    """PyTensor's numba functions for logp+gradient and for the trace, and the index describing them."""
    import pytensor
    import pytensor.tensor as pt
    from pymc.pytensorf import compile as compile_pymc

    rewrites = ["canonicalize", "stabilize"]  # the same pre-gradient rewrites as nutpie's own compile
    if not model.check_bounds:
        rewrites.append("local_remove_check_parameter")
    logp = pytensor.graph.rewrite_graph(logp, include=rewrites)
    grad = pt.concatenate([pt.as_tensor(g).ravel() for g in pytensor.gradient.grad(logp, value_vars)])
    sizes = [int(np.prod(s)) for s in shapes]
    n_dim = sum(sizes)
    x = pt.TensorType("float64", shape=(n_dim,))(name="_unconstrained_point")
    replacements, offset = {}, 0
    for var, shape, size in zip(value_vars, shapes, sizes, strict=True):
        replacements[var] = x[offset : offset + size].reshape(shape).astype(var.dtype)
        offset += size
    logp, grad = pytensor.clone_replace([logp, grad], replacements)
    flat_rest = [pt.as_tensor(v).ravel() for v in remaining]
    with model:
        logp_fn = compile_pymc((x,), (logp, grad), mode="NUMBA")
        expand_fn = compile_pymc(
            (x,), [pt.concatenate([x, *flat_rest])], givens=list(replacements.items()), mode="NUMBA"
        )
        shape_fn = compile_pymc(
            (x,),
            [pt.as_tensor(v).shape for v in remaining],
            givens=list(replacements.items()),
            mode="FAST_COMPILE",
        )
    rest_shapes = [tuple(int(d) for d in s) for s in shape_fn(np.zeros(n_dim))] if remaining else []
    shared: dict[str, Any] = {}
    for var in [*logp_fn.get_shared(), *expand_fn.get_shared()]:
        if shared.setdefault(var.name, var) is not var:
            raise ValueError(f"two shared variables named {var.name}")
    meta = {
        "n_dim": n_dim,
        "n_expanded": n_dim + sum(int(np.prod(s)) for s in rest_shapes),
        "shared": [[name, str(var.type.dtype), int(var.type.ndim)] for name, var in shared.items()],
        "logp_args": [v.name for v in logp_fn.get_shared()],
        "expand_args": [v.name for v in expand_fn.get_shared()],
        "names": [v.name for v in value_vars] + [v.name for v in remaining],
        "shapes": [list(s) for s in shapes] + [list(s) for s in rest_shapes],
    }
    return meta, logp_fn.vm.jit_fn, expand_fn.vm.jit_fn

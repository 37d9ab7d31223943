"""nutpie's compiled-model object rebuilt around the cached callbacks (nutpie's internals).

Relies on ``nutpie.compile_pymc``'s ``CompiledPyMCModel`` fields, ``make_user_data`` and
``_prepare_dims_and_coords``, which nutpie 0.16.9 changed (hence the pin in pyproject.toml), and
reproduces nutpie's default start (``support_point`` plus U(-1, 1) jitter on the transformed
values): with PyMC's ``make_initial_point_fn``, or, where the support point does not depend on the
data, from the point the index stored (compiling PyMC's initial-point function costs ~0.4 s a process).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np


def _flat_point(model: Any, point: dict[str, Any]) -> np.ndarray:
    """A point of PyMC's (transformed values by name) as nutpie's flat float64 vector."""
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    return np.concatenate([np.asarray(point[n], dtype="float64").ravel() for n in names])


def initial_point_fn(model: Any) -> tuple[Any, list[tuple[int, ...]]]:
    """nutpie's default start as one flat float64 vector, and the free variables' shapes."""
    from pymc.initial_point import make_initial_point_fn

    fn = make_initial_point_fn(
        model=model,
        jitter_rvs=set(model.free_RVs),
        default_strategy="support_point",
        return_transformed=True,
    )
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    lock = threading.Lock()  # nutpie calls it from its chain threads

    def flat(seed: Any = None) -> np.ndarray:
        with lock:
            point = fn(seed)
        return _flat_point(model, point)

    point = fn(0)
    return flat, [tuple(int(d) for d in np.shape(point[n])) for n in names]


def static_shapes(model: Any) -> list[tuple[int, ...]] | None:
    """The free variables' shapes from their types, when every one is static."""
    shapes = [model.rvs_to_values[rv].type.shape for rv in model.free_RVs]
    if any(d is None for shape in shapes for d in shape):
        return None
    return [tuple(int(d) for d in shape) for shape in shapes]


def data_free_support_point(model: Any) -> list[float] | None:
    """nutpie's start before its jitter, flat, or None when it depends on the model's data (a prior
    on a ``pm.Data``), which a stored point would not follow."""
    from pymc.initial_point import make_initial_point_expression, make_initial_point_fn
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.random.type import RandomType

    expression = make_initial_point_expression(
        free_rvs=model.free_RVs,
        rvs_to_transforms=model.rvs_to_transforms,
        initval_strategies={},
        jitter_rvs=set(),
        default_strategy="support_point",
        return_transformed=True,
    )
    inputs = ancestors(expression)
    if any(isinstance(v, SharedVariable) and not isinstance(v.type, RandomType) for v in inputs):
        return None
    fn = make_initial_point_fn(
        model=model, jitter_rvs=set(), default_strategy="support_point", return_transformed=True
    )
    return _flat_point(model, fn(0)).tolist()


def jittered_start(support_point: list[float]) -> Any:
    """nutpie's default start from a stored support point: U(-1, 1) added, as PyMC's jitter does."""
    base = np.asarray(support_point, dtype="float64")

    def start(seed: Any = None) -> np.ndarray:
        return base + np.random.default_rng(seed).uniform(-1.0, 1.0, base.size)

    return start


def compiled_pymc_model(
    model: Any,
    meta: dict[str, Any],
    logp_cf: Any,
    expand_cf: Any,
    start: Any,
    names: list[str],
    shapes: list[tuple[int, ...]],
) -> Any:
    """nutpie's ``CompiledPyMCModel`` on the model's current data, calling ``logp_cf``/``expand_cf``."""
    from nutpie.compile_pymc import CompiledPyMCModel, _prepare_dims_and_coords, make_user_data

    shared_vars = {name: model[name] for name, _, _ in meta["shared"]}
    shared_data = {}
    for name, var in shared_vars.items():
        value = np.array(var.get_value(), order="C", copy=True)
        value.flags.writeable = False
        shared_data[name] = value
    user_data = make_user_data(shared_vars, shared_data)
    check_user_data_layout(user_data, meta, shared_data)
    all_names = list(meta["names"])
    all_shapes = [tuple(s) for s in meta["shapes"]]
    if all_names[: len(names)] != names or all_shapes[: len(shapes)] != shapes:
        raise ValueError("cached model does not match the model's free variables")
    slices, offset = [], 0
    for shape in all_shapes:
        size = int(np.prod(shape))
        slices.append(slice(offset, offset + size))
        offset += size
    shape_info = (all_names, slices, all_shapes)
    dims, coords = _prepare_dims_and_coords(model, shape_info)
    return CompiledPyMCModel(
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, shape in zip(all_names, all_shapes, strict=True)},
        compiled_logp_func=logp_cf,
        compiled_expand_func=expand_cf,
        initial_point_func=start,
        shared_data=shared_data,
        user_data=user_data,
        n_expanded=meta["n_expanded"],
        shape_info=shape_info,
        logp_func=None,
        expand_func=None,
        _n_dim=meta["n_dim"],
    )


def check_user_data_layout(
    user_data: np.ndarray, meta: dict[str, Any], shared_data: dict[str, np.ndarray]
) -> None:
    """nutpie's user-data record must hold the words the cached callbacks read, where they read them."""
    words = np.frombuffer(user_data.tobytes(), dtype=np.int64)
    expected = [shared_data[name].ctypes.data for name, _, _ in meta["shared"]]
    expected += [shared_data[name].size for name, _, _ in meta["shared"]]
    expected += [d for name, _, _ in meta["shared"] for d in shared_data[name].shape]
    if list(words) != expected:
        raise ValueError("nutpie's user-data layout is not the one the cached callbacks read")

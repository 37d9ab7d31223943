"""Make nutpie's compile in a fresh process cheaper: its wrappers at a low LLVM optimisation level.

nutpie wraps PyTensor's numba graph function in ``numba.cfunc`` wrappers that numba cannot cache, so
every fresh process compiles them, and LLVM re-optimises the whole linked module (the wrapper plus
the graph code it calls) at ``NUMBA_OPT`` (3). ``low_opt_wrappers`` lowers the level to 0 for the
wrappers only: every numba dispatcher compiled meanwhile (the graph code on a cache miss, numba's
helpers) still compiles at the default level, so the code that lands in the cache, and that samples,
stays optimised. A process-wide ``NUMBA_OPT=0`` would cache the graph unoptimised (one gradient
20.6 ms instead of 0.56 ms, measured). Measured on the race model (warm cache, load ~11, CPU
seconds): wrappers 12.5 -> 8.2 s, gradient evaluations per CPU second unchanged (3478-3845 -> 3925).

PyTensor keys its on-disk cache of the whole logp+gradient graph by the rewritten graph, and its
rewrites order commutative inputs and fuse elementwise ops in an order that depends on object ids, so
the same model gives a different graph key in each process. ``compile_nutpie_cached`` (the path
``fit`` takes) sidesteps both: it keys the finished, linked machine code of nutpie's two C callbacks
by a fingerprint of the graphs BEFORE any rewrite, which is the same in every process that builds the
same model. ``fast_nutpie_compile`` remains for the fallback to nutpie's own compile.

The patch is undone after the compile and does nothing when the numba internals it relies on are
missing (a numba upgrade).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

_LOCK = threading.Lock()  # the patch is process-wide


@contextlib.contextmanager
def fast_nutpie_compile() -> Iterator[None]:
    """The speed-up around one ``nutpie.compile_pymc_model`` call (one compile at a time)."""
    with _LOCK, low_opt_wrappers():
        yield


@contextlib.contextmanager
def low_opt_wrappers(level: int = 0) -> Iterator[None]:
    """LLVM optimisation ``level`` for code lowered outside any numba dispatcher compile.

    numba reads ``config.OPT`` each time it builds a pass manager, so setting it here changes the
    wrappers' optimisation; a dispatcher compile (including one nested in a wrapper's typing)
    switches back to the level numba started with. The target machine's code generation level was
    fixed at numba's start and is not touched.
    """
    try:
        from numba.core import config, dispatcher
    except ImportError:
        yield
        return
    default = config.OPT
    compile_method = dispatcher.Dispatcher.compile
    if not isinstance(default, int) or getattr(compile_method, "_nascar_default_opt", False):
        yield
        return

    def compile_at_default(self: Any, sig: Any) -> Any:
        saved = config.OPT
        config.OPT = default
        try:
            return compile_method(self, sig)
        finally:
            config.OPT = saved

    compile_at_default._nascar_default_opt = True  # type: ignore[attr-defined]
    dispatcher.Dispatcher.compile = compile_at_default
    config.OPT = type(default)(level) if type(default) is not int else level
    try:
        yield
    finally:
        config.OPT = default
        dispatcher.Dispatcher.compile = compile_method


# --- the whole compiled model from the on-disk cache -----------------------------------------------

_TEMPLATE_VERSION = "2"  # bump when the wrapper source below changes meaning


class _NotFingerprintable(ValueError):
    """A graph part has no process-independent description: such a model is not cached."""


class _NotCacheable(RuntimeError):
    """numba cannot store this process's compiled model (the caller compiles it the usual way)."""


def compile_nutpie_cached(
    model: Any, cache_dir: Any = None, *, compile_on_miss: bool = True
) -> tuple[Any, bool]:
    """nutpie's compiled model, whose machine code comes from disk when this model was seen before.

    nutpie compiles its C-callable wrappers (which link PyTensor's numba graph code) afresh in every
    process. Here the same wrappers are numba ``cfunc``s with ``cache=True``, filed under a key that
    is a fingerprint of the model's log-density and trace graphs before any rewrite: a process that
    builds the same model (same ops, shapes, constants, priors; the data are runtime inputs) loads
    the linked machine code and skips PyTensor's rewrites, PyTensor's graph compile and nutpie's
    wrapper compile. A miss compiles once at numba's default optimisation level and stores it.

    Returns ``(compiled, hit)``; ``(None, False)`` on a miss when not ``compile_on_miss``. Raises on
    anything unexpected; callers fall back to ``nutpie.compile_pymc_model``.
    """
    import json
    from pathlib import Path

    from numba.core.config import OPT

    if int(OPT) == 0:
        # at level 0 the linked module keeps a process address, so numba refuses to cache it: fail
        # fast instead of compiling the wrappers for nothing before the caller's fallback compiles
        raise _NotCacheable("NUMBA_OPT=0: numba cannot cache the compiled model at optimisation level 0")
    initial_point_fn, shapes = _initial_point_fn(model)
    value_vars = [model.rvs_to_values[rv] for rv in model.free_RVs]
    names = [v.name for v in value_vars]
    logp = model.logp()
    remaining = [v for v in model.unobserved_value_vars if v.name not in names]
    key = _fingerprint(model, [logp, *remaining], value_vars, shapes)
    if cache_dir is None:
        from pytensor.link.numba.cache import NUMBA_CACHE_PATH as cache_dir  # the cached code's dir
    side = Path(cache_dir) / f"nascar-nutpie-{key}.json"
    meta, hit = None, False
    if side.is_file():
        try:
            meta = json.loads(side.read_text())
            logp_cf, expand_cf = _wrappers(meta, key, None, None)
            hit = True
        except Exception:  # index unreadable, or its code gone or unreadable: compile again
            meta = None
    if meta is None and not compile_on_miss:
        return None, False
    if meta is None:
        meta, logp_cf, expand_cf = _compile_and_store(model, logp, value_vars, shapes, remaining, key)
        tmp = side.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(meta))
        tmp.replace(side)  # written last: a reader never sees an index whose code is missing
    return _compiled_model(model, meta, logp_cf, expand_cf, initial_point_fn, names, shapes), hit


def _initial_point_fn(model: Any) -> tuple[Any, list[tuple[int, ...]]]:
    """nutpie's default start: support point plus U(-1, 1) jitter, as one flat float64 vector."""
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
        return np.concatenate([np.asarray(point[n], dtype="float64").ravel() for n in names])

    point = fn(0)
    return flat, [tuple(int(d) for d in np.shape(point[n])) for n in names]


def _fingerprint(model: Any, outputs: list[Any], value_vars: list[Any], shapes: list[tuple[int, ...]]) -> str:
    """SHA-256 of the graphs' structure: ops with their parameters, types, constants' bytes, names."""
    import hashlib
    import importlib.metadata as md

    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.configdefaults import config
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import toposort

    h = hashlib.sha256()
    versions = [md.version(p) for p in ("pytensor", "pymc", "numba", "llvmlite", "nutpie", "numpy")]
    from numba.core.config import OPT  # the level the cached code was optimised at

    settings = (_TEMPLATE_VERSION, versions, bool(config.numba__fastmath), str(OPT), model.check_bounds)
    h.update(repr(settings).encode())
    h.update(repr([(v.name, s) for v, s in zip(value_vars, shapes, strict=True)]).encode())
    ids: dict[Any, int] = {}

    def ref(var: Any) -> int:
        if var not in ids:
            if isinstance(var, Constant):
                desc: tuple[Any, ...] = ("const", _type_key(var.type), _value_key(var.data))
            elif isinstance(var, SharedVariable):
                desc = ("shared", var.name, _type_key(var.type))
            elif var.owner is None:
                desc = ("input", var.name, _type_key(var.type))
            else:
                raise _NotFingerprintable(f"{var} reached before its node")
            ids[var] = len(ids)
            h.update(repr(desc).encode())
        return ids[var]

    for node in toposort(outputs):
        inputs = [ref(i) for i in node.inputs]
        h.update(repr((_value_key(node.op), inputs, [_type_key(o.type) for o in node.outputs])).encode())
        for out in node.outputs:
            ids[out] = len(ids)
    h.update(repr([ref(o) for o in outputs]).encode())
    return h.hexdigest()


@functools.cache
def _source_stamp(module: str) -> str:
    """Hash of the source of a project-defined op's module (its kernel is not in its parameters).

    PyTensor's and PyMC's ops are covered by their versions in the key.
    """
    import hashlib
    import sys

    if module.split(".")[0] in ("pytensor", "pymc", "numpy", "builtins"):
        return ""
    path = getattr(sys.modules.get(module), "__file__", None)
    if path is None:
        raise _NotFingerprintable(f"no source file for op module {module}")
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _type_key(t: Any) -> tuple[Any, ...]:
    return (type(t).__module__, type(t).__qualname__, str(getattr(t, "dtype", "")), str(t))


def _value_key(v: Any) -> Any:
    """A description of an op parameter or constant that is the same in every process."""
    import hashlib

    if v is None or isinstance(v, bool | int | float | str | np.dtype):
        return repr(v)
    if isinstance(v, np.ndarray | np.generic):
        a = np.ascontiguousarray(v)
        return ("array", a.dtype.str, a.shape, hashlib.sha256(a.tobytes()).hexdigest())
    if isinstance(v, tuple | list):
        return tuple(_value_key(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((repr(k), _value_key(x)) for k, x in v.items()))
    if isinstance(v, type) or (callable(v) and hasattr(v, "__qualname__") and not hasattr(v, "__props__")):
        return (getattr(v, "__module__", ""), v.__qualname__)
    props = getattr(type(v), "__props__", None)
    if props is not None:
        params = tuple(_value_key(getattr(v, p)) for p in props)
        return (type(v).__module__, type(v).__qualname__, params, _source_stamp(type(v).__module__))
    text = repr(v)
    if " at 0x" in text or "object at" in text:
        raise _NotFingerprintable(f"no stable description for {type(v).__qualname__}: {text[:80]}")
    return (type(v).__module__, type(v).__qualname__, text)


def _compile_and_store(
    model: Any,
    logp: Any,
    value_vars: list[Any],
    shapes: list[tuple[int, ...]],
    remaining: list[Any],
    key: str,
) -> tuple[dict[str, Any], Any, Any]:
    """PyTensor's numba functions for logp+gradient and the trace, then the cached wrappers."""
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
    replacements, start = {}, 0
    for var, shape, size in zip(value_vars, shapes, sizes, strict=True):
        replacements[var] = x[start : start + size].reshape(shape).astype(var.dtype)
        start += size
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
    logp_cf, expand_cf = _wrappers(meta, key, logp_fn.vm.jit_fn, expand_fn.vm.jit_fn)
    return meta, logp_cf, expand_cf


_LOGP_SOURCE = """
def nascar_nutpie_logp(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
{arrays}
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_dim},))
        logp = numba.carray(logp_, ())
        value, grad = inner(x, {args})
        logp[()] = value
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(value):
            return 4
    except Exception:
        return 1
    return 0
"""

_EXPAND_SOURCE = """
def nascar_nutpie_expand(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim} or expanded != {n_expanded}:
        return -1
    try:
{arrays}
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_expanded},))
        (values,) = inner(x, {args})
        out[...] = values
    except Exception:
        return -2
    return 0
"""


def _wrappers(meta: dict[str, Any], key: str, logp_inner: Any, expand_inner: Any) -> tuple[Any, Any]:
    """The C callbacks nutpie calls, as numba cfuncs cached under ``key`` plus a hash of ``meta``.

    The user data is nutpie's record (``make_user_data``): per shared array its address, then its
    size, then its shape, all 8-byte words in ``meta["shared"]`` order. With ``*_inner`` None the
    code must come from the cache (compiling would fail on the missing function).
    """
    import hashlib
    import json

    import numba
    from pytensor.link.numba.cache import compile_numba_function_src

    shared = meta["shared"]
    n = len(shared)
    words = 2 * n + sum(ndim for _, _, ndim in shared)
    lines, offset, position = [f"        words = numba.carray(user_data_, ({words},), np.int64)"], 2 * n, {}
    for i, (name, dtype, ndim) in enumerate(shared):
        dims = "".join(f"words[{offset + j}], " for j in range(ndim))
        lines.append(
            f"        a{i} = numba.carray(_void_ptr(words[{i}]), ({dims}), np.{np.dtype(dtype).name})"
        )
        position[name] = i
        offset += ndim
    arrays = "\n".join(lines)
    salt = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]
    out = []
    for source, kind, inner, args in (
        (_LOGP_SOURCE, "logp", logp_inner, meta["logp_args"]),
        (_EXPAND_SOURCE, "expand", expand_inner, meta["expand_args"]),
    ):
        call = ", ".join(f"a{position[name]}" for name in args)
        text = source.format(n_dim=meta["n_dim"], n_expanded=meta["n_expanded"], arrays=arrays, args=call)
        name = f"nascar_nutpie_{kind}"
        env = {"__name__": __name__, "numba": numba, "np": np, "inner": inner, "_void_ptr": _void_ptr}
        fn = compile_numba_function_src(text, name, global_env=env, cache_key=f"{key}-{salt}-{kind}")
        sig = _logp_sig() if kind == "logp" else _expand_sig()
        out.append(_cached_cfunc(sig, fn, compiling=inner is not None))
    return out[0], out[1]


def _cached_cfunc(sig: Any, fn: Any, compiling: bool) -> Any:
    """``numba.cfunc(sig, cache=True)(fn)``; on a miss the wrapper's own module at LLVM level 1.

    The graph code it links is compiled (and cached) by its dispatchers at the default level, so
    the level of the wrapper's module barely matters for speed, and level 1 roughly halves the cold
    compile. Level 0 would leave an unused reference to a process address in the module, which
    numba refuses to cache; if a level ever does that, the default level is used instead.
    """
    import numba

    levels = (1, None) if compiling else (None,)
    for level in levels:
        try:
            with _LOCK, warnings.catch_warnings():
                warnings.simplefilter("error", numba.NumbaWarning)  # "cannot cache": fail, do not pretend
                with low_opt_wrappers(level) if level is not None else contextlib.nullcontext():
                    return numba.cfunc(sig, cache=True)(fn)
        except numba.NumbaWarning:
            if level is None:
                raise
    raise AssertionError("unreachable")


def _logp_sig() -> Any:
    from numba import types

    return types.int64(
        types.uint64,
        types.CPointer(types.double),
        types.CPointer(types.double),
        types.CPointer(types.double),
        types.voidptr,
    )


def _expand_sig() -> Any:
    from numba import types

    return types.int64(
        types.uint64, types.uint64, types.CPointer(types.double), types.CPointer(types.double), types.voidptr
    )


def _make_void_ptr() -> Any:
    try:
        from numba.core import cgutils, types
        from numba.extending import intrinsic
    except ImportError:
        return None

    @intrinsic
    def void_ptr(typingctx: Any, address: Any) -> Any:
        """An address (int64 word of nutpie's user data) as a void pointer."""

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.inttoptr(args[0], cgutils.voidptr_t)

        return types.voidptr(address), codegen

    return void_ptr


_void_ptr = _make_void_ptr()


def _compiled_model(
    model: Any,
    meta: dict[str, Any],
    logp_cf: Any,
    expand_cf: Any,
    initial_point_fn: Any,
    names: list[str],
    shapes: list[tuple[int, ...]],
) -> Any:
    from nutpie.compile_pymc import CompiledPyMCModel, _prepare_dims_and_coords, make_user_data

    shared_vars = {name: model[name] for name, _, _ in meta["shared"]}
    shared_data = {}
    for name, var in shared_vars.items():
        value = np.array(var.get_value(), order="C", copy=True)
        value.flags.writeable = False
        shared_data[name] = value
    user_data = make_user_data(shared_vars, shared_data)
    _check_layout(user_data, meta, shared_data)
    all_names = list(meta["names"])
    all_shapes = [tuple(s) for s in meta["shapes"]]
    if all_names[: len(names)] != names or all_shapes[: len(shapes)] != shapes:
        raise ValueError("cached model does not match the model's free variables")
    slices, start = [], 0
    for shape in all_shapes:
        size = int(np.prod(shape))
        slices.append(slice(start, start + size))
        start += size
    shape_info = (all_names, slices, all_shapes)
    dims, coords = _prepare_dims_and_coords(model, shape_info)
    return CompiledPyMCModel(
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, shape in zip(all_names, all_shapes, strict=True)},
        compiled_logp_func=logp_cf,
        compiled_expand_func=expand_cf,
        initial_point_func=initial_point_fn,
        shared_data=shared_data,
        user_data=user_data,
        n_expanded=meta["n_expanded"],
        shape_info=shape_info,
        logp_func=None,
        expand_func=None,
        _n_dim=meta["n_dim"],
    )


def _check_layout(user_data: np.ndarray, meta: dict[str, Any], shared_data: dict[str, np.ndarray]) -> None:
    """nutpie's user-data record must hold the words the cached wrappers read, where they read them."""
    words = np.frombuffer(user_data.tobytes(), dtype=np.int64)
    expected = [shared_data[name].ctypes.data for name, _, _ in meta["shared"]]
    expected += [shared_data[name].size for name, _, _ in meta["shared"]]
    expected += [d for name, _, _ in meta["shared"] for d in shared_data[name].shape]
    if list(words) != expected:
        raise ValueError("nutpie's user-data layout is not the one the cached wrappers read")

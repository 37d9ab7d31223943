"""The two C callbacks nutpie calls (log-density with gradient, and the trace expansion).

They are numba ``cfunc``s with ``cache=True`` whose source is generated per model layout and filed
through PyTensor's ``compile_numba_function_src`` under the model's fingerprint, so numba itself
stores and reloads the linked machine code (the callback plus the PyTensor graph code it calls).
Relies on numba's ``cfunc(cache=True)``, ``carray`` and ``extending.intrinsic``, on PyTensor's
``pytensor.link.numba.cache.compile_numba_function_src``, and on nutpie's callback signatures and
user-data record (checked when the model is rebuilt: ``nutpie_model.check_user_data_layout``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import warnings
from typing import Any

import numpy as np

from nascar_dfs.core.model.compile_cache.llvm_level import LOCK, low_opt_wrappers

TEMPLATE_VERSION = "2"  # bump when the callback source below changes meaning

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


def build_callbacks(meta: dict[str, Any], key: str, logp_inner: Any, expand_inner: Any) -> tuple[Any, Any]:
    """The logp and expand cfuncs, cached under ``key`` plus a hash of ``meta``.

    The user data is nutpie's record (``make_user_data``): per shared array its address, then its
    size, then its shape, all 8-byte words in ``meta["shared"]`` order. With ``*_inner`` None the
    code must come from the cache (compiling would fail on the missing function).
    """
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
    """``numba.cfunc(sig, cache=True)(fn)``; on a miss the callback's own module at LLVM level 1.

    The graph code it links is compiled (and cached) by its dispatchers at the default level, so
    the level of the callback's module barely matters for speed, and level 1 roughly halves the cold
    compile. Level 0 would leave an unused reference to a process address in the module, which
    numba refuses to cache; if a level ever does that, the default level is used instead.
    """
    import numba

    levels = (1, None) if compiling else (None,)
    for level in levels:
        try:
            with LOCK, warnings.catch_warnings():
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

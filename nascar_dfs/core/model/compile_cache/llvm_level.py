"""nutpie's own compile with its wrappers at a low LLVM optimisation level (numba's internals).

Relies on numba reading ``numba.core.config.OPT`` each time it builds a pass manager and on
``numba.core.dispatcher.Dispatcher.compile`` being the one entry of every dispatcher compile. When
either is missing (a numba upgrade) the context managers do nothing. The tests under
``nascar_dfs_tests/core/model/compile_cache/`` check both against each supported numba.

nutpie wraps PyTensor's numba graph function in ``numba.cfunc`` wrappers that numba cannot cache, so
every fresh process compiles them, and LLVM re-optimises the whole linked module (the wrapper plus
the graph code it calls) at ``NUMBA_OPT`` (3). ``low_opt_wrappers`` lowers the level for the wrappers
only: every numba dispatcher compiled meanwhile (the graph code on a cache miss, numba's helpers)
still compiles at the default level, so the code that lands in the cache, and that samples, stays
optimised. A process-wide ``NUMBA_OPT=0`` would cache the graph unoptimised (one gradient 20.6 ms
instead of 0.56 ms, measured). Measured on the race model (warm cache, load ~11, CPU seconds):
wrappers 12.5 -> 8.2 s, gradient evaluations per CPU second unchanged (3478-3845 -> 3925).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

LOCK = threading.Lock()  # the patch is process-wide: one compile under it at a time


@contextlib.contextmanager
def fast_nutpie_compile() -> Iterator[None]:
    """The speed-up around one ``nutpie.compile_pymc_model`` call (one compile at a time)."""
    with LOCK, low_opt_wrappers():
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

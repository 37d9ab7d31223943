"""A compiled nutpie model in a fresh process in about a second instead of minutes of LLVM.

The parts, each named for the library internals it relies on (and tested against each supported
version range by ``nascar_dfs_tests/core/model/compile_cache/test_version_ranges.py``):

- ``store``: the entry point, ``compile_nutpie_cached``, and its on-disk index.
- ``fingerprint``: a key for the model's graphs that every process computes alike (PyTensor's graph).
- ``callbacks``: nutpie's two C callbacks as numba cfuncs cached by numba (numba, PyTensor's numba
  linker).
- ``nutpie_model``: nutpie's compiled-model object rebuilt around them (nutpie's internals).
- ``llvm_level``: the fallback, nutpie's own compile with its wrappers at a low LLVM level (numba's
  internals).

Importing this package loads numba (``callbacks``); the fit imports it only inside its functions.
"""

from nascar_dfs.core.model.compile_cache.llvm_level import fast_nutpie_compile
from nascar_dfs.core.model.compile_cache.store import NotCacheable, compile_nutpie_cached

__all__ = ["NotCacheable", "compile_nutpie_cached", "fast_nutpie_compile"]

"""The wrapper optimisation level is lowered only for code compiled outside numba dispatchers."""

from __future__ import annotations

import numba
import pytest
from numba.core import config, dispatcher

from nascar_dfs.core.model.compile_cache import fast_nutpie_compile


@pytest.fixture
def dispatcher_levels(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The optimisation level every dispatcher compile ran at."""
    levels: list[int] = []
    compile_method = dispatcher.Dispatcher.compile

    def recording(self, sig):
        levels.append(int(config.OPT))
        return compile_method(self, sig)

    monkeypatch.setattr(dispatcher.Dispatcher, "compile", recording)
    return levels


def test_wrappers_at_level_0_dispatchers_at_the_default_level(
    dispatcher_levels: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # scripts/test.sh runs the suite at NUMBA_OPT=0, where "default" and "lowered" would coincide.
    monkeypatch.setattr(config, "OPT", type(config.OPT)(3))
    default = 3
    patched = dispatcher.Dispatcher.compile

    @numba.njit
    def add(a, b):
        return a + b

    with fast_nutpie_compile():
        wrapper_level = int(config.OPT)

        @numba.cfunc("float64(float64, float64)")
        def wrapper(a, b):
            return add(a, b) * 2.0

    assert wrapper_level == 0
    assert dispatcher_levels and set(dispatcher_levels) == {default}  # add() compiled inside the wrapper
    assert wrapper.ctypes(1.0, 2.0) == 6.0
    assert int(config.OPT) == default
    assert dispatcher.Dispatcher.compile is patched


def test_restored_when_the_compile_fails() -> None:
    default = int(config.OPT)
    original = dispatcher.Dispatcher.compile
    with pytest.raises(RuntimeError), fast_nutpie_compile():
        raise RuntimeError("compile failed")
    assert int(config.OPT) == default
    assert dispatcher.Dispatcher.compile is original

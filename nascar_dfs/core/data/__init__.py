"""The data layer: validated race history, DraftKings files, NASCAR feeds, the synthetic demo set.

The names below load on first use: a command that reads only a DraftKings file (`nascar-dfs
optimize`) imports `nascar_dfs.core.data.draftkings`, and with it this package, without paying for
the history loader and the entry list (which pull in the scenario kernel).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nascar_dfs.core.data.entry_list import field_from_history, field_from_slate
    from nascar_dfs.core.data.errors import DataValidationError
    from nascar_dfs.core.data.history import RaceHistory, RaceInfo, load_history

_MODULE_OF = {
    "DataValidationError": "nascar_dfs.core.data.errors",
    "RaceHistory": "nascar_dfs.core.data.history",
    "RaceInfo": "nascar_dfs.core.data.history",
    "load_history": "nascar_dfs.core.data.history",
    "field_from_history": "nascar_dfs.core.data.entry_list",
    "field_from_slate": "nascar_dfs.core.data.entry_list",
}

__all__ = [
    "DataValidationError",
    "RaceHistory",
    "RaceInfo",
    "field_from_history",
    "field_from_slate",
    "load_history",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)

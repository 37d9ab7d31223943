"""The data layer: validated race history, DraftKings files, NASCAR feeds, the synthetic demo set."""

from nascar_dfs.core.data.entry_list import field_from_history, field_from_slate
from nascar_dfs.core.data.errors import DataValidationError
from nascar_dfs.core.data.history import RaceHistory, RaceInfo, load_history

__all__ = [
    "DataValidationError",
    "RaceHistory",
    "RaceInfo",
    "field_from_history",
    "field_from_slate",
    "load_history",
]

"""The race model: hierarchical Plackett-Luce finishing order + DNF process, fitted per target race.

Importing this package does not import PyMC/PyTensor (``configure_compile_cache`` must run first).
"""

from nascar_dfs.core.model.fit import (
    CompileCacheError,
    FitConfig,
    FitError,
    configure_compile_cache,
    fit_model,
)
from nascar_dfs.core.model.fitted import FitDiagnostics, FittedModel
from nascar_dfs.core.model.types import FieldParams

__all__ = [
    "CompileCacheError",
    "FieldParams",
    "FitConfig",
    "FitDiagnostics",
    "FitError",
    "FittedModel",
    "configure_compile_cache",
    "fit_model",
]

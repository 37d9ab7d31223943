"""What one API process shares beyond its settings: the clock it reads and its run-time flags."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Injected, so tests move time instead of sleeping.
Clock = Callable[[], float]


@dataclass
class Lifecycle:
    """The process's mutable flags (everything else in the app context is fixed once built)."""

    shutting_down: bool = False

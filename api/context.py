"""Per-application state shared by routes, middleware and the background worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from api.core.config import Settings
from api.orchestration.launcher import Launcher

if TYPE_CHECKING:
    from api.observability.health import HealthChecker
    from api.observability.metrics import Metrics
    from api.orchestration.race_catalogue import RaceCatalogue

Clock = Callable[[], float]


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    launcher: Launcher
    clock: Clock = time.time
    metrics: Metrics | None = None
    health: HealthChecker | None = None
    races: RaceCatalogue | None = None
    shutting_down: bool = False
    extras: dict[str, object] = field(default_factory=dict)

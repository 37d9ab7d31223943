"""uvicorn factory for subprocess tests: the real app with the fake launcher and test routes."""

from __future__ import annotations

from api.app import create_app
from api.core.config import Settings
from api.orchestration.launcher import FakeLauncher

from .conftest import RACE


def make_app():  # type: ignore[no-untyped-def]
    return create_app(Settings(test_routes=True), launcher=FakeLauncher(races=[RACE]))

"""uvicorn factory for subprocess tests: the real app with the fake launcher and test routes."""

from __future__ import annotations

from api.app import create_app
from api.core.config import Settings

from .conftest import RACE
from .fakes import FakeLauncher
from .fault_routes import add_fault_routes


def make_app():  # type: ignore[no-untyped-def]
    return add_fault_routes(create_app(Settings(), launcher=FakeLauncher(races=[RACE])))

"""Fixtures for the API: a fresh SQLite database per test, a fake Dagster launcher, a settable
clock, and API keys created through the same code path as the CLI."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.core.config import Settings
from api.orchestration.worker import Worker
from api.services.keys import create_key
from api.services.slates import slates_dir
from nascar_dfs.core.data.demo import DEMO_DIR
from nascar_dfs.platform.slate_store import save_slate

from .fakes import FakeLauncher
from .fault_routes import add_fault_routes

RACE = "2024-cup-phoenix-2"
OTHER_RACE = "2024-cup-daytona-1"
DEMO_SLATE = (DEMO_DIR / "DKSalaries.csv").read_bytes()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "dagster_e2e: runs against a real Dagster instance (webserver + daemon)"
    )
    config.addinivalue_line(
        "markers", "contract_cli: the schemathesis CLI against a loopback server (run after the suite)"
    )


class Clock:
    """Injected time: tests move it instead of sleeping."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Api:
    client: TestClient
    launcher: FakeLauncher
    clock: Clock
    settings: Settings
    app: object

    @property
    def ctx(self):  # type: ignore[no-untyped-def]
        return self.app.state.ctx  # type: ignore[attr-defined]

    @property
    def worker(self) -> Worker:
        return self.ctx.worker

    def key(self, owner: str = "alice", scope: str = "user") -> dict[str, str]:
        issued = create_key(self.ctx.engine, owner, scope, self.clock())
        return {"Authorization": f"Bearer {issued.secret_key}"}


def database_url(tmp_path: Path) -> str:
    # A folder of its own, so a test can take the database away (test_health_metrics.py).
    return f"sqlite:///{tmp_path / 'db' / 'api.db'}"


@pytest.fixture
def make_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Api]]:
    # The race graph is the embedded one unless a test points NEO4J_URI somewhere itself: readiness
    # here must not hang on the latency of whatever Neo4j server the shell happens to name.
    monkeypatch.delenv("NEO4J_URI", raising=False)
    # The platform's storage root, where uploaded slates land (nascar_dfs/platform/storage.py).
    monkeypatch.setenv("NASCAR_DFS_STORAGE", str(tmp_path / "storage"))
    opened: list[TestClient] = []

    def _make(
        launcher: FakeLauncher | None = None,
        clock: Clock | None = None,
        database: str | None = None,
        slates: bool = True,
        **overrides: object,
    ) -> Api:
        values: dict[str, object] = {
            "database_url": database or database_url(tmp_path),
            "background_worker": False,
            "webhook_secret": "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            # Tests scrape, act and scrape again; the ones about the cache set their own TTL.
            "metrics_cache_s": 0.0,
        }
        values.update(overrides)
        settings = Settings(**values)  # type: ignore[arg-type]
        if slates:
            # A lineup request needs its race's slate (409 slate-missing otherwise): the races the
            # tests submit for have the demo slate, stored as an upload would store it.
            for race in (RACE, OTHER_RACE):
                save_slate(slates_dir(), race, DEMO_SLATE)
        launcher = launcher or FakeLauncher(races=[RACE, OTHER_RACE])
        clock = clock or Clock()
        app = add_fault_routes(create_app(settings, launcher=launcher, clock=clock))
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return Api(client, launcher, clock, settings, app)

    yield _make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture
def pg_dsn() -> str:
    dsn = os.environ.get("NASCAR_DFS_TEST_PG_DSN")
    if not dsn:
        pytest.skip(
            'NASCAR_DFS_TEST_PG_DSN is unset: run `eval "$(bash scripts/services/postgres.sh start)"`'
        )
    return dsn

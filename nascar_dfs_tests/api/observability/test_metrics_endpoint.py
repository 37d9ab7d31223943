"""/metrics when Dagster storage is down or slow, under a scrape storm, and across the worker
processes of one server (Prometheus multiprocess mode)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from nascar_dfs_tests.reliability.servers import wait_ready

from ..conftest import OTHER_RACE, RACE
from ..dagster_stack import REPO, free_port
from ..fakes import FakeLauncher


class StorageDown(RuntimeError):
    pass


class UnreadableInstance:
    """A Dagster instance whose storage refuses every read, or answers only after `delay_s`."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.reads = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.reads += 1
            if self.delay_s:
                time.sleep(self.delay_s)
            raise StorageDown(f"could not connect to the run storage ({name})")

        return call


class LauncherOn(FakeLauncher):
    def __init__(self, instance: Any) -> None:
        super().__init__(races=[RACE, OTHER_RACE])
        self._instance = instance

    @property
    def instance(self) -> Any:
        return self._instance


def _value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value
    return None


def test_metrics_answer_with_dagster_storage_down(make_api) -> None:  # type: ignore[no-untyped-def]
    launcher = LauncherOn(UnreadableInstance())
    launcher.down = True  # the readiness check of Dagster storage fails too
    api = make_api(launcher=launcher, metrics_cache_s=0)
    api.client.get("/v1/races")

    resp = api.client.get("/metrics")

    assert resp.status_code == 200
    assert _value(resp.text, "dfs_dependency_up", dependency="dagster-storage") == 0
    assert _value(resp.text, "dfs_dependency_up", dependency="database") == 1
    # The API's own series are all there; none of the Dagster ones is invented.
    assert _value(resp.text, "http_requests_total", handler="/v1/races") == 1
    assert _value(resp.text, "dfs_lineup_requests_submitted_total") == 0
    assert "dfs_dagster_runs" not in resp.text and "dfs_calibration_model_crps" not in resp.text


def test_a_failed_dagster_read_reports_storage_down_even_when_its_ping_passed(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(launcher=LauncherOn(UnreadableInstance()), metrics_cache_s=0)
    text = api.client.get("/metrics").text
    assert _value(text, "dfs_dependency_up", dependency="dagster-storage") == 0


def test_slow_dagster_storage_does_not_hold_the_scrape(make_api) -> None:  # type: ignore[no-untyped-def]
    instance = UnreadableInstance(delay_s=5.0)
    api = make_api(launcher=LauncherOn(instance), metrics_cache_s=0, metrics_dagster_timeout_s=0.2)
    resp = api.client.get("/metrics")
    assert resp.status_code == 200
    assert _value(resp.text, "dfs_dependency_up", dependency="dagster-storage") == 0
    # The overrunning read is not started again by the next scrape: it is still the one pending.
    api.client.get("/metrics")
    assert instance.reads == 1


def test_a_scrape_storm_reads_dagster_once(make_api) -> None:  # type: ignore[no-untyped-def]
    instance = UnreadableInstance()
    api = make_api(launcher=LauncherOn(instance), metrics_cache_s=60)
    codes: list[int] = []

    def scrape() -> None:
        codes.append(api.client.get("/metrics").status_code)

    threads = [threading.Thread(target=scrape) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 30
    assert api.ctx.metrics.dagster.refreshes == 1 and instance.reads == 1


def test_fake_launcher_exports_readiness_but_no_dagster_series(api) -> None:  # type: ignore[no-untyped-def]
    text = api.client.get("/metrics").text
    assert _value(text, "dfs_dependency_up", dependency="dagster-storage") == 1
    assert "dfs_dagster_runs" not in text


def test_counters_add_up_across_two_worker_processes(tmp_path: Path) -> None:
    """A real uvicorn with 2 workers: every scrape, whichever worker answers it, counts the
    requests both workers served."""
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "NASCAR_DFS_API_DATABASE_URL": f"sqlite:///{tmp_path / 'api.db'}",
        "NASCAR_DFS_API_RATE_LIMITS_ENABLED": "false",
        "NASCAR_DFS_API_BACKGROUND_WORKER": "false",
    }
    # Create the API's tables once, before two workers race to migrate an empty SQLite file.
    subprocess.run(
        [sys.executable, "-c", "from api.core.db import create_db_engine, migrate; import sys, time; "
         "migrate(create_db_engine(sys.argv[1]), time.time())", env["NASCAR_DFS_API_DATABASE_URL"]],
        env=env, cwd=REPO, check=True, timeout=120,
    )  # fmt: skip
    log = tmp_path / "uvicorn.log"
    cmd = [
        sys.executable, "-m", "uvicorn", "nascar_dfs_tests.api.server_app:make_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
    ]  # fmt: skip
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, log, timeout_s=120)
        sent = 80
        for _ in range(sent):
            # A new connection each time, so the kernel spreads them over both workers.
            assert httpx.get(f"{base}/v1/races", timeout=10).status_code == 401
        scrapes = [httpx.get(f"{base}/metrics", timeout=10).text for _ in range(8)]
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    workers = {m.group(1) for m in (re.match(r"counter_(\d+)\.db", p.name) for p in multiproc.iterdir()) if m}
    assert len(workers) == 2, f"requests were not served by both workers: {sorted(workers)}"
    for text in scrapes:
        assert _value(text, "http_requests_total", handler="/v1/races", status="4xx") == sent
        assert text.count("# TYPE http_requests_total counter") == 1
        assert text.count("# TYPE dfs_lineup_requests_submitted_total counter") == 1

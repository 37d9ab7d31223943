"""Graceful shutdown of a real uvicorn process (api.md §7 test 1)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from nascar_dfs_tests.reliability.servers import start_api

pytestmark = pytest.mark.slow


def test_sigterm_drains_the_in_flight_request_and_exits_cleanly(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    api = start_api(f"sqlite:///{tmp_path / 'api.db'}", log_path, graceful_s=5)
    proc, base = api.proc, api.base_url
    try:
        result: dict[str, int] = {}

        def slow() -> None:
            result["status"] = httpx.get(f"{base}/_test/sleep", params={"seconds": 3}, timeout=10).status_code

        worker = threading.Thread(target=slow)
        worker.start()
        time.sleep(1.0)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            late = httpx.get(f"{base}/livez", timeout=1).status_code
        except httpx.HTTPError:
            late = None  # refused: the listener is closed
        worker.join(10)
        code = proc.wait(10)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert result.get("status") == 200
    assert late in (None, 503)
    # uvicorn re-raises the captured SIGTERM after its graceful shutdown, so the exit status says
    # "terminated by SIGTERM" rather than 0; what matters is that it drained and exited in time.
    assert code in (0, -signal.SIGTERM) and elapsed < 5 + 2
    assert "api lifespan shutdown complete" in log_path.read_text()

"""The test-only phase gate: inert without its variable, holds while the hold file exists."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from nascar_dfs.defs import phase_gate


def test_without_the_variable_nothing_is_written_or_waited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(phase_gate.GATE_DIR_ENV, raising=False)
    (tmp_path / "simulating.hold").touch()
    phase_gate.hold("simulating")  # returns at once although a hold file exists somewhere
    assert sorted(p.name for p in tmp_path.iterdir()) == ["simulating.hold"]


def test_holds_until_released_and_reports_its_pid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(phase_gate.GATE_DIR_ENV, str(tmp_path))
    (tmp_path / "optimizing.hold").touch()
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (phase_gate.hold("optimizing"), done.set()))
    waiter.start()
    deadline = time.monotonic() + 10
    while not (tmp_path / "optimizing.reached").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "optimizing.reached").read_text().strip() == str(os.getpid())
    assert not done.wait(0.3)  # still held
    (tmp_path / "optimizing.hold").unlink()
    assert done.wait(5)
    waiter.join(5)


def test_unknown_phase_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(phase_gate.GATE_DIR_ENV, str(tmp_path))
    with pytest.raises(ValueError, match="unknown phase"):
        phase_gate.hold("sleeping")

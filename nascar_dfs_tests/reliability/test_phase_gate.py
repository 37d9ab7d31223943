"""Phase hooks: the platform's own holds nothing; the tests' gate holds while the hold file exists."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from nascar_dfs.platform.hooks import PhaseHooks
from nascar_dfs_tests.reliability.phase_gate import GATE_DIR_ENV, GatedPhaseHooks


def test_the_platform_hook_writes_and_waits_for_nothing_even_with_the_gate_variable_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(GATE_DIR_ENV, str(tmp_path))
    (tmp_path / "simulating.hold").touch()
    PhaseHooks().reached("simulating")  # returns at once although a hold file exists
    assert sorted(p.name for p in tmp_path.iterdir()) == ["simulating.hold"]


def test_holds_until_released_and_reports_its_pid(tmp_path: Path) -> None:
    hooks = GatedPhaseHooks(gate_dir=str(tmp_path))
    (tmp_path / "optimizing.hold").touch()
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (hooks.reached("optimizing"), done.set()))
    waiter.start()
    deadline = time.monotonic() + 10
    while not (tmp_path / "optimizing.reached").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "optimizing.reached").read_text().strip() == str(os.getpid())
    assert not done.wait(0.3)  # still held
    (tmp_path / "optimizing.hold").unlink()
    assert done.wait(5)
    waiter.join(5)


@pytest.mark.parametrize("hooks", [PhaseHooks(), GatedPhaseHooks(gate_dir=".")], ids=["platform", "gate"])
def test_unknown_phase_is_refused(hooks: PhaseHooks) -> None:
    with pytest.raises(ValueError, match="unknown phase"):
        hooks.reached("sleeping")

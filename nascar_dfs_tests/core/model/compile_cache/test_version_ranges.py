"""The compile cache's tests at both ends of each supported range of the libraries it reaches into.

The cache relies on internals of nutpie (``nutpie_model``), numba (``callbacks``, ``llvm_level``) and
PyTensor (``fingerprint``, ``callbacks``); pyproject.toml's ranges for them are the ones listed here.
Each case installs the named versions (from the package index, without their dependencies) into a
directory put ahead of the environment's packages, checks that they are the ones imported, then runs
the cache's own tests in that interpreter: store in one process, load in another, the model's logp
and gradient, nutpie sampling the rebuilt model, and the LLVM-level patch. The newest end of each
range is what a fresh install resolves, which the default suite runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nascar_dfs

pytestmark = [pytest.mark.slow, pytest.mark.version_ranges]

REPO = Path(nascar_dfs.__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
CACHE_TESTS = [str(HERE / "test_store.py"), str(HERE / "test_llvm_level.py")]

# The oldest versions the ranges in pyproject.toml admit on NumPy 2.x (PyTensor needs it): nutpie
# 0.16.5, the first to sample on pandas 3; numba 0.64.0, the first to allow NumPy 2.4 (with its
# llvmlite); PyMC 5.27, the first on a PyTensor (2.37) whose numba linker has the on-disk cache the
# callbacks are filed through.
OLDEST = {
    "nutpie 0.16.5": {"nutpie": "0.16.5"},
    "numba 0.64.0": {"numba": "0.64.0", "llvmlite": "0.46.0"},
    "pymc 5.27.1 with pytensor 2.37.0": {"pymc": "5.27.1", "pytensor": "2.37.0"},
}


def _installed(pins: dict[str, str]) -> Path:
    """A directory holding exactly ``pins``, installed once per machine and reused."""
    digest = hashlib.sha256(json.dumps(pins, sort_keys=True).encode()).hexdigest()[:12]
    target = Path.home() / ".cache" / "nascar-dfs" / "version-ranges" / digest
    done = target / ".complete"
    if not done.is_file():
        specs = [f"{name}=={version}" for name, version in sorted(pins.items())]
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
             "--upgrade", "--target", str(target), *specs],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, f"could not install {specs}: {proc.stderr[-2000:]}"
        done.write_text(" ".join(specs))
    return target


def _env(target: Path) -> dict[str, str]:
    path = os.pathsep.join([str(target), str(REPO), os.environ.get("PYTHONPATH", "")])
    return os.environ | {"PYTHONPATH": path}


CHECK = """
import importlib, importlib.metadata as md, json, sys
from pathlib import Path
out = {}
for name in json.loads(sys.argv[1]):
    module = importlib.import_module(name)
    out[name] = [md.version(name), str(Path(module.__file__).resolve())]
print(json.dumps(out))
"""


@pytest.mark.parametrize("pins", list(OLDEST.values()), ids=list(OLDEST))
def test_compile_cache_at_the_oldest_supported_versions(pins: dict[str, str]) -> None:
    target = _installed(pins)
    env = _env(target)
    probe = subprocess.run(
        [sys.executable, "-c", CHECK, json.dumps(sorted(pins))],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr[-3000:]
    for name, (version, path) in json.loads(probe.stdout).items():
        assert version == pins[name], f"{name} {version} imported instead of {pins[name]}"
        assert Path(path).is_relative_to(target.resolve()), f"{name} imported from {path}"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO),
         *CACHE_TESTS],
        capture_output=True, text=True, env=env, cwd=REPO, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-2000:]

"""Fill the numba compile cache in a detached, low-priority process while the first calibration runs on JAX.

The numba model samples ~2x faster than nutpie's JAX backend once compiled, but its first compile
takes ~3 minutes of LLVM optimisation (on 2 cores); JAX's takes ~10 s. So the first calibration on a
new machine (or after an upgrade) samples the JAX model, and this process compiles and stores the
numba one for the calibrations after it. It outlives the calibration's process (a CLI run exits at
once) and runs niced; one filler at a time per cache dir (a lock file, stale after ``_STALE_S``).

    python -m nascar_dfs.core.model.background_compile CACHE_DIR JOB_PICKLE

(started by ``fill_numba_cache``, which points the child's PYTENSOR_FLAGS at CACHE_DIR).
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

from nascar_dfs.core.model.design import Capacity, TrainingDesign
from nascar_dfs.core.model.parameters import Priors

log = logging.getLogger(__name__)

LOCK_NAME = "nascar-nutpie-filling.lock"
_STALE_S = 30 * 60.0  # a filler that died without removing its lock (killed pod) blocks no longer


def fill_numba_cache(cache_dir: Path, design: TrainingDesign, capacity: Capacity, priors: Priors) -> bool:
    """Start the detached filler for this model unless one is already running; True if started."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    lock = cache_dir / LOCK_NAME
    if not _take_lock(lock):
        return False
    job = cache_dir / f"nascar-nutpie-fill-{os.getpid()}.pickle"
    job.write_bytes(pickle.dumps((design, capacity, priors)))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_OPT"}  # the cached code must be optimised
    env["PYTENSOR_FLAGS"] = _flags_with_compiledir(env.get("PYTENSOR_FLAGS", ""), cache_dir)
    command = [sys.executable, "-m", __name__, str(cache_dir), str(job)]
    log_path = cache_dir / "nascar-nutpie-fill.log"
    with log_path.open("ab") as log_file:  # the child keeps its own descriptor
        subprocess.Popen(
            ["nice", "-n", "10", *command] if _has_nice() else command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            start_new_session=True,  # not killed with the calibration's process group
        )
    log.info("numba model compiling in the background (log: %s)", log_path)
    return True


def _flags_with_compiledir(flags: str, cache_dir: Path) -> str:
    """PyTensor's flags with the cache dir of this fit, so the child's pytensor stores where it reads
    (set by environment: importing fit.configure_compile_cache here would be an import cycle)."""
    kept = [f for f in flags.split(",") if f.strip() and f.split("=", 1)[0].strip() != "base_compiledir"]
    return ",".join([*kept, f"base_compiledir={cache_dir}"])


def _take_lock(lock: Path) -> bool:
    try:
        if time.time() - lock.stat().st_mtime > _STALE_S:
            lock.unlink(missing_ok=True)
    except FileNotFoundError:
        pass
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


def _has_nice() -> bool:
    from shutil import which

    return which("nice") is not None


def _main(cache_dir: str, job_path: str) -> None:
    job = Path(job_path)
    try:
        design, capacity, priors = pickle.loads(job.read_bytes())
        job.unlink()
        from nascar_dfs.core.model.compile_cache import compile_nutpie_cached
        from nascar_dfs.core.model.plackett_luce import build_model

        started = time.perf_counter()
        _, hit = compile_nutpie_cached(build_model(design, capacity, priors))
        log.warning(
            "numba model %s in %.0f s",
            "was cached" if hit else "compiled and cached",
            time.perf_counter() - started,
        )
    finally:
        job.unlink(missing_ok=True)
        (Path(cache_dir) / LOCK_NAME).unlink(missing_ok=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    _main(*sys.argv[1:3])

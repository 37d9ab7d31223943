"""Before/after in one run: the previous code checked out beside this tree, timed alternately with it.

On a shared machine absolute timings move with the load, so a speed figure is only worth its ratio
to the previous code measured in the same minutes. `base_tree` checks out a git revision (default:
the merge base of this branch and main) as a detached worktree for the duration, and `alternate`
runs the sides in turn (base, ours, base, ours, ...), so both see the same load. Every report
prints the load average.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def base_tree(revision: str) -> Iterator[Path]:
    """A detached worktree of `revision` (its commit printed), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="bench-base-")) / "tree"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(folder), revision], check=True
    )
    try:
        yield folder
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(folder)], check=False)


def previous_code(revision: str | None) -> str:
    """`revision`, or by default the commit this branch last took from main (`git merge-base HEAD
    main`): the code before this branch's own changes, without main's newer work in either side."""
    if revision:
        return revision
    done = subprocess.run(
        ["git", "-C", str(REPO), "merge-base", "HEAD", "main"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit_of(tree: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("+uncommitted changes" if dirty else "")


def tree_env(tree: Path, **extra: str) -> dict[str, str]:
    """The environment of a process that must import `nascar_dfs` from `tree` (not the editable install)."""
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONWARNINGS": "ignore", **extra}


def load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def alternate(runs: int, sides: dict[str, Callable[[], dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """`runs` measurements of each side, taken in turn; each measurement is a dict of figures."""
    got: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, measure in sides.items():
            got[name].append(measure())
    return got


def median_of(samples: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(s[key]) for s in samples if key in s)


def spread(samples: list[dict[str, Any]], key: str) -> str:
    values = [float(s[key]) for s in samples if key in s]
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"

"""`nascar-dfs optimize` as a user runs it, whole process, before/after in one run (issue 18: <= 1.2 s).

150 lineups on ../shared/data/bench/slate.csv, max exposure 0.6, with --out: the time from spawning
`python -m nascar_dfs.cli optimize ...` to its exit, for this tree and for --base (default: the
merge base with main, checked out beside it), alternately, --runs times each. The split comes from
one extra process per side: `-X importtime` (the imports) and `--json` (the build); the rest is
interpreter start, the CLI and the output. The upload CSVs of both sides must be byte-identical
(the speed work changes no lineup).

    python benchmarks/optimize_cli.py [--runs 5] [--base REV] [--slate PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.ab import (  # noqa: E402
    alternate,
    base_tree,
    commit_of,
    load,
    median_of,
    previous_code,
    spread,
    tree_env,
)
from benchmarks.optimizer_vs_pydfs import DEFAULT_SLATE  # noqa: E402

ARGS = ["--lineups", "150", "--max-exposure", "0.6"]


def _command(slate: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        *extra,
        "-m",
        "nascar_dfs.cli",
        "optimize",
        "--slate",
        str(slate),
        *ARGS,
        "--out",
        str(out),
    ]


def timed(tree: Path, slate: Path, out: Path) -> dict[str, float]:
    started = time.perf_counter()
    subprocess.run(_command(slate, out), env=tree_env(tree), cwd=tree, check=True, stdout=subprocess.DEVNULL)
    return {"wall": time.perf_counter() - started}


def split(tree: Path, slate: Path, out: Path) -> dict[str, float]:
    """Seconds of imports (sum of -X importtime's top-level imports) and of the build (--json)."""
    done = subprocess.run(
        [*_command(slate, out, "-X", "importtime"), "--json"],
        env=tree_env(tree), cwd=tree, check=True, capture_output=True, text=True,
    )  # fmt: skip
    imports = sum(
        int(m.group(1))
        for m in re.finditer(r"^import time:\s+\d+ \|\s+(\d+) \| (?=\S)", done.stderr, re.MULTILINE)
    )
    return {"imports": imports / 1e6, "build": float(json.loads(done.stdout)["build_seconds"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--base", help="git revision of the previous code (default: merge base with main)")
    parser.add_argument("--slate", type=Path, default=DEFAULT_SLATE)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="optimize-cli-bench-"))
    args.base = previous_code(args.base)
    with base_tree(args.base) as base:
        trees = {"before": base, "after": REPO}
        print(
            f"before = {args.base} ({commit_of(base)}), after = this tree ({commit_of(REPO)}); load {load()}"
        )
        for name, tree in trees.items():  # warm the page cache and the bytecode of both sides
            timed(tree, args.slate, work / f"{name}.csv")
        got = alternate(
            args.runs,
            {n: (lambda t=t, n=n: timed(t, args.slate, work / f"{n}.csv")) for n, t in trees.items()},
        )
        parts = {name: split(tree, args.slate, work / f"{name}-split.csv") for name, tree in trees.items()}
        identical = (work / "before.csv").read_bytes() == (work / "after.csv").read_bytes()
    for name in trees:
        p = parts[name]
        rest = median_of(got[name], "wall") - p["imports"] - p["build"]
        print(
            f"{name:6s} whole process {spread(got[name], 'wall')} s over {args.runs} runs; "
            f"imports {p['imports']:.2f}, build {p['build']:.2f}, the rest (start, CLI, output) {rest:.2f}"
        )
    ratio = median_of(got["after"], "wall") / median_of(got["before"], "wall")
    after = median_of(got["after"], "wall")
    print(
        f"after/before {ratio:.2f}; upload CSVs {'byte-identical' if identical else 'DIFFER'}; "
        f"target <= 1.2 s: {'met' if after <= 1.2 else 'NOT met'} ({after:.2f} s); load {load()}"
    )
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())

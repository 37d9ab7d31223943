"""Write the SYNTHETIC demo data set (shared layout + DKSalaries.csv) used by `nascar-dfs` demos and tests."""

from __future__ import annotations

import argparse
from pathlib import Path

from nascar_dfs.core.data.demo import DEMO_DIR, DEMO_SEED, write_demo_data
from nascar_dfs.core.data.history import load_history


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help=f"output folder (default: {DEMO_DIR})")
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help=f"random seed (default: {DEMO_SEED})")
    args = parser.parse_args(argv)
    out = write_demo_data(args.out, args.seed)
    history = load_history(out)  # the demo must pass the same validation as real data
    size_kb = sum(f.stat().st_size for f in out.iterdir() if f.is_file()) / 1024
    print(f"wrote {out}: {len(history.races)} races, {len(history.results)} result rows, {size_kb:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

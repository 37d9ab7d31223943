"""Pre-lock re-optimization keeps every entry id and removes every driver marked out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nascar_dfs.core.data.draftkings import read_dk_entries, write_dk_entries
from nascar_dfs.core.optimizer import InfeasibleSpecError, build_portfolio, reoptimize_entries
from nascar_dfs.core.scenarios.spec import ConstraintSpec


def _entries_file(tmp_path: Path, lineups: list[list[int]], blank: int = 0) -> Path:
    path = tmp_path / "DKEntries.csv"
    rows = ["Entry ID,Contest Name,Contest ID,Entry Fee,D,D,D,D,D,D"]
    for number, lineup in enumerate(lineups):
        rows.append(f"{4000 + number},NASCAR $5 Classic,170001,$5," + ",".join(map(str, lineup)))
    for number in range(blank):
        rows.append(f"{5000 + number},NASCAR $5 Classic,170001,$5,,,,,,")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_reoptimized_entries_keep_ids_and_drop_out_drivers(bench_pool, tmp_path: Path) -> None:
    spec = ConstraintSpec(lineups=20, max_exposure=0.6, objective="mean")
    built = build_portfolio(bench_pool, spec)
    entries = read_dk_entries(_entries_file(tmp_path, built.dk_id_rows(), blank=2))
    out = [next(iter(built.exposures)), bench_pool.names[10]]  # the most-used driver and one more
    out_ids = {int(bench_pool.dk_ids[bench_pool.names.index(name)]) for name in out}

    swapped = reoptimize_entries(entries, bench_pool, out, spec)

    assert [e.entry_id for e in swapped.entries] == [e.entry_id for e in entries.entries]
    lineups = [e.lineup for e in swapped.entries]
    assert all(lineup is not None and len(set(lineup)) == 6 for lineup in lineups)
    assert not any(set(lineup) & out_ids for lineup in lineups)
    assert len({frozenset(lineup) for lineup in lineups}) == len(lineups)
    salary = dict(zip(bench_pool.dk_ids.tolist(), bench_pool.salaries.tolist(), strict=True))
    assert all(sum(salary[i] for i in lineup) <= 50_000 for lineup in lineups)
    counts: dict[int, int] = {}
    for lineup in lineups:
        for dk_id in lineup:
            counts[dk_id] = counts.get(dk_id, 0) + 1
    assert max(counts.values()) <= int(0.6 * len(lineups))
    for before, after in zip(entries.entries[:20], swapped.entries[:20], strict=True):
        kept = [i for i in before.lineup if i not in out_ids]
        assert all(before.lineup.index(i) == after.lineup.index(i) for i in kept)  # kept cells unchanged
    # The result goes back out as a DKEntries file with the same ids.
    again = read_dk_entries(write_dk_entries(swapped, tmp_path / "swapped.csv"))
    assert [e.lineup for e in again.entries] == lineups


def test_reoptimize_refuses_when_no_replacement_fits(bench_pool, tmp_path: Path) -> None:
    built = build_portfolio(bench_pool, ConstraintSpec(lineups=3, objective="mean"))
    entries = read_dk_entries(_entries_file(tmp_path, built.dk_id_rows()))
    everyone_but_five = list(bench_pool.names[5:])
    spec = ConstraintSpec(lineups=3, objective="mean")
    with pytest.raises(InfeasibleSpecError, match="entry 4000"):
        reoptimize_entries(entries, bench_pool, everyone_but_five, spec)


def test_re_valued_projections_steer_the_replacement(bench_pool, tmp_path: Path) -> None:
    spec = ConstraintSpec(lineups=1, objective="mean")
    built = build_portfolio(bench_pool, spec)
    entries = read_dk_entries(_entries_file(tmp_path, built.dk_id_rows()))
    out = [built.lineups[0].drivers[0]]
    first = reoptimize_entries(entries, bench_pool, out, spec).entries[0].lineup
    newcomer = next(i for i in first if i not in built.lineups[0].dk_ids)
    name = bench_pool.names[int(np.flatnonzero(bench_pool.dk_ids == newcomer)[0])]
    # The newcomer is then sent to the rear in a backup car: re-valued at zero, someone else comes in.
    values = dict(zip(bench_pool.names, bench_pool.projections.tolist(), strict=True)) | {name: 0.0}
    second = reoptimize_entries(entries, bench_pool, out, spec, projections=values).entries[0].lineup
    assert newcomer not in second
    assert not set(second) & {int(bench_pool.dk_ids[bench_pool.names.index(out[0])])}

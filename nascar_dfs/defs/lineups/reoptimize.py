"""Pre-lock re-optimization (NASCAR's late swap) of a DKEntries.csv, as a Dagster run.

One partition per re-optimization (nascar_dfs/platform/reoptimizations.py: the key hashes the
request's race x spec, the file and the changes; its inputs are stored before the partition is
added). The run reads the race x spec's scenario set as the lineup request stored it; a new grid
(drivers sent to the rear, a new starting lineup) re-simulates the race through the same
starting-lineup path a lineup request takes (science.slate_field(starts=) then science.simulate,
seeded as the scenario set is, so the re-simulation differs from it by the grid alone).
"""

import tempfile
from pathlib import Path
from typing import Any

import dagster as dg

from nascar_dfs.core.optimizer.errors import InfeasibleSpecError, UnknownDriverError
from nascar_dfs.platform import science, tags, versions
from nascar_dfs.platform.io_manager import read_output
from nascar_dfs.platform.jobs import REOPTIMIZE_JOB
from nascar_dfs.platform.materializations import require_recorded
from nascar_dfs.platform.reoptimizations import (
    ReoptimizationInputError,
    load_reoptimization,
    new_grid,
    parse_entries,
    pool_names,
    reoptimization_partitions,
)
from nascar_dfs.platform.resources import FileStorage
from nascar_dfs.platform.slate_store import run_slate
from nascar_dfs.platform.spec_store import load_spec

# The re-optimization reads whichever race x spec its stored request names: every scenario set
# (and model) is upstream of every re-optimization in the UI's lineage, none is an input to load.
_ANY = dg.AllPartitionMapping()


def _stored(root: Path, asset: str, parts: list[str], what: str) -> Any:
    value = read_output(root, asset, parts)
    if value is None:
        raise dg.Failure(f"{asset} {'|'.join(parts) or ''} is not materialized: {what}")
    return value


@dg.asset(
    partitions_def=reoptimization_partitions,
    group_name="lineups",
    code_version=versions.REOPTIMIZED_ENTRIES_CODE,
    deps=[
        dg.AssetDep("scenario_set", partition_mapping=_ANY),
        dg.AssetDep("calibrated_model", partition_mapping=_ANY),
    ],
    description="A DKEntries.csv re-optimized before lock: out drivers replaced on the race's scenarios",
)
def reoptimized_entries(context: dg.AssetExecutionContext, storage: FileStorage) -> dg.Output[str]:
    """Each entry keeps its id, contest columns and valid drivers; each out driver is replaced by
    the driver that maximizes the spec's objective on the race's scenarios (re-simulated on the new
    grid when the changes give one), within the cap and the spec's constraints."""
    root = storage.root()
    request = load_reoptimization(root, context.partition_key)
    race, spec_key = request.race, request.spec_key
    partition = f"{race}|{spec_key}"
    spec = load_spec(root, spec_key)
    race_slate = _stored(root, "race_slate", [race], "build the request's lineups first")
    slate, slate_version = run_slate(context.instance, root, race, spec, race_slate)
    scenarios = _stored(root, "scenario_set", [race, spec_key], "build the request's lineups first")
    scenario_version = require_recorded(context.instance, "scenario_set", partition, "scenario_version")
    try:
        grid = new_grid(slate, request.changes, scenarios)
        out = pool_names(slate, request.changes.out, "out")
    except (ReoptimizationInputError, UnknownDriverError) as exc:
        raise dg.Failure(f"re-optimization {context.partition_key}: {exc}") from exc
    if grid is not None:
        model = _stored(root, "calibrated_model", [race], "calibrate the race first")
        history = _stored(root, "race_history", [], "materialize race_history first")
        try:
            field = science.slate_field(slate, history, race, starts=grid)
        except ValueError as exc:
            raise dg.Failure(f"race {race}: the new starting lineup: {exc}") from exc
        seed = versions.scenario_seed(race, spec_key, model.version)
        scenarios = science.simulate(model, field, spec, seed)
        scenario_version = versions.digest(scenario_version, sorted(grid.items()))
    try:
        entries = parse_entries(request.entries_csv)
        swapped = science.reoptimize(slate, entries, out, spec, scenarios)
    except (ReoptimizationInputError, InfeasibleSpecError, UnknownDriverError) as exc:
        raise dg.Failure(f"re-optimization {context.partition_key}: {exc}") from exc
    with tempfile.TemporaryDirectory() as workdir:
        text = science.dk_entries_text(swapped, Path(workdir))
    changed = _swaps(slate, entries, swapped)
    return dg.Output(
        text,
        data_version=dg.DataVersion(versions.digest(context.partition_key, scenario_version)),
        metadata={
            "race": race,
            "spec": spec_key,
            "slate_version": slate_version,
            "scenario_version": scenario_version,
            "resimulated": grid is not None,
            "entries": len(swapped.entries),
            "entries_changed": len(changed),
            "out": dg.MetadataValue.json(list(request.changes.out)),
            "to_rear": dg.MetadataValue.json(list(request.changes.to_rear)),
            "swaps": dg.MetadataValue.md(_swaps_markdown(changed)),
        },
    )


def _swaps(slate: Any, before: Any, after: Any) -> list[tuple[str, str, str]]:
    """(entry id, drivers out, drivers in) of every entry the re-optimization changed."""
    name_of = dict(zip(slate.players["dk_id"].astype(int), slate.players["name"].astype(str), strict=True))
    rows = []
    for old, new in zip(before.entries, after.entries, strict=True):
        gone = [name_of.get(i, str(i)) for i in old.lineup or () if i not in (new.lineup or ())]
        came = [name_of.get(i, str(i)) for i in new.lineup or () if i not in (old.lineup or ())]
        if gone or came:
            rows.append((old.entry_id, ", ".join(gone) or "(empty)", ", ".join(came)))
    return rows


def _swaps_markdown(rows: list[tuple[str, str, str]]) -> str:
    if not rows:
        return "no entry held an out driver: every entry is unchanged"
    lines = ["| entry | out | in |", "|---|---|---|", *(f"| {e} | {o} | {i} |" for e, o, i in rows)]
    return "\n".join(lines)


reoptimize_job = dg.define_asset_job(
    REOPTIMIZE_JOB,
    selection=dg.AssetSelection.assets(reoptimized_entries),
    executor_def=dg.in_process_executor,
    tags={tags.KIND: tags.REOPTIMIZE, tags.REASON: "ui", tags.MAX_RUNTIME: str(tags.REOPTIMIZE_MAX_SECONDS)},
)

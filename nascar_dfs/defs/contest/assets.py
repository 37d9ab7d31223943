"""The GPP of a race x spec whose spec names a contest: projected ownership, the simulated field
(with the check that it follows the projection), and the contest report of the chosen lineups.

Same race x spec partitions as the scenario set and the lineups. The lineups asset picks its lineups
against `contest_field` when the spec has a contest; `contest_report` then plays those lineups and
that field in the scenario set's races (the same races the lineups were chosen on, minus the ones
the search used). A spec without a contest gets no field and no report (None, said so in metadata):
requests only build these assets for contest specs, a UI "materialize all" still succeeds.
"""

from typing import Any

import dagster as dg

from nascar_dfs.platform import science, versions
from nascar_dfs.platform.content_store import CONTENT_DIGEST, LINEUPS_DIGEST
from nascar_dfs.platform.materializations import bound_materialization, recorded
from nascar_dfs.platform.partitions import RACE, race_spec_partitions, split_race_spec_key
from nascar_dfs.platform.resources import CheckSettings, FileStorage
from nascar_dfs.platform.slate_store import run_slate
from nascar_dfs.platform.spec_store import load_spec

OWNERSHIP_PROJECTION = "ownership_projection"
CONTEST_FIELD = "contest_field"
CONTEST_REPORT = "contest_report"
FIELD_OWNERSHIP = "field_ownership"
NO_CONTEST = "the spec has no contest"

_BY_RACE = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=RACE)


def _table(rows: list[tuple[str, float]], header: str) -> dg.MetadataValue:
    lines = [f"| driver | {header} |", "|---|---|", *(f"| {n} | {v:.1%} |" for n, v in rows)]
    return dg.MetadataValue.md("\n".join(lines))


@dg.asset(
    partitions_def=race_spec_partitions,
    group_name="contest",
    code_version=versions.OWNERSHIP_CODE,
    ins={"scenario_set": dg.AssetIn(), "race_slate": dg.AssetIn(partition_mapping=_BY_RACE)},
)
def ownership_projection(
    context: dg.AssetExecutionContext, scenario_set: Any, race_slate: Any, storage: FileStorage
) -> dg.Output[Any]:
    """Share of the field expected to roster each slate driver: the player's where the spec gives
    it (its `ownership`), else the slate's "Projected Ownership" when it has one, else the ownership
    model on salary, simulated points and start position (rescaled around the player's shares)."""
    race, spec_key = split_race_spec_key(context.partition_key)
    spec = load_spec(storage.root(), spec_key)
    slate, _ = run_slate(context.instance, storage.root(), race, spec, race_slate)
    try:
        frame = science.ownership(slate, scenario_set, spec.ownership)
    except ValueError as exc:  # the player's shares name no slate driver or cannot add up to 600%
        raise dg.Failure(f"race {race}: {exc}") from exc
    players = [str(n) for n, source in zip(frame["name"], frame["source"], strict=True) if source == "player"]
    scenario_version = (
        recorded(context.instance, "scenario_set", context.partition_key, "scenario_version") or ""
    )
    ownership_version = versions.digest(versions.OWNERSHIP_CODE, scenario_version)
    top = frame.sort_values("ownership", ascending=False).head(10)
    return dg.Output(
        frame,
        data_version=dg.DataVersion(ownership_version),
        metadata={
            "source": ", ".join(dict.fromkeys(str(v) for v in frame["source"])),
            # Whose shares these are: the player's (the spec's ownership) for these, the model's else.
            "player_ownership": dg.MetadataValue.json(players),
            "drivers": len(frame),
            "max_ownership": float(frame["ownership"].max()),
            "top_owned": _table(list(zip(top["name"], top["ownership"], strict=True)), "projected"),
            "scenario_version": scenario_version,
            "ownership_version": ownership_version,
        },
    )


@dg.asset(
    partitions_def=race_spec_partitions,
    group_name="contest",
    code_version=versions.CONTEST_FIELD_CODE,
    check_specs=[
        dg.AssetCheckSpec(
            FIELD_OWNERSHIP,
            asset=CONTEST_FIELD,
            description="simulated field's ownership within tolerance of the projection (warns)",
        )
    ],
)
def contest_field(
    context: dg.AssetExecutionContext,
    ownership_projection: Any,
    storage: FileStorage,
    check_settings: CheckSettings,
):
    """The opponents: contest entries minus the spec's lineups, valid lineups drawn from the projection."""
    race, spec_key = split_race_spec_key(context.partition_key)
    spec = load_spec(storage.root(), spec_key)
    ownership_version = (
        recorded(context.instance, OWNERSHIP_PROJECTION, context.partition_key, "ownership_version") or ""
    )
    if spec.contest is None:
        yield dg.Output(None, metadata={"contest": NO_CONTEST, "field_version": ""})
        yield dg.AssetCheckResult(check_name=FIELD_OWNERSHIP, passed=True, metadata={"skipped": NO_CONTEST})
        return
    seed = versions.field_seed(race, spec_key, ownership_version)
    field = science.contest_field(ownership_projection, spec.contest, spec.lineups, seed)
    field_version = versions.digest(versions.CONTEST_FIELD_CODE, ownership_version, spec_key, seed)
    yield dg.Output(
        field,
        data_version=dg.DataVersion(field_version),
        metadata={
            **field.summary(),
            "seed": seed,
            "ownership_version": ownership_version,
            "field_version": field_version,
        },
    )
    passed, figures = science.field_check(
        field, check_settings.ownership_tolerance, list(ownership_projection["name"])
    )
    yield dg.AssetCheckResult(
        check_name=FIELD_OWNERSHIP,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=figures,
    )


@dg.asset(
    partitions_def=race_spec_partitions,
    group_name="contest",
    code_version=versions.CONTEST_REPORT_CODE,
    ins={
        "lineups": dg.AssetIn(),
        "contest_field": dg.AssetIn(),
        "scenario_set": dg.AssetIn(),
        "race_slate": dg.AssetIn(partition_mapping=_BY_RACE),
    },
)
def contest_report(
    context: dg.AssetExecutionContext,
    lineups: Any,
    contest_field: Any,
    scenario_set: Any,
    race_slate: Any,
    storage: FileStorage,
    check_settings: CheckSettings,
) -> dg.Output[Any]:
    """Expected ROI, P(top 1%), P(first), duplicates with the field and the return distribution, per
    lineup and for the portfolio, each with its Monte Carlo standard error."""
    race, spec_key = split_race_spec_key(context.partition_key)
    spec = load_spec(storage.root(), spec_key)
    race_slate, _ = run_slate(context.instance, storage.root(), race, spec, race_slate)
    # The lineups this run read (platform/materializations.py bound_materialization), not the newest.
    lineups_built = bound_materialization(
        context.instance, "lineups", str(context.partition_key), context.run.run_id
    )
    built = {} if lineups_built is None else lineups_built.metadata
    lineups_version = str(built.get("lineups_version") or "")
    lineage = {"lineups_version": lineups_version, LINEUPS_DIGEST: str(built.get(CONTENT_DIGEST) or "")}
    if spec.contest is None or contest_field is None:
        return dg.Output(None, metadata={"contest": NO_CONTEST, **lineage})
    report = science.contest_report(
        race_slate, scenario_set, lineups, contest_field, spec.contest, check_settings.ownership_tolerance
    )
    portfolio = report["portfolio"]
    return dg.Output(
        report,
        metadata={
            "entries": spec.contest.entries,
            "entry_fee": spec.contest.entry_fee,
            "races": report["races"],
            "in_sample": report["in_sample"],
            "portfolio_roi": portfolio["roi"]["mean"],
            "portfolio_roi_se": portfolio["roi"]["se"],
            "p_top_1pct": portfolio["p_top_1pct"]["mean"],
            "p_first": portfolio["p_first"]["mean"],
            "duplicates": portfolio["duplicates"]["mean"],
            "field_mean_roi": report["field_mean_roi"]["mean"],
            **lineage,
        },
    )

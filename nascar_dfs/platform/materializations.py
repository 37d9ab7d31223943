"""Reading what the instance knows about an asset partition: its latest materialization, the one a
given run built or was planned on, and the upstream identities (model_version, slate_version,
scenario_version, ...) recorded with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg

from nascar_dfs.platform.tags import PARENT_RUN_ID

if TYPE_CHECKING:
    from nascar_dfs.core.race_tables import Table

CODE_VERSION_TAG = "dagster/code_version"


@dataclass(frozen=True)
class Materialized:
    """The latest materialization of one asset partition, reduced to what decisions need."""

    asset: str
    partition: str | None
    timestamp: float
    run_id: str
    metadata: dict[str, Any]
    tags: dict[str, str]

    def value(self, key: str) -> Any:
        return self.metadata.get(key)

    @property
    def code_version(self) -> str | None:
        return self.tags.get(CODE_VERSION_TAG)


def _plain(value: Any) -> Any:
    """Metadata entries as plain Python values (the `.value` of a MetadataValue)."""
    return getattr(value, "value", value)


def _materialized(asset: str, record: Any) -> Materialized | None:
    materialization = record.asset_materialization
    if materialization is None:
        return None
    return Materialized(
        asset=asset,
        partition=record.partition_key,
        timestamp=record.timestamp,
        run_id=record.run_id,
        metadata={k: _plain(v) for k, v in materialization.metadata.items()},
        tags=dict(materialization.tags or {}),
    )


def _partition_filter(asset: str, partition: str | None) -> dg.AssetRecordsFilter:
    return dg.AssetRecordsFilter(
        asset_key=dg.AssetKey(asset), asset_partitions=[partition] if partition is not None else None
    )


def latest_materialization(
    instance: dg.DagsterInstance, asset: str, partition: str | None = None
) -> Materialized | None:
    """None only when the partition was never materialized."""
    result = instance.fetch_materializations(_partition_filter(asset, partition), limit=1)
    return _materialized(asset, result.records[0]) if result.records else None


def materialization_count(instance: dg.DagsterInstance, asset: str, partition: str | None = None) -> int:
    """How many times the asset partition was materialized (tests count recomputations with it)."""
    return len(instance.fetch_materializations(_partition_filter(asset, partition), limit=10_000).records)


def recent_materializations(instance: dg.DagsterInstance, asset: str, limit: int) -> list[Materialized]:
    """The latest `limit` materializations of an asset (every partition), newest first."""
    result = instance.fetch_materializations(dg.AssetKey(asset), limit=limit)
    found = (_materialized(asset, record) for record in result.records)
    return [m for m in found if m is not None]


def all_materializations(instance: dg.DagsterInstance, asset: str, limit: int = 1000) -> list[Materialized]:
    """Every partition's materializations, oldest first."""
    result = instance.fetch_materializations(dg.AssetKey(asset), limit=limit, ascending=True)
    found = (_materialized(asset, record) for record in result.records)
    return [m for m in found if m is not None]


def recorded(instance: dg.DagsterInstance, asset: str, partition: str | None, key: str) -> str | None:
    """The identity `key` recorded with the partition's latest materialization, as a string; None when
    the partition was never materialized or did not record it."""
    record = latest_materialization(instance, asset, partition)
    return None if record is None or record.value(key) is None else str(record.value(key))


def require_recorded(instance: dg.DagsterInstance, asset: str, partition: str, key: str) -> str:
    """`recorded`, for an asset that cannot be built without it: a run failure names what is missing."""
    value = recorded(instance, asset, partition, key)
    if value is None:
        raise dg.Failure(f"{asset} {partition} has no recorded {key}: materialize it first")
    return value


def run_lineage(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The run and the runs it re-executes (Dagster's retries, a re-execution from the UI), newest
    first: one attempt at one build, whose steps may have succeeded in different runs of it."""
    lineage: list[str] = []
    current: str | None = run_id
    while current is not None and current not in lineage:
        lineage.append(current)
        run = instance.get_run_by_id(current)
        current = run.tags.get(PARENT_RUN_ID) if run is not None else None
    return lineage


def bound_materialization(
    instance: dg.DagsterInstance, asset: str, partition: str, run_id: str
) -> Materialized | None:
    """The materialization of an asset partition that belongs to a run: the newest one the run or a
    run it re-executes made; else, for an asset the run reused, the newest one recorded before the
    first run of its lineage was submitted (what it was planned on, whatever was built since); None when
    there is neither. Unlike the latest materialization, the answer never changes once the run made
    it, so a run's steps and a later reader of its results agree on it."""
    lineage = run_lineage(instance, run_id)
    key = dg.AssetKey(asset)
    for rid in lineage:
        records = instance.get_records_for_run(rid, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        own = [r for r in records if r.asset_key == key and r.partition_key == partition]
        if own:
            return _materialized(asset, own[-1])
    first = instance.get_records_for_run(lineage[-1], limit=1).records
    if not first:  # no event at all (a run created, never submitted): only what is current
        return latest_materialization(instance, asset, partition)
    before = dg.AssetRecordsFilter(
        asset_key=key, asset_partitions=[partition], before_storage_id=first[0].storage_id
    )
    result = instance.fetch_materializations(before, limit=1)
    return _materialized(asset, result.records[0]) if result.records else None


def require_bound(instance: dg.DagsterInstance, asset: str, partition: str, run_id: str, key: str) -> str:
    """The identity `key` of the run's bound materialization of an upstream asset (see
    bound_materialization): a run failure names what is missing."""
    record = bound_materialization(instance, asset, partition, run_id)
    value = None if record is None else record.value(key)
    if value is None:
        raise dg.Failure(f"{asset} {partition} has no recorded {key} for this run: materialize it first")
    return str(value)


def table_metadata(table: Table) -> dg.TableMetadataValue:
    """A core table as the UI's table metadata: its rows with a column schema (names, types,
    descriptions), so the asset page renders a sortable table instead of a blob of text."""
    schema = dg.TableSchema(
        columns=[dg.TableColumn(c.name, c.type, description=c.description) for c in table.columns]
    )
    return dg.MetadataValue.table([dg.TableRecord(dict(row)) for row in table.rows], schema=schema)

"""IO manager: every asset's output as a file under the storage base path (see storage.py); the
result outputs (RESULT_ASSETS) also by content, each build bound to the run that made it
(content_store.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from nascar_dfs.platform.codecs import (
    Codec,
    FrameCodec,
    JsonCodec,
    ModelCodec,
    PickleCodec,
    PortfolioCodec,
    ScenarioSetCodec,
    TextCodec,
)
from nascar_dfs.platform.content_store import (
    CONTENT_DIGEST,
    DEFAULT_RETENTION_HOURS,
    read_build,
    write_build,
)
from nascar_dfs.platform.materializations import bound_materialization
from nascar_dfs.platform.resources import FileStorage
from nascar_dfs.platform.storage import asset_path

CODECS: dict[str, Codec] = {
    "calibrated_model": ModelCodec(),
    "scenario_set": ScenarioSetCodec(),
    "lineups": PortfolioCodec(),
    "dk_upload_csv": TextCodec(),
    "calibration_history": FrameCodec(),
    "ownership_projection": FrameCodec(),
    "contest_report": JsonCodec(),
    "reoptimized_entries": TextCodec(),
}
DEFAULT_CODEC: Codec = PickleCodec()
# What a lineup request hands its user: each build is kept by content, so one run's lineups, upload
# CSV and contest report stay readable (and consistent) after another run rebuilt the partition.
RESULT_ASSETS = frozenset({"lineups", "dk_upload_csv", "contest_report"})


def codec_for(asset_name: str) -> Codec:
    return CODECS.get(asset_name, DEFAULT_CODEC)


def partition_parts(context: dg.OutputContext | dg.InputContext) -> list[str]:
    """Folder parts of the partition: [] / [race] / [race, spec]."""
    if not context.has_asset_partitions:
        return []
    key = context.asset_partition_key
    if isinstance(key, dg.MultiPartitionKey):
        # Dimension order by name keeps paths stable: race before spec.
        return [key.keys_by_dimension[d] for d in sorted(key.keys_by_dimension)]
    # A plain "race|spec" string (launched with only the dagster/partition tag) splits the same way.
    return key.split("|")


def output_path(base: Path, asset_name: str, parts: list[str]) -> Path:
    return asset_path(base, asset_name, parts, codec_for(asset_name).suffix)


def read_output(base: Path, asset_name: str, parts: list[str]) -> Any | None:
    """An asset partition's output as the IO manager wrote it; None when it was never stored."""
    path = output_path(base, asset_name, parts)
    return codec_for(asset_name).read(path) if path.exists() else None


def read_bound(
    instance: dg.DagsterInstance, base: Path, asset_name: str, parts: list[str], run_id: str
) -> Any:
    """A result output as the run had it: the build of its bound materialization (see
    materializations.bound_materialization); the partition's usual file for one recorded before
    builds were kept by content, or never recorded in this instance. FileNotFoundError when none."""
    record = bound_materialization(instance, asset_name, "|".join(parts), run_id)
    digest = None if record is None else record.value(CONTENT_DIGEST)
    if digest is not None:
        return read_build(base, asset_name, parts, str(digest), codec_for(asset_name))
    path = output_path(base, asset_name, parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{asset_name} {'|'.join(parts)} has no stored output at {path}: materialize it first"
        )
    return codec_for(asset_name).read(path)


class NascarIOManager(dg.ConfigurableIOManager):
    """Files under the storage resource's base path, so assets and the IO manager agree on it."""

    storage: FileStorage
    # How long a replaced build of a result output stays readable (content_store.py).
    result_retention_hours: float = DEFAULT_RETENTION_HOURS

    def root(self) -> Path:
        return self.storage.root()

    def path_for(self, context: dg.OutputContext | dg.InputContext) -> Path:
        asset_name = context.asset_key.path[-1]
        return output_path(self.root(), asset_name, partition_parts(context))

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        asset_name = context.asset_key.path[-1]
        if asset_name in RESULT_ASSETS:
            build = write_build(
                self.root(),
                asset_name,
                partition_parts(context),
                codec_for(asset_name),
                obj,
                retention_hours=self.result_retention_hours,
            )
            # `path` is the build itself: a plan that finds it removed rebuilds the partition.
            context.add_output_metadata(
                {"path": dg.MetadataValue.path(str(build.path)), CONTENT_DIGEST: build.digest}
            )
            return
        path = self.path_for(context)
        codec_for(asset_name).write(obj, path)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        asset_name = context.asset_key.path[-1]
        if asset_name in RESULT_ASSETS and context.has_asset_partitions:
            # Not the partition's newest file: another run may have rebuilt it since this run's step.
            return read_bound(
                context.instance,
                self.root(),
                asset_name,
                partition_parts(context),
                context.step_context.run_id,
            )
        path = self.path_for(context)
        if not path.exists():
            raise FileNotFoundError(
                f"{context.asset_key.to_user_string()} has no stored output at {path}: materialize it first"
            )
        return codec_for(asset_name).read(path)

"""IO manager: every asset's output as a file under the storage base path (see storage.py)."""

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


class NascarIOManager(dg.ConfigurableIOManager):
    """Files under the storage resource's base path, so assets and the IO manager agree on it."""

    storage: FileStorage

    def root(self) -> Path:
        return self.storage.root()

    def path_for(self, context: dg.OutputContext | dg.InputContext) -> Path:
        asset_name = context.asset_key.path[-1]
        return output_path(self.root(), asset_name, partition_parts(context))

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        path = self.path_for(context)
        codec_for(context.asset_key.path[-1]).write(obj, path)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        path = self.path_for(context)
        if not path.exists():
            raise FileNotFoundError(
                f"{context.asset_key.to_user_string()} has no stored output at {path}: materialize it first"
            )
        return codec_for(context.asset_key.path[-1]).read(path)

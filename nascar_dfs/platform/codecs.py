"""How each kind of output is written to and read from a file.

Formats are chosen so a person or another process can open them: a model through its own
save/load, a scenario set as .npz, the upload CSV as plain text, tables as CSV. Objects without
a natural file format (history, slate, portfolio) are pickled.
"""

from __future__ import annotations

import dataclasses
import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from nascar_dfs.core.scenarios.types import ScenarioSet
from nascar_dfs.platform.storage import atomic_write, atomic_write_text

if TYPE_CHECKING:
    import pandas as pd


class Codec(Protocol):
    suffix: str

    def write(self, obj: Any, path: Path) -> None: ...

    def read(self, path: Path) -> Any: ...


class PickleCodec:
    suffix = ".pkl"

    def write(self, obj: Any, path: Path) -> None:
        atomic_write(path, lambda tmp: tmp.write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)))

    def read(self, path: Path) -> Any:
        return pickle.loads(path.read_bytes())


class TextCodec:
    suffix = ".csv"

    def write(self, obj: Any, path: Path) -> None:
        if not isinstance(obj, str):
            raise TypeError(f"expected CSV text for {path.name}, got {type(obj).__name__}")
        atomic_write_text(path, obj)

    def read(self, path: Path) -> str:
        return path.read_text(encoding="utf-8")


class FrameCodec:
    suffix = ".csv"

    def write(self, obj: Any, path: Path) -> None:
        import pandas as pd  # only frame outputs need it; the code location loads this module

        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"expected a DataFrame for {path.name}, got {type(obj).__name__}")
        atomic_write_text(path, obj.to_csv(index=False))

    def read(self, path: Path) -> pd.DataFrame:
        import pandas as pd

        return pd.read_csv(path)


class ScenarioSetCodec:
    """Arrays as .npz members, scalars and the driver list in one JSON member."""

    suffix = ".npz"

    def write(self, obj: Any, path: Path) -> None:
        if not isinstance(obj, ScenarioSet):
            raise TypeError(f"expected a ScenarioSet for {path.name}, got {type(obj).__name__}")
        arrays: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if isinstance(value, np.ndarray):
                arrays[f.name] = value
            else:
                meta[f.name] = list(value) if isinstance(value, tuple) else value
        arrays["_meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)

        def write_npz(tmp: Path) -> None:
            # np.savez_compressed's zlib level 6 took 0.47 s for 10,000 races x 36 drivers, level 1
            # 0.11 s for a file 15% larger (1.90 vs 1.65 MB): this write is on every lineup run's
            # path. np.load reads either; the members are the .npy files savez would write.
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
                for name, array in arrays.items():
                    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            tmp.write_bytes(buffer.getvalue())

        atomic_write(path, write_npz)

    def read(self, path: Path) -> ScenarioSet:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(data["_meta"].tobytes().decode("utf-8"))
            arrays = {k: data[k] for k in data.files if k != "_meta"}
        meta["drivers"] = tuple(meta["drivers"])
        return ScenarioSet(**meta, **arrays)


class PortfolioCodec:
    """The optimizer's Portfolio as readable JSON (its own to_dict), rebuilt on read."""

    suffix = ".json"

    def write(self, obj: Any, path: Path) -> None:
        atomic_write_text(path, json.dumps(obj.to_dict(), indent=1))

    def read(self, path: Path) -> Any:
        from nascar_dfs.core.optimizer.portfolio import Lineup, LineupStats, Portfolio

        data = json.loads(path.read_text(encoding="utf-8"))
        lineups = tuple(
            Lineup(
                drivers=tuple(row["drivers"]),
                dk_ids=tuple(int(i) for i in row["dk_ids"]),
                salary=int(row["salary"]),
                projection=float(row["projection"]),
                objective_value=float(row["objective_value"]),
                stats=None if row["stats"] is None else LineupStats(**row["stats"]),
            )
            for row in data["lineups"]
        )
        return Portfolio(
            lineups=lineups,
            exposures=data["exposures"],
            objective=data["objective"],
            method=data["method"],
            target_score=data["target_score"],
            build_seconds=float(data["build_seconds"]),
        )


class JsonCodec:
    """A JSON-ready value (the contest report, or None for a spec without a contest) as JSON."""

    suffix = ".json"

    def write(self, obj: Any, path: Path) -> None:
        atomic_write_text(path, json.dumps(obj, indent=1))

    def read(self, path: Path) -> Any:
        return json.loads(path.read_text(encoding="utf-8"))


class ModelCodec:
    """FittedModel through its own save/load (a folder with draws.npz and model.json)."""

    suffix = ".model"

    def write(self, obj: Any, path: Path) -> None:
        obj.save(path)  # FittedModel.save stages a folder and swaps it into place itself

    def read(self, path: Path) -> Any:
        from nascar_dfs.core.model.fitted import FittedModel

        return FittedModel.load(path)

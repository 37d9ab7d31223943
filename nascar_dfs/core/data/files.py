"""Atomic file writes: a reader never sees a half-written file, a failed write leaves the old one."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only annotated here: atomic_write_frame calls the frame's own to_csv
    import pandas as pd


def atomic_write_text(path: Path | str, text: str) -> Path:
    """Write `text` (UTF-8) to a temp file in the target folder, then rename it over `path`."""
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"folder {target.parent} does not exist (writing {target.name})")
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates 0600; keep an existing file's mode, else the usual 0644
        os.chmod(temp_name, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def atomic_write_rows(path: Path | str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """Write a CSV (header + rows, '\\n' line ends) atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())


def atomic_write_frame(path: Path | str, frame: pd.DataFrame) -> Path:
    """Write a DataFrame as CSV (no index, empty cells for missing values) atomically."""
    return atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n"))

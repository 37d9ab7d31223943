"""DKSalaries.csv uploads: validated with the data module's reader, stored only when valid."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from api.core.problems import ProblemError
from nascar_dfs.core.data.draftkings import read_dk_salaries
from nascar_dfs.core.data.errors import DataValidationError


def slate_path(race_id: str) -> Path:
    """Where the platform's race_slate asset reads it: <storage>/slates/<race>.csv."""
    from nascar_dfs.platform.reads import slate_upload_path

    return slate_upload_path(race_id)


def store_slate(race_id: str, content: bytes) -> int:
    """Validate the file, then move it into place atomically; returns the number of drivers."""
    target = slate_path(race_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".DKSalaries.", suffix=".csv", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        try:
            slate = read_dk_salaries(tmp)
        except DataValidationError as exc:
            raise ProblemError(
                422,
                "invalid-slate",
                f"DKSalaries.csv row {exc.row}, column {exc.column}: {exc.message}",
                errors=[
                    {
                        "loc": ["body", "DKSalaries.csv"],
                        "file": "DKSalaries.csv",
                        "row": exc.row,
                        "column": exc.column,
                        "msg": exc.message,
                    }
                ],
            ) from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProblemError(
                422,
                "invalid-slate",
                f"DKSalaries.csv could not be read: {exc}",
                errors=[
                    {
                        "loc": ["body", "DKSalaries.csv"],
                        "file": "DKSalaries.csv",
                        "row": None,
                        "column": None,
                        "msg": str(exc)[:200],
                    }
                ],
            ) from exc
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return len(slate.players)

"""Code versions of the assets and the derivations of data versions and seeds.

Bump a code version when the asset's output for the same inputs changes: every downstream
partition built by the old code then counts as stale and is rebuilt on its next request.
"""

from __future__ import annotations

import hashlib

WEEKEND_FEED_CODE = "1"
RACE_HISTORY_CODE = "2"  # 2: broken rows quarantined, start nullable
RACE_SLATE_CODE = "1"
CALIBRATED_MODEL_CODE = "3"  # 2: reverse Plackett-Luce finishing order; 3: records the forecaster choice
SCENARIO_SET_CODE = "3"  # 2: an unknown grid is simulated, not salary order; 3: the chosen forecaster
LINEUPS_CODE = "2"  # 2: ranks on the spec's own projections and ownership; each build kept by content
DK_UPLOAD_CODE = "2"  # 2: records the lineups build it was written from
CALIBRATION_HISTORY_CODE = "1"
OWNERSHIP_CODE = "1"
CONTEST_FIELD_CODE = "1"
CONTEST_REPORT_CODE = "2"  # 2: records the lineups build it was played on
REOPTIMIZED_ENTRIES_CODE = "1"


def digest(*parts: object, length: int = 16) -> str:
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def scenario_seed(race: str, spec_key: str, model_version: str) -> int:
    """Seed of a scenario set: the same race, spec and model always draw the same scenarios."""
    return int(digest("scenario-seed", race, spec_key, model_version, length=8), 16)


def field_seed(race: str, spec_key: str, ownership_version: str) -> int:
    """Seed of a simulated contest field: the same projection always draws the same opponents."""
    return int(digest("field-seed", race, spec_key, ownership_version, length=8), 16)

"""Race keys: the name a race goes by everywhere (`2024-cup-phoenix-2`), in races.csv, folder names
and the platform's partitions.

Lowercase letters, digits and '-' only, at most 64 characters: a key becomes a file name and a
Dagster partition key, where '|' is the multi-partition delimiter and '/' would nest paths.
"""

from __future__ import annotations

import re

RACE_KEY_PATTERN = re.compile(r"^[a-z0-9-]+$")
MAX_RACE_KEY_LENGTH = 64


class RaceKeyError(ValueError):
    """A race key that is not of the allowed form."""


def validate_race_key(race: str) -> str:
    if not isinstance(race, str) or len(race) > MAX_RACE_KEY_LENGTH or not RACE_KEY_PATTERN.match(race):
        raise RaceKeyError(
            f"invalid race key {race!r}: expected lowercase letters, digits and '-' "
            f"(at most {MAX_RACE_KEY_LENGTH} characters), e.g. '2024-cup-phoenix-2'"
        )
    return race

"""DraftKings NASCAR Classic points of one driver in one race.

Scoring source: /work/shared/data/nascar/DRAFTKINGS.md (public DraftKings scoring, checked against
the published totals of 2021-cup-talladega-2).

- 2021 onward: finishing points 1st 45, then one point down per place with one extra point skipped
  after 10th, 20th and 30th (2nd 42 ... 10th 34, 11th 32 ... 20th 23, 21st 21 ... 30th 12,
  31st 10 ... 40th 1). Fields have had at most 40 cars since 2016; a position beyond 40th scores
  0 finishing points (the table simply ends, and points never go negative).
- 2015-2020: 1st 46, then 2nd 42, 3rd 41 and one point less per place down to 43rd = 1;
  beyond 43rd scores 0.
- Every season: place differential (start - finish) and 0.25 per lap led; fastest laps 0.45 each
  from 2021, 0.5 each before.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

FIRST_SEASON_2021_TABLE = 2021
MAX_POSITION = 43  # largest field of the scored era (2015)
LAP_LED_POINTS = 0.25
FASTEST_LAP_POINTS_2021 = 0.45
FASTEST_LAP_POINTS_BEFORE_2021 = 0.5


def _finish_table_2021() -> np.ndarray:
    """Finishing points indexed by position (index 0 unused)."""
    pos = np.arange(MAX_POSITION + 1)
    # One point per place from 44 at position 0, minus one extra point per completed block of ten.
    pts = 44 - pos - np.clip((pos - 1) // 10, 0, 3)
    pts[1] = 45
    pts[pos > 40] = 0
    pts[0] = 0
    return pts.astype(np.float64)


def _finish_table_2015() -> np.ndarray:
    pos = np.arange(MAX_POSITION + 1)
    pts = 44 - pos
    pts[1] = 46
    pts[0] = 0
    return np.clip(pts, 0, None).astype(np.float64)


FINISH_POINTS_2021 = _finish_table_2021()
FINISH_POINTS_2015 = _finish_table_2015()


def finish_points(finish: ArrayLike, season: ArrayLike) -> np.ndarray:
    """Finishing-position points for positions 1..43 (broadcasting finish against season)."""
    pos = np.asarray(finish)
    seasons = np.asarray(season)
    if not np.issubdtype(pos.dtype, np.integer):
        if not np.all(np.equal(np.mod(pos, 1), 0)):
            raise ValueError("finishing positions must be whole numbers")
        pos = pos.astype(np.int64)
    if pos.size and (pos.min() < 1 or pos.max() > MAX_POSITION):
        raise ValueError(f"finishing positions must lie in 1..{MAX_POSITION}, got {pos.min()}..{pos.max()}")
    if seasons.size and seasons.min() < 2015:
        raise ValueError(f"DraftKings NASCAR scoring starts in 2015, got season {seasons.min()}")
    modern = seasons >= FIRST_SEASON_2021_TABLE
    return np.where(modern, FINISH_POINTS_2021[pos], FINISH_POINTS_2015[pos])


def dk_points(
    finish: ArrayLike,
    start: ArrayLike,
    laps_led: ArrayLike,
    fastest_laps: ArrayLike,
    season: ArrayLike,
) -> np.ndarray:
    """DraftKings NASCAR Classic points; all arguments broadcast against each other.

    ``season`` may be a scalar or an array (so one call can score races of several seasons).
    """
    finish_arr = np.asarray(finish)
    start_arr = np.asarray(start, dtype=np.float64)
    led = np.asarray(laps_led, dtype=np.float64)
    fastest = np.asarray(fastest_laps, dtype=np.float64)
    seasons = np.asarray(season)
    if np.any(led < 0) or np.any(fastest < 0):
        raise ValueError("laps led and fastest laps cannot be negative")
    if np.any(np.isnan(start_arr)) or np.any(np.isnan(led)) or np.any(np.isnan(fastest)):
        raise ValueError("start, laps led and fastest laps must not be missing (NaN)")
    per_fastest = np.where(
        seasons >= FIRST_SEASON_2021_TABLE, FASTEST_LAP_POINTS_2021, FASTEST_LAP_POINTS_BEFORE_2021
    )
    return (
        finish_points(finish_arr, seasons)
        + (start_arr - finish_arr)
        + LAP_LED_POINTS * led
        + per_fastest * fastest
    )

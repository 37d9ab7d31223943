"""Simulated starting grids for a race whose starting positions are unknown.

Used when qualifying has not been run or the data's grid was quarantined: instead of assuming any
order (salary order was the old silent default), each scenario draws its own grid from the drivers'
recent starts. Per scenario and driver, one of the driver's last K known starting positions is
picked uniformly (a bootstrap of his recent qualifying form), scaled to this field's size; a driver
with no known start (a debutant) draws uniformly over the field. A uniform jitter below one place
breaks ties, and ranking the draws gives a valid grid 1..n in every scenario. Vectorised: one
(scenarios, drivers) draw, one row-wise rank.
"""

from __future__ import annotations

import numpy as np

RECENT_STARTS = 10  # starts per driver the grid is resampled from
START_POSITIONS_UNKNOWN = "start-positions-unknown"  # warning code shown by assets, API and CLI


def sample_starts(recent: np.ndarray | None, field_size: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, D) int64 starting grids, each row a permutation of 1..D.

    `recent` is (D, K) float: each driver's recent starting positions as a fraction of their field
    (start / field size, in (0, 1]), NaN-padded; None means no driver has a known start.
    """
    if field_size < 1 or n < 1:
        raise ValueError(f"need a field and at least one scenario, got {field_size} drivers, {n} scenarios")
    d = field_size
    if recent is None:
        recent = np.full((d, 1), np.nan)
    recent = np.asarray(recent, dtype=np.float64)
    if recent.ndim != 2 or recent.shape[0] != d:
        raise ValueError(f"recent starts must be (drivers, K) with {d} drivers, got {recent.shape}")
    # Known values first in every row, so a uniform index below the count picks a known start.
    known = ~np.isnan(recent)
    counts = known.sum(axis=1)
    packed = np.take_along_axis(recent, np.argsort(~known, axis=1, kind="stable"), axis=1)
    pick = np.floor(rng.random((n, d)) * np.maximum(counts, 1)).astype(np.int64)
    drawn = packed[np.arange(d)[None, :], pick]  # (n, d) fractions of the field
    drawn = np.where(counts[None, :] > 0, drawn, rng.random((n, d)))
    key = drawn * d + rng.random((n, d))  # jitter below one place breaks ties at random
    return np.argsort(np.argsort(key, axis=1), axis=1) + 1

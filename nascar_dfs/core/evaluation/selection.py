"""Which forecaster the product uses: the rule shared by the backtest and the calibration asset.

Per track type, the forecaster with the lower mean fair finish CRPS over the latest ``WINDOW``
completed races of that track type scored before the target race; the model when no such race has
been scored (or on a tie). The window was chosen by the lead on 2023 and checked on 2024 (issue 17).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nascar_dfs.core.scenarios.forecasters import MODEL

WINDOW = 6  # races of the track type the choice looks back on


@dataclass(frozen=True)
class ScoredRace:
    """Fair finish CRPS of each candidate forecaster on one completed race."""

    race_id: str
    season: int
    race_num: int
    track_type: str
    finish_crps: Mapping[str, float]  # forecaster name -> mean fair finish CRPS over the field


@dataclass(frozen=True)
class Choice:
    """The chosen forecaster and what it was chosen on (empty races: the model by default)."""

    forecaster: str
    track_type: str
    races: tuple[str, ...]
    mean_finish_crps: dict[str, float]


def choose_forecaster(
    track_type: str,
    before: tuple[int, int],
    scored: Sequence[ScoredRace],
    candidates: Sequence[str],
    window: int = WINDOW,
    default: str = MODEL,
) -> Choice:
    """The rule above for a race of ``track_type`` at ``before`` = (season, race_num).

    Only races strictly before ``before`` count (no look-ahead), and only those where every candidate
    has a finite score, so the means compare the same races.
    """
    if window < 1:
        raise ValueError(f"the selection window must be at least 1 race, got {window}")
    if default not in candidates:
        raise ValueError(f"the default forecaster {default!r} is not among the candidates {list(candidates)}")
    usable = [
        s
        for s in scored
        if s.track_type == track_type
        and (s.season, s.race_num) < before
        and all(math.isfinite(s.finish_crps.get(c, math.nan)) for c in candidates)
    ]
    latest = sorted(usable, key=lambda s: (s.season, s.race_num))[-window:]
    if not latest:
        return Choice(default, track_type, (), {})
    means = {c: sum(s.finish_crps[c] for s in latest) / len(latest) for c in candidates}
    best = min(candidates, key=lambda c: (means[c], c != default))  # a tie keeps the default
    return Choice(best, track_type, tuple(s.race_id for s in latest), means)

"""How laps led and fastest laps spread over the field, per track type, estimated from past races.

The kernel's allocators (``allocation.py``) have these knobs per track type:
- ``lead_stints``: mean number of lead stints a race is cut into (more stints, more leaders);
- ``lead_decay``: how strongly stints go to the cars with the best latent rank (dominance);
- ``lead_noise``: how loosely the order at the front follows the finishing order (rank noise, in places);
- ``fastest_decay``: the same as ``lead_decay`` for fastest laps, plus a Beta(``green_a``, ``green_b``) law
  of the share of laps credited as someone's fastest lap (in 2019-2024 Cup races 60-94 % of laps).

They are calibrated by simulation: the kernel's own ``simulate_batch`` runs a synthetic race of equal cars
(so the finishing order is a uniform permutation) with the track type's DNF rate, laps and field size,
and the knobs are searched (coarse-to-fine grid for stints and decay, bisection for rank noise and the
fastest-lap decay) until the simulated mean number of leaders, top leader's share of laps, share of laps
led by the top five finishers and top fastest-lap share come closest to the real races. Only the last
LOOKBACK_SEASONS seasons before the target count, and every track type's figures are shrunk toward the
pooled figures by SHRINK_RACES pseudo-races (dirt has only three races in 2021-2023).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from nascar_dfs.core.field import Field
from nascar_dfs.core.model.types import FieldParams
from nascar_dfs.core.scenarios.simulation import simulate_batch

TRACK_TYPES: tuple[str, ...] = ("superspeedway", "intermediate", "short", "road", "dirt")
FIRST_FASTEST_LAP_SEASON = 2019  # loop data (fastest laps) exists from 2019
SHRINK_RACES = 2.0
# Racing changes with the cars (Next Gen 2022, superspeedway packages): only recent seasons count.
LOOKBACK_SEASONS = 5  # pseudo-races of pooled evidence added to every track type's own races
CALIBRATION_SEED = 20240901
CALIBRATION_SCENARIOS = 250
STINT_GRID = np.geomspace(2.0, 110.0, 8)
LEAD_DECAY_GRID = np.linspace(0.0, 2.4, 7)
STINT_REFINE_FACTORS = (0.75, 0.87, 1.0, 1.15, 1.33)
DECAY_REFINE_STEPS = (-0.2, -0.1, 0.0, 0.1, 0.2)
MAX_LEAD_NOISE = 20.0
MAX_FASTEST_DECAY = 1.2
BISECT_STEPS = 8


@dataclass(frozen=True)
class TrackDominance:
    """Allocator parameters of one track type and the observed figures they were calibrated to."""

    lead_stints: float
    lead_decay: float
    lead_noise: float
    fastest_decay: float
    green_a: float
    green_b: float
    races: int  # past races of this track type behind the laps-led figures
    fastest_races: int  # past races of this track type with fastest-lap data
    leaders_mean: float  # observed mean number of drivers leading >= 1 lap
    top_share_mean: float  # observed mean share of laps led by the race's top leader
    top5_share_mean: float  # observed mean share of laps led by the race's top five finishers
    fastest_top_share_mean: float  # observed mean share of fastest laps of the top fastest-lap driver

    def __post_init__(self) -> None:
        if self.lead_stints < 1 or self.green_a <= 0 or self.green_b <= 0:
            raise ValueError(f"invalid dominance parameters: {self}")
        if self.lead_decay < 0 or self.fastest_decay < 0 or self.lead_noise < 0:
            raise ValueError(f"decays must be non-negative: {self}")

    @property
    def green_share_mean(self) -> float:
        return self.green_a / (self.green_a + self.green_b)


@dataclass(frozen=True)
class DominanceParams:
    """Per-track-type allocator parameters; ``to_dict``/``from_dict`` round-trip through JSON."""

    by_track_type: dict[str, TrackDominance] = field(default_factory=dict)
    trained_through: str = ""  # last race_id used

    def __post_init__(self) -> None:
        missing = [t for t in TRACK_TYPES if t not in self.by_track_type]
        if missing:
            raise ValueError(f"dominance parameters lack track types: {', '.join(missing)}")

    def for_track(self, track_type: str) -> TrackDominance:
        try:
            return self.by_track_type[track_type]
        except KeyError:
            raise ValueError(
                f"no dominance parameters for track type {track_type!r}; known: {sorted(self.by_track_type)}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "trained_through": self.trained_through,
            "by_track_type": {t: asdict(p) for t, p in sorted(self.by_track_type.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DominanceParams:
        try:
            by_type = {t: TrackDominance(**p) for t, p in data["by_track_type"].items()}
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a DominanceParams dict: {err}") from err
        return cls(by_track_type=by_type, trained_through=str(data.get("trained_through", "")))


class _History(Protocol):
    races: pd.DataFrame
    results: pd.DataFrame


def race_dominance_stats(races: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """One row per race: track_type, laps, drivers, leaders, top_share, top5_share, green_share,
    fastest_top_share.

    ``green_share`` and ``fastest_top_share`` are NaN for races without fastest-lap data (before 2019).
    """
    needed = {"race_id", "laps", "track_type"}
    if not needed <= set(races.columns):
        raise ValueError(f"races table lacks columns {sorted(needed - set(races.columns))}")
    res = results[["race_id", "finish", "laps_led", "fastest_laps", "status"]].assign(
        top5_led=lambda r: r["laps_led"].where(r["finish"] <= 5, 0),
        dnf=lambda r: r["status"].astype(str).str.lower() != "running",
    )
    grouped = res.groupby("race_id")
    per_race = pd.DataFrame(
        {
            "drivers": grouped.size(),
            "leaders": grouped["laps_led"].agg(lambda x: int((x > 0).sum())),
            "top_led": grouped["laps_led"].max(),
            "top5_led": grouped["top5_led"].sum(),
            "dnfs": grouped["dnf"].sum(),
            "fastest_total": grouped["fastest_laps"].sum(min_count=1),
            "fastest_top": grouped["fastest_laps"].max(),
        }
    )
    stats = races.set_index("race_id")[["track_type", "laps"]].join(per_race, how="inner")
    stats["top_share"] = stats["top_led"] / stats["laps"]
    stats["top5_share"] = stats["top5_led"] / stats["laps"]
    stats["dnf_rate"] = stats["dnfs"] / stats["drivers"]
    stats["green_share"] = (stats["fastest_total"] / stats["laps"]).clip(upper=1.0)
    stats["fastest_top_share"] = stats["fastest_top"] / stats["fastest_total"]
    return stats


def _races_before(history: _History, race_id: str) -> pd.DataFrame:
    races = history.points_races() if hasattr(history, "points_races") else history.races
    races = races.sort_values(["season", "race_num"]).reset_index(drop=True)
    hit = np.flatnonzero(races["race_id"].to_numpy() == race_id)
    if hit.size:
        return races.iloc[: int(hit[0])]
    # An upcoming race is not in the history; it must come after every race that is.
    try:
        season = int(race_id.split("-", 1)[0])
    except ValueError:
        raise ValueError(f"race_id {race_id!r} is not in the history and has no leading season") from None
    if (races["season"] > season).any():
        raise ValueError(f"race_id {race_id!r} is not in the history, which holds later seasons")
    return races


@dataclass(frozen=True)
class _Knobs:
    lead_stints: float
    lead_decay: float
    lead_noise: float
    fastest_decay: float
    green_a: float
    green_b: float


@dataclass(frozen=True)
class _SyntheticRace:
    """Equal cars (so finishing order is a uniform permutation) with the track type's DNF rate."""

    laps: int
    drivers: int
    dnf_rate: float

    def simulate(
        self, stints: float, lead_decay: float, lead_noise: float, fastest_decay: float, green_share: float
    ) -> dict[str, float]:
        """Mean dominance figures of the kernel's own simulation of this synthetic race."""
        n, d = CALIBRATION_SCENARIOS, self.drivers
        field = Field(
            race_id="calibration",
            season=2024,
            track_slug="calibration",
            track_type="calibration",
            laps=self.laps,
            drivers=tuple(str(i) for i in range(d)),
            teams=("",) * d,
            manufacturers=("",) * d,
            starts=np.arange(1, d + 1),
        )
        params = FieldParams(log_worth=np.zeros((1, d)), dnf_prob=np.full((1, d), self.dnf_rate))
        # Near-fixed green share: the Beta law of the share does not move the concentration figures.
        knobs = _Knobs(
            stints, lead_decay, lead_noise, fastest_decay, 1e4 * green_share, 1e4 * (1 - green_share)
        )
        out = simulate_batch(params, field, knobs, n, np.random.default_rng(CALIBRATION_SEED))
        led, laps = out.laps_led, self.laps
        return {
            "leaders": float((led > 0).sum(axis=1).mean()),
            "top_share": float((led.max(axis=1) / laps).mean()),
            "top5_share": float(((led * (out.finish <= 5)).sum(axis=1) / laps).mean()),
            "fastest_top_share": float((out.fastest_laps.max(axis=1) / out.green_laps).mean()),
        }


def _rel_err(sim: float, obs: float) -> float:
    return ((sim - obs) / obs) ** 2


def _lead_error(
    race: _SyntheticRace, knobs: tuple[float, float], noise: float, targets: tuple[float, float, float]
) -> float:
    leaders, top_share, top5 = targets
    sim = race.simulate(knobs[0], knobs[1], noise, 0.0, 0.8)
    err = _rel_err(sim["leaders"], leaders) + _rel_err(sim["top_share"], top_share)
    # Rank noise can only lower the top-5 share, so a share short of the real one is penalised.
    return err + max(0.0, (top5 - sim["top5_share"]) / top5) ** 2


def _refine_lead(
    race: _SyntheticRace,
    best: tuple[float, float],
    noise: float,
    targets: tuple[float, float, float],
    scale: float,
) -> tuple[float, float]:
    """Best (stints, decay) on a small grid around ``best``; ``scale`` shrinks the steps."""
    fine = [
        (best[0] * f**scale, max(0.0, best[1] + db * scale))
        for f in STINT_REFINE_FACTORS
        for db in DECAY_REFINE_STEPS
        if best[0] * f**scale >= 1.0
    ]
    return min(fine, key=lambda kb: _lead_error(race, kb, noise, targets))


def _calibrate_lead_and_noise(
    race: _SyntheticRace, leaders: float, top_share: float, top5: float
) -> tuple[float, float, float]:
    """Stints, decay and rank noise matching leaders, top share and top-5 share.

    Stints and decay are fitted noise-free (coarse grid, then a finer one), the noise to the top-5 share;
    noise also lowers the top share (the winner, who leads the last lap, is then less often the car that
    leads most), so stints and decay are refitted once with the noise in place and the noise re-bisected.
    """
    targets = (leaders, top_share, top5)
    coarse = [(float(k), float(b)) for k in STINT_GRID for b in LEAD_DECAY_GRID]
    best = min(coarse, key=lambda kb: _lead_error(race, kb, 0.0, targets))
    best = _refine_lead(race, best, 0.0, targets, scale=1.0)
    noise = _calibrate_noise(race, *best, top5)
    best = _refine_lead(race, best, noise, targets, scale=0.5)
    noise = _calibrate_noise(race, *best, top5)
    return best[0], best[1], noise


def _bisect(fn, lo: float, hi: float, target: float, increasing: bool, steps: int = BISECT_STEPS) -> float:
    """Argument where a monotone (in expectation; common random numbers) ``fn`` reaches ``target``."""
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if (fn(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _calibrate_noise(race: _SyntheticRace, stints: float, decay: float, top5: float) -> float:
    def top5_share(noise: float) -> float:
        return race.simulate(stints, decay, noise, 0.0, 0.8)["top5_share"]

    return _bisect(top5_share, 0.0, MAX_LEAD_NOISE, top5, increasing=False)


def _calibrate_fastest(race: _SyntheticRace, green_share: float, top_share: float) -> float:
    def fastest_top(decay: float) -> float:
        return race.simulate(1.0, 0.0, 0.0, decay, green_share)["fastest_top_share"]

    return _bisect(fastest_top, 0.0, MAX_FASTEST_DECAY, top_share, increasing=True)


def _shrunk(own: pd.Series, pooled: pd.Series) -> float:
    """Mean of this track type's races, pulled toward the pooled mean by SHRINK_RACES pseudo-races."""
    own = own.dropna()
    return float((own.sum() + SHRINK_RACES * pooled.dropna().mean()) / (own.size + SHRINK_RACES))


def _beta_from_moments(shares: pd.Series, pooled: pd.Series) -> tuple[float, float]:
    mean = _shrunk(shares, pooled)
    pooled_var = pooled.dropna().var()
    own = shares.dropna()
    var = (
        (own.var() * own.size + SHRINK_RACES * pooled_var) / (own.size + SHRINK_RACES)
        if own.size > 1
        else pooled_var
    )
    concentration = max(mean * (1 - mean) / max(var, 1e-6) - 1.0, 2.0)
    return mean * concentration, (1 - mean) * concentration


def _default_fastest_stats(stats: pd.DataFrame) -> pd.DataFrame:
    """Stand-in fastest-lap figures for histories that end before 2019 (no loop data).

    Means of the 2019-2024 Cup points races in the shared data (measured once; a deliberate, documented
    look-ahead used only where no earlier fastest-lap data exist): fastest laps cover 82 % of the laps
    (sd 7 points) and the top fastest-lap driver holds 23 % of them (9 % at superspeedways).
    """
    out = stats.copy()
    out["green_share"] = np.where(np.arange(len(out)) % 2 == 0, 0.75, 0.89)  # mean .82, sd .07
    out["fastest_top_share"] = np.where(out["track_type"] == "superspeedway", 0.09, 0.23)
    return out


def estimate_dominance(history: _History, race_id: str) -> DominanceParams:
    """Calibrate the laps-led / fastest-lap allocators on the points races before ``race_id``."""
    races = _races_before(history, race_id)
    if not races.empty:
        races = races[races["season"] > int(races["season"].max()) - LOOKBACK_SEASONS]
    if races.empty:
        raise ValueError(f"no points races before {race_id!r} to estimate dominance from")
    stats = race_dominance_stats(races, history.results[history.results["race_id"].isin(races["race_id"])])
    with_fastest = stats[stats["fastest_total"].notna() & (stats["fastest_total"] > 0)]
    measured_fastest = not with_fastest.empty
    if not measured_fastest:
        # Before 2019 there is no fastest-lap data: fall back to fixed 2019-2024 figures (documented).
        with_fastest = _default_fastest_stats(stats)
    by_type: dict[str, TrackDominance] = {}
    for track_type in TRACK_TYPES:
        own = stats[stats["track_type"] == track_type]
        own_fastest = with_fastest[with_fastest["track_type"] == track_type]
        ref = own if not own.empty else stats
        laps = int(ref["laps"].median())
        drivers = round(ref["drivers"].mean())
        leaders = _shrunk(own["leaders"], stats["leaders"])
        top_share = _shrunk(own["top_share"], stats["top_share"])
        top5 = _shrunk(own["top5_share"], stats["top5_share"])
        fastest_top = _shrunk(own_fastest["fastest_top_share"], with_fastest["fastest_top_share"])
        green_a, green_b = _beta_from_moments(own_fastest["green_share"], with_fastest["green_share"])
        dnf_rate = _shrunk(own["dnf_rate"], stats["dnf_rate"])
        race = _SyntheticRace(laps=laps, drivers=drivers, dnf_rate=dnf_rate)
        stints, lead_decay, lead_noise = _calibrate_lead_and_noise(race, leaders, top_share, top5)
        fastest_decay = _calibrate_fastest(race, green_a / (green_a + green_b), fastest_top)
        by_type[track_type] = TrackDominance(
            lead_stints=stints,
            lead_decay=lead_decay,
            lead_noise=lead_noise,
            fastest_decay=fastest_decay,
            green_a=float(green_a),
            green_b=float(green_b),
            races=len(own),
            fastest_races=len(own_fastest) if measured_fastest else 0,
            leaders_mean=leaders,
            top_share_mean=top_share,
            top5_share_mean=top5,
            fastest_top_share_mean=fastest_top,
        )
    return DominanceParams(by_track_type=by_type, trained_through=str(races["race_id"].iloc[-1]))

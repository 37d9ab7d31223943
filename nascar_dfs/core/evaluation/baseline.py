"""The naive baseline every model must beat: a driver's recent races replayed at today's start.

For each driver of the field, the ensemble holds his last `n_recent` points races (any track,
before the target race): their finishing positions, and the DraftKings points those finishes,
laps led and fastest laps would score from the driver's CURRENT starting position under the
target season's scoring. A driver with fewer races uses what he has.

Population fallback for a driver with no earlier race: the pooled first `n_recent` starts of
every driver who debuted inside the history (his first race is after the history's first
season, so those starts are true early-career starts, not the middle of a veteran's career).
If the history has no such debutant (the target is in its first season), the fallback pools
every earlier result.

Finishing positions from bigger fields are clipped to the current field size: a replayed 40th
cannot happen in a 36-car race, and the last place is its nearest possible outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nascar_dfs.core.field import Field
from nascar_dfs.core.scoring import dk_points

N_RECENT = 12
REQUIRED_COLUMNS = ("race_id", "season", "race_num", "driver", "finish", "laps_led", "fastest_laps")
# What a replayed race carries beyond its finish when the results have laps and status (the ranked
# replay of core/scenarios/forecasters.py needs them): whether the car failed, the share of the race's
# laps it completed, its shares of the race's laps led and of its credited fastest laps, and the
# race's fastest laps over its laps (its green share; 0 where fastest laps were not recorded).
RACE_SHARES = ("dnf", "laps_share", "led_share", "fastest_share", "green_share")


@dataclass(frozen=True)
class BaselineForecast:
    """Ragged ensembles for one field: column j follows ``drivers``, NaN pads short columns."""

    drivers: tuple[str, ...]
    finish: np.ndarray  # (M, D) float
    dk_points: np.ndarray  # (M, D) float
    members: np.ndarray  # (D,) int, races behind each driver's ensemble
    fallback: np.ndarray  # (D,) bool, driver had no earlier race and got the population pool
    laps_led: np.ndarray | None = None  # (M, D) float, the replayed races' laps led
    # (M, D) float per RACE_SHARES name, when the results had laps and status
    shares: dict[str, np.ndarray] | None = None
    fastest_laps: np.ndarray | None = None  # (M, D) float, their fastest laps (0 before 2019)
    starts: np.ndarray | None = None  # (D,) the field's starts the DK points were scored from
    season: int | None = None  # the season whose DK scoring was used


def _checked_results(results: pd.DataFrame, field: Field) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results lack column(s) {', '.join(missing)} needed by the baseline")
    if results.empty:
        raise ValueError(f"no results before {field.race_id}: the baseline has nothing to replay")
    if (results["race_id"] == field.race_id).any():
        raise ValueError(f"results include the target race {field.race_id}; pass earlier races only")
    ordered = results.sort_values(["season", "race_num"], kind="stable").reset_index(drop=True)
    ordered["laps_led"] = ordered["laps_led"].fillna(0)
    ordered["fastest_laps"] = ordered["fastest_laps"].fillna(0)  # not recorded before 2019
    if {"laps", "status"} <= set(ordered.columns):
        ordered = _with_race_shares(ordered)
    return ordered


def _with_race_shares(ordered: pd.DataFrame) -> pd.DataFrame:
    """RACE_SHARES columns: each row's part of its own race (race laps = the most laps completed)."""
    by_race = ordered.groupby("race_id", sort=False)
    race_laps = by_race["laps"].transform("max").astype(np.float64)
    fastest_total = by_race["fastest_laps"].transform("sum").astype(np.float64)
    laps = ordered["laps"].fillna(0).astype(np.float64)
    return ordered.assign(
        dnf=(ordered["status"].fillna("").str.lower() != "running").astype(np.float64),
        laps_share=np.where(race_laps > 0, laps / race_laps, 0.0),
        led_share=np.where(race_laps > 0, ordered["laps_led"] / race_laps, 0.0),
        fastest_share=np.where(fastest_total > 0, ordered["fastest_laps"] / fastest_total, 0.0),
        green_share=np.where(race_laps > 0, np.minimum(fastest_total / race_laps, 1.0), 0.0),
    )


def _carried(frame: pd.DataFrame) -> list[str]:
    return ["finish", "laps_led", "fastest_laps", *(c for c in RACE_SHARES if c in frame.columns)]


def _recent_races(ordered: pd.DataFrame, drivers: list[str], n_recent: int) -> pd.DataFrame:
    """Each listed driver's last n_recent rows, with the member index within his ensemble."""
    rows = ordered[ordered["driver"].isin(drivers)].groupby("driver", sort=False).tail(n_recent)
    rows = rows.assign(member=rows.groupby("driver", sort=False).cumcount())
    return rows[["driver", "member", *_carried(rows)]]


def population_pool(ordered: pd.DataFrame, n_recent: int = N_RECENT) -> pd.DataFrame:
    """Results standing in for a driver with no history (see the module docstring)."""
    first_season = ordered["season"].min()
    debut_season = ordered.groupby("driver")["season"].transform("min")
    debutants = ordered[debut_season > first_season]
    if debutants.empty:
        return ordered
    return debutants.groupby("driver", sort=False).head(n_recent)


def _fallback_rows(pool: pd.DataFrame, drivers: list[str]) -> pd.DataFrame:
    """The whole pool, once for every driver without history."""
    members = np.arange(len(pool))
    repeated = pool.iloc[np.tile(members, len(drivers))]
    return pd.DataFrame(
        {
            "driver": np.repeat(drivers, len(pool)),
            "member": np.tile(members, len(drivers)),
            **{c: repeated[c].to_numpy() for c in _carried(pool)},
        }
    )


def naive_baseline(results: pd.DataFrame, field: Field, n_recent: int = N_RECENT) -> BaselineForecast:
    """Baseline ensembles of finish and DK points for `field` from results of EARLIER races only."""
    if n_recent < 1:
        raise ValueError(f"n_recent must be at least 1, got {n_recent}")
    ordered = _checked_results(results, field)
    drivers = list(field.drivers)
    seen = set(ordered["driver"])
    newcomers = [d for d in drivers if d not in seen]
    rows = _recent_races(ordered, drivers, n_recent)
    if newcomers:
        rows = pd.concat([rows, _fallback_rows(population_pool(ordered, n_recent), newcomers)])

    column = pd.Series(np.arange(field.size), index=drivers)[rows["driver"]].to_numpy()
    member = rows["member"].to_numpy()
    finish = np.minimum(rows["finish"].to_numpy(dtype=np.int64), field.size)
    led = rows["laps_led"].to_numpy()
    if field.starts is None:  # unknown grid (quarantined starts): no place differential to score
        points = np.full(finish.shape, np.nan)
    else:
        start = np.asarray(field.starts)[column]
        points = dk_points(finish, start, led, rows["fastest_laps"].to_numpy(), field.season)

    n_members = int(member.max()) + 1

    def ensemble(values: np.ndarray) -> np.ndarray:
        out = np.full((n_members, field.size), np.nan)
        out[member, column] = values
        return out

    return BaselineForecast(
        drivers=field.drivers,
        finish=ensemble(finish),
        dk_points=ensemble(points),
        members=np.bincount(column, minlength=field.size),
        fallback=np.isin(drivers, newcomers),
        laps_led=ensemble(led.astype(np.float64)),
        fastest_laps=ensemble(rows["fastest_laps"].to_numpy(dtype=np.float64)),
        starts=np.asarray(field.starts),
        season=field.season,
        shares=(
            {c: ensemble(rows[c].to_numpy(dtype=np.float64)) for c in RACE_SHARES}
            if all(c in rows.columns for c in RACE_SHARES)
            else None
        ),
    )


SMOOTHED_MEMBERS = 2000  # draws from the smoothed replay: its fair CRPS is then the smooth law's
MIN_BANDWIDTH = 0.5  # places: a driver with identical finishes still spreads over his neighbours


def smoothed_baseline(
    base: BaselineForecast, rng: np.random.Generator, members: int = SMOOTHED_MEMBERS
) -> BaselineForecast:
    """The replay smoothed by a Gaussian kernel over finishing positions: a stronger naive forecast.

    Each driver's replayed finishes become a kernel density with Silverman's rule-of-thumb bandwidth
    (0.9 min(sd, IQR/1.34) m^(-1/5) over his m races, at least ``MIN_BANDWIDTH``), rounded and
    clipped to the field's places. A member draws one of his races, jitters its finish by the
    kernel and keeps that race's laps led and fastest laps; DK points follow from today's start.
    No parameter is fitted to any season: the bandwidth is the textbook rule. Marginal per driver
    (members are not joint races), which is all the scores need.
    """
    if base.laps_led is None or base.fastest_laps is None or base.starts is None or base.season is None:
        raise ValueError("the replay lacks laps led, fastest laps or starts: build it with naive_baseline")
    size = base.finish.shape[1]
    finish = np.empty((members, size))
    led = np.empty((members, size))
    fastest = np.empty((members, size))
    for j in range(size):
        own = np.flatnonzero(~np.isnan(base.finish[:, j]))
        values = base.finish[own, j]
        m = len(values)
        spread = np.std(values, ddof=1) if m > 1 else 0.0
        q75, q25 = np.percentile(values, [75, 25])
        scale = min(spread, (q75 - q25) / 1.34) or spread
        bandwidth = max(0.9 * scale * m ** (-0.2), MIN_BANDWIDTH)
        pick = own[rng.integers(0, m, members)]
        jittered = base.finish[pick, j] + bandwidth * rng.standard_normal(members)
        finish[:, j] = np.clip(np.rint(jittered), 1, size)
        led[:, j] = base.laps_led[pick, j]
        fastest[:, j] = base.fastest_laps[pick, j]
    points = dk_points(finish.astype(np.int64), base.starts[None, :], led, fastest, base.season)
    return BaselineForecast(
        drivers=base.drivers,
        finish=finish,
        dk_points=np.asarray(points, dtype=np.float64),
        members=np.full(size, members),
        fallback=base.fallback,
        laps_led=led,
        fastest_laps=fastest,
        starts=base.starts,
        season=base.season,
    )

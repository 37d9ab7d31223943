"""A small SYNTHETIC data set in the shared layout, so the platform runs end to end without real data.

Nothing here is real: drivers ("Demo Driver 01"), teams ("Demo Team A"), tracks ("demo-speedway")
and every result are drawn from a latent-skill Plackett-Luce process with a fixed seed. Every row
carries `source = synthetic-demo`.

Process per race: a driver's strength is team quality + driver skill + a track-type deviation;
qualifying orders strength plus noise; the finish is a Plackett-Luce draw (Gumbel-max) on
strength plus a start-position effect, with noise that grows on superspeedways; some cars fail
(accident/engine), complete fewer laps and are classified behind the running cars by laps
completed. Laps are led lap by lap by a running car (a leader keeps the lead with high
probability), so laps led sum to the race length exactly; about 80 % of laps award a fastest lap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nascar_dfs.core.data.files import atomic_write_frame, atomic_write_text
from nascar_dfs.core.scoring import dk_points
from nascar_dfs.core.tracks import TRACK_TYPES, track_type_of_family

DEMO_DIR: Path = Path(__file__).resolve().parents[2] / "demo_data"
DEMO_SEED = 20261128
SOURCE = "synthetic-demo"
SEASONS: tuple[int, ...] = (2025, 2026)
N_DRIVERS = 36
DRIVERS_PER_TEAM = 3
UPCOMING_RACE_NUM = 13
FASTEST_LAP_SHARE = 0.8
MAKES: tuple[str, ...] = ("Chevrolet", "Ford", "Toyota")


@dataclass(frozen=True)
class DemoTrack:
    slug: str
    name: str
    length_mi: float
    surface: str
    family: str  # primary_family in track_configurations.csv
    laps: int
    finish_noise: float  # Gumbel scale of the finishing order: pack racing is a lottery
    dnf_rate: float


TRACKS: tuple[DemoTrack, ...] = (
    DemoTrack("demo-superspeedway", "Demo International Superspeedway", 2.5, "paved",
              "Drafting superspeedway", 200, 2.2, 0.16),
    DemoTrack("demo-speedway", "Demo Motor Speedway", 1.5, "paved", "Intermediate oval", 267, 0.9, 0.07),
    DemoTrack("demo-raceway", "Demo Two-Mile Raceway", 2.0, "paved", "High-speed intermediate", 200, 1.0,
              0.07),
    DemoTrack("demo-short-track", "Demo Short Track", 0.53, "paved", "Short oval", 500, 0.8, 0.06),
    DemoTrack("demo-mile", "Demo Flat Mile", 1.0, "paved", "Flat short oval", 312, 0.8, 0.05),
    DemoTrack("demo-road-course", "Demo Road Course", 2.4, "road", "Permanent road course", 90, 1.1, 0.06),
    DemoTrack("demo-dirt-track", "Demo Dirt Track", 0.53, "dirt", "Dirt oval", 250, 1.4, 0.10),
)  # fmt: skip
# One season: 12 points races; the demo schedule repeats it, and race 13 of the last season is upcoming.
SCHEDULE: tuple[str, ...] = (
    "demo-superspeedway", "demo-speedway", "demo-short-track", "demo-road-course", "demo-mile",
    "demo-raceway", "demo-speedway", "demo-dirt-track", "demo-short-track", "demo-superspeedway",
    "demo-road-course", "demo-speedway", "demo-mile",
)  # fmt: skip


@dataclass(frozen=True)
class DemoDrivers:
    names: tuple[str, ...]
    teams: tuple[str, ...]
    team_abbrevs: tuple[str, ...]
    makes: tuple[str, ...]
    car_numbers: tuple[str, ...]
    strength: np.ndarray  # (n_drivers, n_track_types): team + driver + track-type deviation


def write_demo_data(out_dir: Path | str, seed: int = DEMO_SEED) -> Path:
    """Write the synthetic demo folder (shared layout + DKSalaries.csv + README.md) to `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    drivers = _demo_drivers(rng)
    races = _race_table()
    results = pd.concat(
        [_race_results(rng, drivers, race) for race in races[races["in_cup_results"]].itertuples()],
        ignore_index=True,
    )
    upcoming = races[~races["in_cup_results"]].iloc[0]
    atomic_write_frame(out / "races.csv", races)
    atomic_write_frame(out / "cup_results.csv", results)
    atomic_write_frame(out / "loop_data.csv", _loop_table(results))
    atomic_write_frame(out / "tracks.csv", _tracks_table(races))
    atomic_write_frame(out / "track_configurations.csv", _configs_table())
    atomic_write_frame(out / "DKSalaries.csv", _salaries(rng, drivers, results, upcoming))
    atomic_write_text(out / "README.md", _readme(seed, upcoming))
    return out


def _demo_drivers(rng: np.random.Generator) -> DemoDrivers:
    n_teams = N_DRIVERS // DRIVERS_PER_TEAM
    team_quality = rng.normal(0.0, 0.6, n_teams)
    team_of = np.repeat(np.arange(n_teams), DRIVERS_PER_TEAM)
    skill = team_quality[team_of] + rng.normal(0.0, 0.7, N_DRIVERS)
    by_type = rng.normal(0.0, 0.35, (N_DRIVERS, len(TRACK_TYPES)))
    letters = [chr(ord("A") + t) for t in range(n_teams)]
    numbers = rng.choice(np.arange(1, 100), N_DRIVERS, replace=False)
    return DemoDrivers(
        names=tuple(f"Demo Driver {i + 1:02d}" for i in range(N_DRIVERS)),
        teams=tuple(f"Demo Team {letters[t]}" for t in team_of),
        team_abbrevs=tuple(f"DT{letters[t]}" for t in team_of),
        makes=tuple(MAKES[t % len(MAKES)] for t in team_of),
        car_numbers=tuple(str(int(n)) for n in numbers),
        strength=skill[:, None] + by_type,
    )


def _race_table() -> pd.DataFrame:
    tracks = {t.slug: t for t in TRACKS}
    rows = []
    for season in SEASONS:
        n_races = UPCOMING_RACE_NUM if season == SEASONS[-1] else UPCOMING_RACE_NUM - 1
        seen: dict[str, int] = {}
        for race_num, slug in enumerate(SCHEDULE[:n_races], start=1):
            seen[slug] = seen.get(slug, 0) + 1
            track = tracks[slug]
            upcoming = season == SEASONS[-1] and race_num == UPCOMING_RACE_NUM
            race_date = dt.date(season, 2, 16) + dt.timedelta(weeks=race_num - 1)
            rows.append({
                "race_id": f"{season}-cup-{slug}-{seen[slug]}", "series": "cup", "season": season,
                "race_num": race_num, "race_date": race_date.isoformat(), "event_type": "points",
                "nascar_race_id": "", "track": track.name, "track_slug": slug,
                "race_name": f"Synthetic Demo {race_num:02d} {season}", "laps": track.laps,
                "n_drivers": N_DRIVERS, "in_cup_results": not upcoming, "in_loop_data": not upcoming,
                "source": SOURCE,
            })  # fmt: skip
    return pd.DataFrame(rows)


def _track(slug: str) -> DemoTrack:
    return next(t for t in TRACKS if t.slug == slug)


def _race_results(rng: np.random.Generator, drivers: DemoDrivers, race) -> pd.DataFrame:
    track = _track(race.track_slug)
    type_index = TRACK_TYPES.index(track_type_of_family(track.family))
    strength = drivers.strength[:, type_index]
    start = _qualify(rng, strength, track)
    finish, laps, status = _finish(rng, strength, start, track)
    laps_led, fastest = _lap_awards(rng, finish, laps, track.laps)
    order = np.argsort(finish)
    return pd.DataFrame({
        "race_id": race.race_id, "season": race.season, "race_num": race.race_num, "track_slug": track.slug,
        "finish": finish[order], "start": start[order],
        "car_number": np.array(drivers.car_numbers)[order], "driver": np.array(drivers.names)[order],
        "driver_raw": np.array(drivers.names)[order], "manufacturer": np.array(drivers.makes)[order],
        "team": np.array(drivers.teams)[order], "laps": laps[order], "laps_led": laps_led[order],
        "fastest_laps": fastest[order], "status": status[order], "win": (finish[order] == 1).astype(int),
        "source": SOURCE,
    })  # fmt: skip


def _qualify(rng: np.random.Generator, strength: np.ndarray, track: DemoTrack) -> np.ndarray:
    noise = 1.5 if track.family == "Drafting superspeedway" else 0.6
    pace = strength + rng.normal(0.0, noise, strength.size)
    return _positions(-pace)


def _finish(
    rng: np.random.Generator, strength: np.ndarray, start: np.ndarray, track: DemoTrack
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plackett-Luce order of the running cars (Gumbel-max); failed cars behind them by laps run."""
    n = strength.size
    start_effect = -0.02 * (start - (n + 1) / 2)  # track position is worth something
    utility = strength + start_effect + rng.gumbel(0.0, track.finish_noise, n)
    failed = rng.random(n) < track.dnf_rate
    laps = np.full(n, track.laps, dtype=np.int64)
    laps[failed] = np.floor(rng.uniform(0.03, 0.97, failed.sum()) * track.laps).astype(np.int64)
    # running cars by utility first, then failed cars by laps completed (more laps = better place)
    key = np.where(failed, 1e6 - laps, -utility)
    finish = _positions(key)
    lapped = (~failed) & (finish > 20) & (track.family != "Permanent road course")
    laps[lapped] -= (finish[lapped] - 20) // 4  # back markers lose a lap or a few
    status = np.where(failed, np.where(rng.random(n) < 0.75, "accident", "engine"), "running")
    return finish, laps, status


def _lap_awards(
    rng: np.random.Generator, finish: np.ndarray, laps: np.ndarray, race_laps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Laps led (one leader per lap, sticky) and fastest laps (~80 % of laps) among cars still running."""
    n = finish.size
    lead_weight = np.exp(-(finish - 1) / 3.0)
    fast_weight = np.exp(-(finish - 1) / 7.0)
    led = np.zeros(n, dtype=np.int64)
    fastest = np.zeros(n, dtype=np.int64)
    leader = int(np.argmax(lead_weight * (laps >= 1)))
    switch = rng.random(race_laps)
    fast_lap = rng.random(race_laps) < FASTEST_LAP_SHARE
    for lap in range(1, race_laps + 1):
        running = laps >= lap
        if lap == race_laps:
            leader = int(np.argmin(finish))  # the winner leads the last lap
        elif not running[leader] or switch[lap - 1] < 0.06:
            weights = lead_weight * running
            leader = int(rng.choice(n, p=weights / weights.sum()))
        led[leader] += 1
        if fast_lap[lap - 1]:
            weights = fast_weight * running
            fastest[int(rng.choice(n, p=weights / weights.sum()))] += 1
    return led, fastest


def _positions(key: np.ndarray) -> np.ndarray:
    """1-based ranks of `key` ascending (ties by index)."""
    positions = np.empty(key.size, dtype=np.int64)
    positions[np.argsort(key, kind="stable")] = np.arange(1, key.size + 1)
    return positions


def _loop_table(results: pd.DataFrame) -> pd.DataFrame:
    loop = results[["race_id", "season", "driver", "start", "finish", "fastest_laps", "laps_led", "laps",
                    "status", "source"]].copy()  # fmt: skip
    loop.insert(1, "event_type", "points")
    return loop


def _tracks_table(races: pd.DataFrame) -> pd.DataFrame:
    counts = races.groupby("track_slug").size()
    return pd.DataFrame([
        {"track_slug": t.slug, "track_name": t.name, "length_mi": t.length_mi, "surface": t.surface,
         "first_season": SEASONS[0], "last_season": SEASONS[-1], "points_races": int(counts.get(t.slug, 0)),
         "source": SOURCE}
        for t in TRACKS
    ])  # fmt: skip


def _configs_table() -> pd.DataFrame:
    return pd.DataFrame([
        {"config_id": t.slug.replace("-", "_"), "track_slug": t.slug, "facility": t.name,
         "length_mi": t.length_mi, "primary_family": t.family, "road_course": t.surface == "road",
         "first_year_in_scope": SEASONS[0], "last_year_through_2024": SEASONS[-1], "source": SOURCE}
        for t in TRACKS
    ])  # fmt: skip


def _salaries(
    rng: np.random.Generator, drivers: DemoDrivers, results: pd.DataFrame, race: pd.Series
) -> pd.DataFrame:
    """DKSalaries.csv of the upcoming race: salary follows recent DK points; StartPos is a qualifying draw."""
    scored = results.assign(
        points=dk_points(results["finish"], results["start"], results["laps_led"], results["fastest_laps"],
                         results["season"])
    )  # fmt: skip
    avg_points = scored.groupby("driver")["points"].mean().reindex(list(drivers.names)).to_numpy()
    recent = scored[scored["season"] == SEASONS[-1]].groupby("driver")["points"].mean()
    form = recent.reindex(list(drivers.names)).to_numpy() + rng.normal(0.0, 3.0, N_DRIVERS)
    rank = _positions(-form)  # 1 = best recent form
    salary = (11500 - np.round((rank - 1) * (7000 / (N_DRIVERS - 1)) / 100) * 100).astype(np.int64)
    track = _track(str(race["track_slug"]))
    start = _qualify(rng, drivers.strength[:, TRACK_TYPES.index(track_type_of_family(track.family))], track)
    ownership = np.exp(-(rank - 1) / 9.0) + 0.05 * rng.random(N_DRIVERS)
    ownership = np.round(600.0 * ownership / ownership.sum(), 1)  # six drivers per lineup: sums to ~600 %
    dk_ids = 90000000 + np.arange(N_DRIVERS)
    game = (
        f"Synthetic Demo Race {dt.date.fromisoformat(str(race['race_date'])).strftime('%m/%d/%Y')} 03:00PM ET"
    )
    table = pd.DataFrame({
        "Position": "D", "Name + ID": [f"{n} ({i})" for n, i in zip(drivers.names, dk_ids, strict=True)],
        "Name": drivers.names, "ID": dk_ids, "Roster Position": "D", "Salary": salary, "Game Info": game,
        "TeamAbbrev": drivers.team_abbrevs, "AvgPointsPerGame": np.round(avg_points, 2), "StartPos": start,
        "Projected Ownership": ownership,
    })  # fmt: skip
    return table.sort_values(["Salary", "ID"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _readme(seed: int, upcoming: pd.Series) -> str:
    return f"""# Demo data — SYNTHETIC, NOT REAL NASCAR DATA

Every row in this folder is invented (`source = {SOURCE}`): drivers "Demo Driver 01".."Demo Driver 36",
teams "Demo Team A".."L", tracks "demo-*" and all results, salaries, start positions and ownership.
Nothing here describes a real race, driver or DraftKings contest. Use it to run the platform end to end
without the real history (`/work/shared/data/nascar`).

Generated by `scripts/make_demo_data.py` (logic in `nascar_dfs/core/data/demo.py`) with seed {seed}:
seasons {SEASONS[0]}-{SEASONS[-1]}, {UPCOMING_RACE_NUM - 1} completed points races per season on
{len(TRACKS)} fictional tracks of all five track types, {N_DRIVERS} drivers in {N_DRIVERS // DRIVERS_PER_TEAM}
teams.
Results come from a latent-skill Plackett-Luce process with a start-position effect, failures
(accident/engine), laps led summing to each race's laps and fastest laps on about 80 % of laps.

Files (shared layout): `races.csv`, `cup_results.csv`, `loop_data.csv` (minimal columns), `tracks.csv`,
`track_configurations.csv`, and `DKSalaries.csv` for the upcoming race `{upcoming["race_id"]}`
(in `races.csv`, no results yet), with extra columns `StartPos` and `Projected Ownership` (percent).
Regenerate with `python scripts/make_demo_data.py`; the output is byte-for-byte deterministic.
"""

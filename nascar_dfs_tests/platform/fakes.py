"""Stand-ins for the science, so platform behaviour (reuse, staleness, checks, tags) is tested in
seconds. The real chain runs in test_chain.py."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nascar_dfs.core.data.draftkings import Slate
from nascar_dfs.core.field import Field
from nascar_dfs.core.optimizer.portfolio import Lineup, Portfolio
from nascar_dfs.core.scenarios.types import ScenarioSet

RACES = ["2024-cup-atlanta-1", "2024-cup-dover-1", "2024-cup-phoenix-1", "2024-cup-martinsville-2",
         "2024-cup-phoenix-2"]  # fmt: skip
COMPLETED = RACES[:4]
TRACK_TYPES = {"2024-cup-atlanta-1": "superspeedway"}  # the others are short tracks
UPCOMING = RACES[4]
DRIVERS = [f"Driver {c}" for c in "ABCDEFGHIJ"]


@dataclass(frozen=True)
class FakeDiagnostics:
    divergences: int = 0
    max_rhat: float = 1.01
    min_ess_bulk: float = 400.0
    chains: int = 2
    draws: int = 100
    sampler: str = "fake"
    timings: dict[str, float] = field(default_factory=lambda: {"compile": 0.5, "sample": 1.5})


@dataclass(frozen=True)
class FakeModel:
    race_id: str
    version: str
    track_type: str = "intermediate"
    diagnostics: FakeDiagnostics = field(default_factory=FakeDiagnostics)


class FakeFitError(RuntimeError):
    def __init__(self, broken: list[str]) -> None:
        self.broken = broken
        self.diagnostics = FakeDiagnostics(divergences=50)
        super().__init__("; ".join(broken))


class FakeHistory:
    def __init__(self, races: list[str], completed: list[str], dates: dict[str, str]) -> None:
        self.races = pd.DataFrame(
            {
                "race_id": races,
                "race_date": [dates.get(r) for r in races],
                "season": 2024,
                "race_num": range(1, len(races) + 1),
                "track_type": [TRACK_TYPES.get(r, "short") for r in races],
            }
        )
        self.results = pd.DataFrame({"race_id": completed})
        self.quarantine: tuple[Any, ...] = ()  # clean data: nothing set aside (core/data/quality.py)

    def points_races(self) -> pd.DataFrame:
        return self.races

    def has_results(self, race: str) -> bool:
        return race in set(self.results["race_id"])

    def race(self, race: str) -> Any:
        row = self.races[self.races["race_id"] == race].iloc[0]
        return type("RaceInfo", (), {"race_date": row["race_date"]})()


@dataclass
class FakeScience:
    """Knobs a test turns: what the next fit, simulation and evaluation produce."""

    data_dir: Path
    rejection_rate: float = 0.0
    crps: float = 5.0
    baseline_crps: float = 6.0
    fail_fit: bool = False
    dates: dict[str, str] = field(default_factory=dict)
    fits: int = 0
    simulations: list[int] = field(default_factory=list)  # seeds used
    # fair finish CRPS each candidate forecaster scores on every race (score_candidates)
    candidate_crps: dict[str, float] = field(default_factory=lambda: {"model": 5.0, "replay": 6.0})
    fail_scoring: bool = False
    scored_with: list[tuple[str, str]] = field(default_factory=list)  # (race scored, race of the fit)
    forecasters: list[str] = field(default_factory=list)  # forecaster of every scenario set
    first_lineup: int = 0  # which 6-driver combination the next portfolio starts at (another build)

    def demo_data_dir(self) -> Path:
        return self.data_dir

    def load_history(self, data_dir: Path) -> FakeHistory:
        return FakeHistory(RACES, COMPLETED, self.dates)

    def read_slate(self, path: Path) -> Slate:
        players = pd.DataFrame(
            {
                "name": DRIVERS,
                "driver": DRIVERS,
                "dk_id": np.arange(1001, 1001 + len(DRIVERS), dtype=np.int64),
                "salary": np.full(len(DRIVERS), 8000, dtype=np.int64),
                "team": ["T"] * len(DRIVERS),
                "avg_points": np.linspace(50, 20, len(DRIVERS)),
            }
        )
        return Slate(players=players, source=str(path))

    def match_slate(self, slate: Slate, history: Any) -> Slate:
        return slate

    def slate_field(self, slate: Slate, history: Any, race: str, starts: Any = None) -> Field:
        n = len(slate.players)
        return Field(race, 2024, "x", "intermediate", 300, tuple(DRIVERS), ("T",) * n, ("Ford",) * n,
                     np.arange(1, n + 1))  # fmt: skip

    def fit(self, history: Any, race: str, options: dict[str, Any]) -> FakeModel:
        if self.fail_fit:
            raise FakeFitError(["max_divergences: 50 divergent transitions > 5"])
        self.fits += 1
        # A refit of the real model with other data or seed gives another content hash.
        version = hashlib.sha256(f"{race}-{self.fits}-{options}".encode()).hexdigest()[:16]
        return FakeModel(race, version)

    def simulate(self, model: Any, race_field: Field, spec: Any, seed: int) -> ScenarioSet:
        self.simulations.append(seed)
        rng = np.random.default_rng(seed)
        n, d = 50, race_field.size
        finish = np.argsort(rng.random((n, d)), axis=1).astype(np.int16) + 1
        zeros = np.zeros((n, d), dtype=np.int32)
        return ScenarioSet(
            race_id=race_field.race_id, drivers=race_field.drivers, starts=race_field.starts, finish=finish,
            dnf=np.zeros((n, d), bool), laps_completed=zeros + 300, laps_led=zeros, fastest_laps=zeros,
            green_laps=np.full(n, 250, np.int32), dk_points=rng.random((n, d)).astype(np.float32), seed=seed,
            draws=n, rejection_rate=self.rejection_rate,
        )  # fmt: skip

    def simulate_forecaster(
        self, forecaster: str, model: Any, history: Any, race_field: Field, spec: Any, seed: int
    ) -> ScenarioSet:
        self.forecasters.append(forecaster)
        # Through the seam, so a test that replaces science.simulate sees this call too.
        from nascar_dfs.platform import science

        return science.simulate(model, race_field, spec, seed)

    def score_candidates(
        self, model: Any, history: Any, race: str, scenarios: int, seed: int
    ) -> dict[str, Any]:
        if self.fail_scoring:
            raise ValueError(f"no result for Driver Z in {race}")
        self.scored_with.append((race, model.race_id))
        row = history.races.set_index("race_id").loc[race]
        return {
            "race": race,
            "season": int(row["season"]),
            "race_num": int(row["race_num"]),
            "track_type": str(row["track_type"]),
            "finish_crps": dict(self.candidate_crps),
            "dk_crps": {name: 2 * crps for name, crps in self.candidate_crps.items()},
        }

    def portfolio(self, slate: Slate, spec: Any, scenarios: ScenarioSet) -> Portfolio:
        players = slate.players
        combos = itertools.islice(
            itertools.combinations(range(len(players)), 6),
            self.first_lineup,
            self.first_lineup + spec.lineups,
        )
        lineups = tuple(
            Lineup(
                drivers=tuple(players["name"].iloc[list(c)]),
                dk_ids=tuple(int(i) for i in players["dk_id"].iloc[list(c)]),
                salary=int(players["salary"].iloc[list(c)].sum()),
                projection=0.0,
                objective_value=0.0,
            )
            for c in combos
        )
        return Portfolio(lineups=lineups, exposures={}, objective="mean", method="scan")

    def score_finish(self, model: Any, history: Any, race: str, scenarios: int, seed: int) -> dict[str, Any]:
        return {"race": race, "crps": self.crps, "baseline_crps": self.baseline_crps, "pit": [0.1, 0.5, 0.9]}


def write_calendar(data_dir: Path, races: list[str], completed: list[str], dates: dict[str, str]) -> None:
    """races.csv and cup_results.csv with just the columns the calendar reads."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "race_id": races,
            "season": 2024,
            "race_num": range(1, len(races) + 1),
            "race_date": [dates.get(r, "") for r in races],
            "event_type": "points",
        }
    ).to_csv(data_dir / "races.csv", index=False)
    pd.DataFrame({"race_id": completed, "driver": "x"}).to_csv(data_dir / "cup_results.csv", index=False)
    (data_dir / "DKSalaries.csv").write_text("placeholder: the fake slate reader ignores it\n")

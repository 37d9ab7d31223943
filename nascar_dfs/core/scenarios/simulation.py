"""One batch of simulated races (no views, no validation): the core of the scenario kernel.

See ``kernel.py`` for the model. Kept apart from the kernel so the dominance calibration can run the very
same simulation on synthetic fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from nascar_dfs.core.field import Field
from nascar_dfs.core.model.design import standardize_starts
from nascar_dfs.core.model.types import FieldParams
from nascar_dfs.core.scenarios.allocation import (
    allocate_fastest_laps,
    allocate_laps_led,
    draw_green_laps,
    noisy_ranks,
    row_ranks,
)
from nascar_dfs.core.scenarios.starts import sample_starts
from nascar_dfs.core.scoring import dk_points


class AllocatorParams(Protocol):
    """The per-track-type knobs of ``dominance.TrackDominance`` that a simulation needs."""

    lead_stints: float
    lead_decay: float
    lead_noise: float
    fastest_decay: float
    green_a: float
    green_b: float


@dataclass(frozen=True)
class Outcomes:
    """A batch of simulated races, (N, D) arrays following field.drivers."""

    finish: np.ndarray
    dnf: np.ndarray
    laps_completed: np.ndarray
    laps_led: np.ndarray
    fastest_laps: np.ndarray
    green_laps: np.ndarray
    dk_points: np.ndarray
    starts: np.ndarray  # (N, D) starting grid of each race: the field's, or simulated when unknown

    def select(self, keep: np.ndarray) -> Outcomes:
        return Outcomes(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))

    @staticmethod
    def concat(parts: Sequence[Outcomes]) -> Outcomes:
        fields = Outcomes.__dataclass_fields__
        return Outcomes(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


def _ranks(values: np.ndarray) -> np.ndarray:
    """Rank of each entry within its row, 0 = smallest."""
    return row_ranks(values)


def simulate_batch(
    params: FieldParams, field: Field, dom: AllocatorParams, n: int, rng: np.random.Generator
) -> Outcomes:
    """n unconstrained simulated races (no views, no validation)."""
    d, laps = field.size, field.laps
    draw = rng.integers(0, params.log_worth.shape[0], n)
    performance = params.log_worth[draw]
    if field.starts is None:
        # Unknown grid: every race draws its own from the drivers' recent starts, and the model's
        # start term (left out of log_worth, see FittedModel.field_params) follows that grid.
        starts = sample_starts(field.recent_starts, d, n, rng)
        if params.start_slope is not None:
            performance = performance + params.start_slope[draw][:, None] * standardize_starts(starts, d)
    else:
        starts = np.broadcast_to(np.asarray(field.starts, dtype=np.int64)[None, :], (n, d))
    # Gumbel-max: forward PL picks the winner first (largest log-worth + G); reverse PL picks last
    # place first (largest -log-worth + G), so its finishing order is by log-worth - G, best first
    shock = rng.gumbel(size=(n, d))
    performance = performance + (shock if params.likelihood == "forward" else -shock)
    rank = _ranks(-performance)

    dnf = rng.random((n, d)) < params.dnf_prob[draw]
    all_out = dnf.all(axis=1)
    dnf[all_out, np.argmin(rank[all_out], axis=1)] = False
    fail_lap = rng.integers(0, laps, size=(n, d))
    laps_completed = np.where(dnf, fail_lap, laps).astype(np.int32)

    # Running cars by performance rank, then DNFs by laps completed; keys are unique within a row.
    key = np.where(dnf, d + (laps - laps_completed).astype(np.int64) * d + rank, rank)
    finish = (_ranks(key) + 1).astype(np.int16)
    winner = np.argmin(key, axis=1)

    front = noisy_ranks(rank, dom.lead_noise, rng)
    laps_led = allocate_laps_led(front, laps_completed, winner, laps, dom.lead_stints, dom.lead_decay, rng)
    green = draw_green_laps(n, laps, dom.green_a, dom.green_b, rng)
    fastest = allocate_fastest_laps(front, laps_completed, winner, green, laps, dom.fastest_decay, rng)
    points = dk_points(finish, starts, laps_led, fastest, field.season)
    return Outcomes(
        finish=finish,
        dnf=dnf,
        laps_completed=laps_completed,
        laps_led=laps_led,
        fastest_laps=fastest,
        green_laps=green,
        dk_points=points.astype(np.float32),
        starts=starts.astype(np.int16),
    )

"""Laps led and fastest laps of simulated races, shared by the kernel and the dominance calibration.

Both allocators work on the latent performance rank of each car in each scenario (0 = the fastest
car of that race, including cars that later fail), so their parameters do not depend on the scale
of the race model's log-worth: a rank-based weight ``exp(-decay * rank)`` favours strong cars with a
concentration set per track type.

Laps led are built from *lead stints*: the race's laps are cut at random points into consecutive
stints and each stint goes to one car. Because stints are ordered in time, a car can only lead a
stint that ends before it drops out, so laps led never exceed laps completed, and the race winner
leads the final stint (the last lap) as in every real race.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Caps one race's stint count (a safety bound on memory; calibrated superspeedway means reach ~110).
MAX_LEAD_STINTS = 250
# Share of stints led by a car drawn regardless of speed (pit-cycle and strategy leaders): real races
# have both one dominant car and many cars that lead a handful of laps.
RANDOM_LEADER_SHARE = 0.2
# Races differ in how many lead changes they have and how spread the fast laps are: the stint count is
# gamma-Poisson (shape below; CV of the mean 1/sqrt(shape)) and the fastest-lap decay varies per race
# by a mean-one log-normal factor with this sd of its log.
STINT_COUNT_SHAPE = 4.0
FASTEST_DECAY_SPREAD = 0.4


def rank_weights(rank: np.ndarray, decay: float | np.ndarray) -> np.ndarray:
    """Unnormalised pick weight of each car by its latent rank (0 = fastest)."""
    return np.exp(-decay * rank.astype(np.float64))


def row_ranks(values: np.ndarray) -> np.ndarray:
    """Rank of each entry within its row, 0 = smallest (one argsort and a scatter, not two sorts)."""
    order = np.argsort(values, axis=1)
    ranks = np.empty(values.shape, dtype=np.int64)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(values.shape[1]), values.shape), axis=1)
    return ranks


def noisy_ranks(rank: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Ranks of ``rank + noise * N(0, 1)``: how fast a car runs at the front differs from where it ends."""
    if noise <= 0:
        return rank
    key = rank + noise * rng.standard_normal(rank.shape, dtype=np.float32)
    return row_ranks(key)


def _sample_ranks(u: np.ndarray, decay: float, n_cars: int) -> np.ndarray:
    """Inverse-CDF draw of a rank from the truncated geometric law P(r) ∝ exp(-decay r), r < n_cars."""
    if decay < 1e-9:
        return np.minimum((u * n_cars).astype(np.int64), n_cars - 1)
    tail = -np.expm1(-decay * n_cars)  # 1 - exp(-decay n), mass of the truncated law
    ranks = np.floor(-np.log1p(-u * tail) / decay).astype(np.int64)
    return np.clip(ranks, 0, n_cars - 1)


def _sample_from_weights(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``weights`` (rows need a positive total)."""
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    return np.minimum((u[:, None] > cdf).sum(axis=1), weights.shape[1] - 1)


@dataclass(frozen=True)
class Stints:
    """Lead stints of N races, flattened: stint i belongs to race ``race[i]`` and covers laps
    (end[i] - length[i], end[i]]; each race's stints are consecutive and in time order."""

    race: np.ndarray  # (T,) int
    end: np.ndarray  # (T,) int, last lap of the stint
    length: np.ndarray  # (T,) int, >= 0
    first: np.ndarray  # (N,) index of each race's first stint
    last_led: np.ndarray  # (N,) index of each race's last stint with laps (it holds the final lap)


def draw_stints(n_scenarios: int, laps: int, stints_mean: float, rng: np.random.Generator) -> Stints:
    """Cut each race into 1 + gamma-Poisson(stints_mean - 1) consecutive stints.

    Stint lengths are Dirichlet(1/2) shares of the race: with a concentration below 1 a few long runs
    carry most laps between many short ones, as real races mix long green runs with pit-cycle leads.
    Flat arrays keep the work proportional to the stints drawn, not to the longest race's count.
    """
    extra = max(stints_mean - 1.0, 0.0)
    rates = rng.gamma(STINT_COUNT_SHAPE, extra / STINT_COUNT_SHAPE, n_scenarios) if extra > 0 else 0.0
    counts = np.clip(1 + rng.poisson(rates, n_scenarios), 1, min(MAX_LEAD_STINTS, laps))
    race = np.repeat(np.arange(n_scenarios), counts)
    first = np.cumsum(counts) - counts
    last = first + counts - 1
    # Gamma(1/2) is half a squared standard normal, far cheaper to draw; the scale cancels below.
    weights = np.square(rng.standard_normal(race.size)) + 1e-12
    cum = np.cumsum(weights)
    before = (cum[first] - weights[first])[race]
    share = (cum - before) / (cum[last] - before[last])[race]
    end = np.rint(share * laps).astype(np.int64)
    end[last] = laps
    start = np.empty_like(end)
    start[1:] = end[:-1]
    start[first] = 0
    length = end - start
    positions = np.where(length > 0, np.arange(race.size), -1)
    last_led = np.maximum.reduceat(positions, first)
    return Stints(race=race, end=end, length=length, first=first, last_led=last_led)


def allocate_laps_led(
    rank: np.ndarray,
    laps_completed: np.ndarray,
    winner: np.ndarray,
    laps: int,
    stints_mean: float,
    decay: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """(N, D) laps led summing to ``laps`` in every scenario, never above a car's laps completed."""
    n, d = rank.shape
    st = draw_stints(n, laps, stints_mean, rng)
    t = st.race.size

    driver_by_rank = np.argsort(rank, axis=1)
    picked_rank = _sample_ranks(rng.random(t), decay, d)
    random_pick = rng.random(t) < RANDOM_LEADER_SHARE
    picked_rank[random_pick] = rng.integers(0, d, int(random_pick.sum()))
    leader = driver_by_rank[st.race, picked_rank]
    # The winner leads the final lap.
    leader[st.last_led] = winner

    # A pick that dropped out before its stint ended is redrawn among the cars still running then.
    bad = np.flatnonzero((laps_completed[st.race, leader] < st.end) & (st.length > 0))
    if bad.size:
        races = st.race[bad]
        eligible = laps_completed[races] >= st.end[bad][:, None]
        weights = rank_weights(rank[races], decay) * eligible
        leader[bad] = _sample_from_weights(weights, rng.random(bad.size))

    led = np.bincount(st.race * d + leader, weights=st.length, minlength=n * d)
    return led.reshape(n, d).astype(np.int32)


def draw_green_laps(
    n_scenarios: int, laps: int, share_a: float, share_b: float, rng: np.random.Generator
) -> np.ndarray:
    """(N,) green-flag laps (laps on which a fastest lap is credited), Beta-distributed share of laps."""
    share = rng.beta(share_a, share_b, n_scenarios)
    return np.clip(np.rint(share * laps), 1, laps).astype(np.int32)


def allocate_fastest_laps(
    rank: np.ndarray,
    laps_completed: np.ndarray,
    winner: np.ndarray,
    green_laps: np.ndarray,
    laps: int,
    decay: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """(N, D) fastest laps summing to ``green_laps`` per scenario, never above a car's laps completed."""
    n = rank.shape[0]
    spread = FASTEST_DECAY_SPREAD
    race_decay = decay * rng.lognormal(-0.5 * spread**2, spread, (n, 1))
    # A car that ran fewer laps had fewer chances to set the fastest lap.
    weights = rank_weights(rank, race_decay) * (laps_completed / laps)
    total = weights.sum(axis=1, keepdims=True)
    probs = weights / total
    counts = rng.multinomial(green_laps.astype(np.int64), probs)
    excess = np.maximum(counts - laps_completed, 0)
    counts -= excess
    # The winner ran every lap and holds at most green_laps <= laps, so he can absorb the overflow.
    counts[np.arange(n), winner] += excess.sum(axis=1)
    return counts.astype(np.int32)

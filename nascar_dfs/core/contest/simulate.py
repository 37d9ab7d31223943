"""A GPP simulated race by race: the user's lineups and the field scored in the same races and paid.

Ranking. In every race an entry's payout depends on how many entries beat it (``better``) and how many
share its score (``tied``, itself included): DraftKings gives each tied entry an equal share of the
prizes of the places the group occupies, i.e. (cum[better + tied] - cum[better]) / tied with cum the
running total of the payout table. Scores are compared in hundredths of a point (DraftKings points
move in steps of 0.05), so two lineups of the same drivers tie whatever order their points were
summed in.

Speed and memory. Races are processed in chunks. In each chunk only the field's top K scores matter
(K = places that pay or count as top 1%): an entry below the K-th best field score is out of the
money whatever else happens. np.partition finds them in linear time, and user scores are located in
them with one searchsorted over all races of the chunk (rows made disjoint by an offset per race).
Nothing of shape (races, field, lineups) is ever built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nascar_dfs.core.contest.spec import ContestSpec

SCORE_RESOLUTION = 100  # score units per DraftKings point
ROI_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP_SHARE = 0.01
CHUNK_CELLS = 4_000_000  # races x field entries scored at once (~16 MB of float32)
_ROW_STRIDE = np.int64(1) << np.int64(34)  # quantised scores live in [0, 2^33) after the shift below
_SHIFT = np.int64(1) << np.int64(32)


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo mean with its standard error."""

    mean: float
    se: float

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "se": self.se}


@dataclass(frozen=True)
class EntryResult:
    """What one lineup (or the whole portfolio) returns over the simulated races."""

    roi: Estimate  # (payout - fees) / fees
    payout: Estimate  # dollars per race
    p_top: Estimate  # finishes in the top 1% of entries (any lineup, for the portfolio)
    p_first: Estimate  # finishes first, ties included (any lineup, for the portfolio)
    duplicates: Estimate  # field entries with exactly the same drivers (summed for the portfolio)
    roi_quantiles: dict[float, float]

    def to_dict(self) -> dict:
        return {
            "roi": self.roi.to_dict(),
            "payout": self.payout.to_dict(),
            "p_top_1pct": self.p_top.to_dict(),
            "p_first": self.p_first.to_dict(),
            "duplicates": self.duplicates.to_dict(),
            "roi_quantiles": {str(q): v for q, v in self.roi_quantiles.items()},
        }


@dataclass(frozen=True)
class ContestReport:
    contest: ContestSpec
    races: int
    field_size: int
    lineups: tuple[EntryResult, ...]
    portfolio: EntryResult
    field_mean_roi: Estimate  # the opponents' average ROI in the same races
    payouts: np.ndarray = field(repr=False)  # (races, lineups) dollars won by each user lineup

    def to_dict(self) -> dict:
        return {
            "contest": self.contest.model_dump(mode="json"),
            "races": self.races,
            "field_size": self.field_size,
            "portfolio": self.portfolio.to_dict(),
            "field_mean_roi": self.field_mean_roi.to_dict(),
            "lineups": [result.to_dict() for result in self.lineups],
        }


def simulate_contest(
    dk_points: np.ndarray,
    lineups: np.ndarray,
    field_lineups: np.ndarray,
    contest: ContestSpec,
    *,
    chunk_cells: int = CHUNK_CELLS,
) -> ContestReport:
    """Simulate ``contest`` over the races of ``dk_points`` ((N, D), e.g. ScenarioSet.dk_points).

    ``lineups`` (L, 6) and ``field_lineups`` (F, 6) hold driver column indices into dk_points; the
    field may also be (B, F, 6): B independent field draws, each facing its own contiguous block of
    races, so results average over field uncertainty too. L + F must equal ``contest.entries``.
    """
    points, user, fields = _check_inputs(dk_points, lineups, field_lineups, contest)
    n_races, n_field = points.shape[0], fields.shape[1]
    prizes = contest.prize_by_place()
    cum = np.concatenate([[0.0], np.cumsum(prizes)])
    top_cut = max(1, math.ceil(TOP_SHARE * contest.entries))
    depth = min(n_field, max(paid_places(prizes), top_cut))
    payouts = np.empty((n_races, user.shape[0]), dtype=np.float64)
    better = np.empty((n_races, user.shape[0]), dtype=np.int64)
    duplicates = np.empty((fields.shape[0], user.shape[0]), dtype=np.float64)
    blocks = np.array_split(np.arange(n_races), fields.shape[0])
    user_onehot = lineup_onehot(user, points.shape[1])
    rows_per_chunk = max(1, chunk_cells // max(n_field, 1))
    for b, block in enumerate(blocks):
        duplicates[b] = field_duplicates(user, fields[b])
        field_onehot = lineup_onehot(fields[b], points.shape[1])
        for start in range(0, block.size, rows_per_chunk):
            rows = block[start : start + rows_per_chunk]
            chunk = points[rows]
            field_q = quantise(chunk @ field_onehot)
            user_q = quantise(chunk @ user_onehot)
            b_rows, t_rows = rank_in_contest(user_q, field_q, depth)
            better[rows] = b_rows
            payouts[rows] = (cum[b_rows + t_rows] - cum[b_rows]) / t_rows
    return _report(contest, payouts, better, top_cut, duplicates, n_field, cum[-1])


def rank_in_contest(user_q: np.ndarray, field_q: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """(better, tied) per user entry and race among field + user entries, from quantised scores.

    Exact whenever better < depth; past that ``better`` is reported as at least ``depth`` (those
    entries are out of the money and out of the top share, which both lie within depth).
    """
    field_gt, field_eq = rank_against_field(user_q, field_q, depth)
    user_gt, user_eq = count_above_and_equal(np.sort(user_q, axis=1), user_q)
    return field_gt + user_gt, field_eq + user_eq


def rank_against_field(user_q: np.ndarray, field_q: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """(field entries above, field entries equal) for each user score, exact while above < depth."""
    n_field = field_q.shape[1]
    top = np.sort(_best_scores(field_q, depth), axis=1)
    floor = top[:, 0]
    field_gt, field_eq = count_above_and_equal(top, user_q)
    # Equal to the K-th best field score: how many field entries share it is not visible in the top K.
    at_floor = (user_q == floor[:, None]) & (depth < n_field)
    if at_floor.any():
        floor_counts = (field_q == floor[:, None]).sum(axis=1)
        field_eq = np.where(at_floor, floor_counts[:, None], field_eq)
    below = user_q < floor[:, None]
    return np.where(below, depth, field_gt), np.where(below, 0, field_eq)


def _best_scores(field_q: np.ndarray, depth: int) -> np.ndarray:
    """The ``depth`` highest scores of each row, unordered (linear-time partition)."""
    n_field = field_q.shape[1]
    if depth >= n_field:
        return field_q
    return np.partition(field_q, n_field - depth, axis=1)[:, n_field - depth :]


def contest_payouts(scores: np.ndarray, contest: ContestSpec) -> np.ndarray:
    """(N, E) dollars won by every entry of a contest whose (N, E) scores (points) are all given."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != contest.entries:
        raise ValueError(f"scores must be (races, {contest.entries}) for this contest, got {scores.shape}")
    q = quantise(scores)
    cum = np.concatenate([[0.0], np.cumsum(contest.prize_by_place())])
    gt, eq = count_above_and_equal(np.sort(q, axis=1), q)
    return (cum[gt + eq] - cum[gt]) / eq


def quantise(scores: np.ndarray) -> np.ndarray:
    """Scores as int64 hundredths of a point."""
    q = np.rint(np.asarray(scores, dtype=np.float64) * SCORE_RESOLUTION).astype(np.int64)
    if q.size and (q.min() <= -_SHIFT or q.max() >= _SHIFT):
        raise ValueError("a lineup score is out of range (|score| must stay below 4e7 points)")
    return q


def field_duplicates(user: np.ndarray, field_lineups: np.ndarray) -> np.ndarray:
    """(L,) number of field entries with exactly the drivers of each user lineup."""
    field_masks, counts = np.unique(_masks(field_lineups), return_counts=True)
    user_masks = _masks(user)
    pos = np.clip(np.searchsorted(field_masks, user_masks), 0, field_masks.size - 1)
    return np.where(field_masks[pos] == user_masks, counts[pos], 0).astype(np.float64)


def count_above_and_equal(sorted_rows: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, how many of sorted_rows' values exceed / equal each query (one flat searchsorted)."""
    n_rows, width = sorted_rows.shape
    offsets = np.arange(n_rows, dtype=np.int64)[:, None] * _ROW_STRIDE
    flat = (sorted_rows + _SHIFT + offsets).ravel()
    keys = queries + _SHIFT + offsets
    base = np.arange(n_rows, dtype=np.int64)[:, None] * width
    left = np.searchsorted(flat, keys, side="left") - base
    right = np.searchsorted(flat, keys, side="right") - base
    return width - right, right - left


def lineup_onehot(lineups: np.ndarray, n_drivers: int) -> np.ndarray:
    """(D, L) float32 0/1 matrix so that points (N, D) @ onehot gives lineup scores (N, L)."""
    onehot = np.zeros((n_drivers, lineups.shape[0]), dtype=np.float32)
    onehot[lineups, np.arange(lineups.shape[0])[:, None]] = 1.0
    return onehot


def _masks(lineups: np.ndarray) -> np.ndarray:
    """One uint64 bit mask per lineup (drivers are columns 0..63)."""
    return np.bitwise_or.reduce(np.left_shift(np.uint64(1), lineups.astype(np.uint64)), axis=1)


def paid_places(prizes: np.ndarray) -> int:
    paid = np.flatnonzero(prizes > 0)
    return int(paid[-1]) + 1 if paid.size else 1


def _estimate(values: np.ndarray) -> Estimate:
    values = np.asarray(values, dtype=np.float64)
    # A single value (duplicates against one fixed field) is exact for that field: no sampling error.
    se = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else 0.0
    return Estimate(float(values.mean()), se)


def _result(
    payout: np.ndarray, fees: float, top: np.ndarray, first: np.ndarray, dups: np.ndarray
) -> EntryResult:
    roi = payout / fees - 1.0
    return EntryResult(
        roi=_estimate(roi),
        payout=_estimate(payout),
        p_top=_estimate(top),
        p_first=_estimate(first),
        duplicates=_estimate(dups),
        roi_quantiles={
            q: float(v) for q, v in zip(ROI_QUANTILES, np.quantile(roi, ROI_QUANTILES), strict=True)
        },
    )


def _report(
    contest: ContestSpec,
    payouts: np.ndarray,
    better: np.ndarray,
    top_cut: int,
    duplicates: np.ndarray,
    n_field: int,
    paid_per_race: float,
) -> ContestReport:
    fee = contest.entry_fee
    top, first = better < top_cut, better == 0
    per_lineup = tuple(
        _result(payouts[:, i], fee, top[:, i], first[:, i], duplicates[:, i]) for i in range(payouts.shape[1])
    )
    portfolio = _result(
        payouts.sum(axis=1),
        fee * payouts.shape[1],
        top.any(axis=1),
        first.any(axis=1),
        duplicates.sum(axis=1),
    )
    # Everything not won by the user went to the field: the prize total is paid out in every race.
    field_roi = (paid_per_race - payouts.sum(axis=1)) / (n_field * fee) - 1.0
    return ContestReport(
        contest=contest,
        races=payouts.shape[0],
        field_size=n_field,
        lineups=per_lineup,
        portfolio=portfolio,
        field_mean_roi=_estimate(field_roi),
        payouts=payouts,
    )


def _check_inputs(
    dk_points: np.ndarray, lineups: np.ndarray, field_lineups: np.ndarray, contest: ContestSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    points = np.asarray(dk_points, dtype=np.float32)
    if points.ndim != 2 or points.shape[0] == 0 or not np.all(np.isfinite(points)):
        raise ValueError(f"dk_points must be a finite (races, drivers) array with races, got {points.shape}")
    if points.shape[1] > 64:
        raise ValueError(f"{points.shape[1]} drivers exceed the 64 a lineup mask holds")
    user = _check_lineups(lineups, points.shape[1], "user lineups")
    fields = np.asarray(field_lineups)
    fields = fields[None] if fields.ndim == 2 else fields
    if fields.ndim != 3:
        raise ValueError(f"field lineups must be (F, 6) or (B, F, 6), got {np.shape(field_lineups)}")
    for b in range(fields.shape[0]):
        _check_lineups(fields[b], points.shape[1], f"field draw {b}")
    if fields.shape[0] > points.shape[0]:
        raise ValueError(f"{fields.shape[0]} field draws for {points.shape[0]} races")
    if user.shape[0] > contest.max_entries_per_user:
        raise ValueError(
            f"{user.shape[0]} lineups exceed the contest's {contest.max_entries_per_user} per user"
        )
    if user.shape[0] + fields.shape[1] != contest.entries:
        raise ValueError(
            f"{user.shape[0]} user lineups + {fields.shape[1]} field entries"
            f" != the contest's {contest.entries} entries"
        )
    return points, user, fields.astype(np.int64)


def _check_lineups(lineups: np.ndarray, n_drivers: int, label: str) -> np.ndarray:
    arr = np.asarray(lineups)
    if arr.ndim != 2 or arr.shape[0] == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"{label} must be a non-empty (lineups, slots) integer array, got {arr.shape} {arr.dtype}"
        )
    if arr.min() < 0 or arr.max() >= n_drivers:
        raise ValueError(f"{label} name driver columns outside 0..{n_drivers - 1}")
    ordered = np.sort(arr, axis=1)
    if np.any(ordered[:, 1:] == ordered[:, :-1]):
        raise ValueError(f"{label}: a lineup holds the same driver twice")
    return arr.astype(np.int64)

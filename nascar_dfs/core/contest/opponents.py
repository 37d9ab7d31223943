"""Opponent lineups drawn from projected ownership: valid lineups with realistic salary usage.

Five drivers are drawn without replacement proportional to per-driver weights (Gumbel top-k, so a
whole batch is one argpartition); the sixth among those that fit the remaining salary, weighted by
exp(-leftover / salary_scale), because real fields leave little salary unused. Both steps bend the
drivers' shares away from the weights, so the weights are calibrated a few rounds until the
simulated ownership matches the projection (the weights are not the ownership).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_SALARY_SCALE = 500.0  # dollars: leaving $1,000 more unused divides a last pick's odds by e^2
DEFAULT_CALIBRATION_ROUNDS = 8
CALIBRATION_SAMPLE = 20_000
CALIBRATION_STEP = 0.9
DEFAULT_OWNERSHIP_TOLERANCE = 0.03  # a 50%-owned driver's sampling sd is 0.7 points at 5,000 entries
MIN_ACCEPTANCE = 1e-4  # below this the ownership and salaries cannot make valid lineups


@dataclass(frozen=True)
class SimulatedField:
    """F opponent lineups (rows of sorted driver indices) and how they compare with the projection."""

    lineups: np.ndarray  # (F, slots) int64, each row sorted ascending
    salary: np.ndarray  # (F,) int64 total salary per lineup
    ownership: np.ndarray  # (D,) share of lineups holding each driver
    target: np.ndarray  # (D,) projected ownership the field was calibrated to
    acceptance: float  # share of proposed lineups kept in the final draw

    @property
    def size(self) -> int:
        return int(self.lineups.shape[0])

    @property
    def max_ownership_error(self) -> float:
        """Largest absolute gap between simulated and projected ownership (fractions)."""
        return float(np.max(np.abs(self.ownership - self.target)))

    def share_salary_at_least(self, dollars: int) -> float:
        return float(np.mean(self.salary >= dollars))

    def ownership_check(
        self, tolerance: float = DEFAULT_OWNERSHIP_TOLERANCE, sampling_sigmas: float | None = None
    ) -> tuple[bool, dict[str, float]]:
        """Does the simulated ownership match the projection within ``tolerance`` (absolute, fractions)?

        With ``sampling_sigmas`` a driver's allowed gap is at least that many binomial standard
        errors of its share in a field of this size: a small field cannot match 0.03 by chance alone
        (a 50%-owned driver's share has sd 0.016 at 1,000 entries), and the check is after systematic
        misfit (a projection no set of valid lineups reproduces), not after sampling noise.
        Returns the verdict and the figures an asset check would show.
        """
        gaps = np.abs(self.ownership - self.target)
        allowed = np.full(gaps.shape, float(tolerance))
        if sampling_sigmas is not None:
            noise = sampling_sigmas * np.sqrt(self.target * (1.0 - self.target) / max(self.size, 1))
            allowed = np.maximum(allowed, noise)
        worst = int(np.argmax(gaps - allowed))
        return bool(np.all(gaps <= allowed)), {
            "max_ownership_error": float(gaps.max()),
            "worst_driver_index": worst,
            "worst_driver_error": float(gaps[worst]),
            "worst_driver_allowed": float(allowed[worst]),
            "mean_ownership_error": float(gaps.mean()),
            "tolerance": tolerance,
        }

    def summary(self) -> dict[str, float]:
        return {
            "entries": self.size,
            "max_ownership_error": round(self.max_ownership_error, 4),
            "share_salary_49k_plus": round(self.share_salary_at_least(49_000), 4),
            "median_salary": float(np.median(self.salary)),
            "distinct_lineups": int(np.unique(self.lineups, axis=0).shape[0]),
            "acceptance": round(self.acceptance, 4),
        }


def simulate_field(
    ownership: np.ndarray,
    salaries: np.ndarray,
    entries: int,
    *,
    salary_cap: int = 50_000,
    slots: int = 6,
    salary_scale: float = DEFAULT_SALARY_SCALE,
    calibration_rounds: int = DEFAULT_CALIBRATION_ROUNDS,
    seed: int = 0,
) -> SimulatedField:
    """``entries`` valid lineups whose driver shares follow ``ownership`` (fractions summing to slots)."""
    target, salaries = _check_inputs(ownership, salaries, entries, salary_cap, slots, salary_scale)
    rng = np.random.default_rng(seed)
    log_w = np.where(target > 0, np.log(np.maximum(target, 1e-300)), -np.inf)
    sample = max(CALIBRATION_SAMPLE, entries)
    for _ in range(calibration_rounds):
        lineups, _ = draw_lineups(log_w, salaries, sample, rng, salary_cap, slots, salary_scale)
        simulated = lineup_ownership(lineups, target.size)
        # Multiplicative correction (iterative proportional fitting on the marginals); a driver never
        # drawn gets a bounded push instead of an infinite one.
        # Slightly damped: the salary fill couples the drivers, so a full step can overshoot.
        ratio = np.where(target > 0, target / np.maximum(simulated, 0.1 / sample), 1.0)
        log_w = log_w + CALIBRATION_STEP * np.log(ratio)
        log_w = log_w - np.max(log_w[np.isfinite(log_w)])
    lineups, acceptance = draw_lineups(log_w, salaries, entries, rng, salary_cap, slots, salary_scale)
    return SimulatedField(
        lineups=lineups,
        salary=salaries[lineups].sum(axis=1),
        ownership=lineup_ownership(lineups, target.size),
        target=target,
        acceptance=acceptance,
    )


def draw_lineups(
    log_weights: np.ndarray,
    salaries: np.ndarray,
    n: int,
    rng: np.random.Generator,
    salary_cap: int = 50_000,
    slots: int = 6,
    salary_scale: float = DEFAULT_SALARY_SCALE,
) -> tuple[np.ndarray, float]:
    """n valid lineups ((n, slots) sorted driver indices) and the share of proposals kept.

    The first slots-1 drivers are a weighted draw without replacement; the last is drawn among the
    drivers that fit the remaining salary, with weight × exp(-leftover / salary_scale). Drawing the
    last driver to fill the cap (instead of rejecting whole lineups) keeps nearly every proposal.
    """
    kept: list[np.ndarray] = []
    have, proposed, acceptance = 0, 0, 0.5
    while have < n:
        batch = min(max(int(1.2 * (n - have) / acceptance), 1000), 500_000)
        first = _weighted_without_replacement(log_weights, batch, slots - 1, rng)
        remaining = salary_cap - salaries[first].sum(axis=1)
        last_keys = (
            log_weights[None, :]
            + rng.gumbel(size=(batch, log_weights.size))
            - (remaining[:, None] - salaries[None, :]) / salary_scale
        )
        last_keys[salaries[None, :] > remaining[:, None]] = -np.inf
        np.put_along_axis(last_keys, first, -np.inf, axis=1)
        last = np.argmax(last_keys, axis=1)
        valid = np.isfinite(last_keys[np.arange(batch), last])
        kept.append(np.column_stack([first, last])[valid])
        have += int(valid.sum())
        proposed += batch
        acceptance = have / proposed
        if proposed >= 200_000 and acceptance < MIN_ACCEPTANCE:
            raise ValueError(
                f"only {have} of {proposed} proposed lineups were valid: the ownership does not fit the"
                " salary cap (project it with a mean spend below the cap)"
            )
        acceptance = max(acceptance, MIN_ACCEPTANCE)
    lineups = np.sort(np.concatenate(kept)[:n], axis=1).astype(np.int64)
    return lineups, have / proposed


def _weighted_without_replacement(
    log_weights: np.ndarray, rows: int, k: int, rng: np.random.Generator
) -> np.ndarray:
    """(rows, k) indices, each row a draw without replacement proportional to exp(log_weights)."""
    keys = log_weights[None, :] + rng.gumbel(size=(rows, log_weights.size))
    return np.argpartition(-keys, k - 1, axis=1)[:, :k]


def lineup_ownership(lineups: np.ndarray, n_drivers: int) -> np.ndarray:
    """(D,) share of lineups holding each driver."""
    return np.bincount(lineups.ravel(), minlength=n_drivers) / lineups.shape[0]


def _check_inputs(
    ownership: np.ndarray, salaries: np.ndarray, entries: int, cap: int, slots: int, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    target = np.asarray(ownership, dtype=np.float64)
    sal = np.asarray(salaries, dtype=np.int64)
    if target.ndim != 1 or target.shape != sal.shape:
        raise ValueError(f"ownership {target.shape} and salaries {sal.shape} must be 1-D of one length")
    if not np.all(np.isfinite(target)) or np.any(target < 0) or np.any(target > 1):
        raise ValueError("ownership must be fractions in [0, 1]")
    if not math.isclose(target.sum(), slots, rel_tol=0.02):
        raise ValueError(f"ownership sums to {target.sum():.3f}; a {slots}-driver field needs {slots}")
    if np.count_nonzero(target) < slots:
        raise ValueError(f"fewer than {slots} drivers have any ownership")
    if entries < 1:
        raise ValueError(f"a field needs at least one entry, got {entries}")
    if np.any(sal <= 0):
        raise ValueError("salaries must be positive")
    if np.sort(sal)[:slots].sum() > cap:
        raise ValueError(f"the {slots} cheapest drivers cost more than the ${cap:,} cap")
    if scale <= 0:
        raise ValueError(f"salary_scale must be positive, got {scale}")
    return target, sal

"""Projected ownership: how the field rosters drivers, as a capped softmax of a linear score.

ownership_j = min(1, c · exp(x_j · beta)), with c chosen so ownership sums to the lineup's six slots.
The features are standardised within a slate (salary, projected points, start position, value =
points per $1,000), so coefficients fitted on one slate carry to another; the coefficients' overall
size plays the part of an inverse temperature (larger = more concentrated field).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

FEATURES = ("salary", "projection", "start", "value")
SLOTS = 6
DEFAULT_MEAN_SPEND = 49_400.0  # dollars: a typical field's average lineup salary on a $50,000 cap

# Default coefficients used when no ownership data exist (none are available in this project). A
# judgement, not a fit: projected points drive ownership most, value (points per $1,000) next, deep
# starters get a bump for place-differential points, salary a small one for "studs". On the demo
# 36-car slate they give the chalk driver ~75%, the next ones ~30% and the least-liked ~5%.
DEFAULT_COEFFICIENTS: dict[str, float] = {"salary": 0.15, "projection": 0.5, "start": 0.25, "value": 0.3}


@dataclass(frozen=True)
class OwnershipModel:
    """Coefficients over ``FEATURES``; ``stderr`` and ``rmse`` are set when the model was fitted."""

    coefficients: np.ndarray  # (len(FEATURES),)
    slots: int = SLOTS
    stderr: np.ndarray | None = None
    rmse: float | None = None
    n_slates: int = 0

    def __post_init__(self) -> None:
        if np.shape(self.coefficients) != (len(FEATURES),):
            raise ValueError(
                f"coefficients must have shape ({len(FEATURES)},), got {np.shape(self.coefficients)}"
            )
        if not np.all(np.isfinite(self.coefficients)):
            raise ValueError("coefficients must be finite")

    @classmethod
    def default(cls) -> OwnershipModel:
        return cls(np.array([DEFAULT_COEFFICIENTS[name] for name in FEATURES], dtype=np.float64))

    def as_dict(self) -> dict[str, float]:
        return {name: float(c) for name, c in zip(FEATURES, self.coefficients, strict=True)}

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(D,) ownership fractions for a (D, len(FEATURES)) slate feature matrix."""
        return capped_softmax(_check_features(features) @ self.coefficients, self.slots)

    def project(
        self,
        salary: np.ndarray,
        projection: np.ndarray,
        start: np.ndarray,
        *,
        mean_spend: float | None = DEFAULT_MEAN_SPEND,
    ) -> np.ndarray:
        """(D,) ownership fractions straight from a slate's salaries, projections and start positions.

        With ``mean_spend`` the scores are tilted along salary until the field's implied average
        lineup salary (sum of ownership × salary) equals it: ownership that breaks the cap on average
        cannot come from valid lineups, and real fields spend close to the whole cap.
        """
        features = ownership_features(salary, projection, start)
        scores = features @ self.coefficients
        if mean_spend is None:
            return capped_softmax(scores, self.slots)
        return budget_tilted(scores, np.asarray(salary, dtype=np.float64), self.slots, mean_spend)


def budget_tilted(scores: np.ndarray, salary: np.ndarray, slots: int, mean_spend: float) -> np.ndarray:
    """Capped softmax of scores - lam * salary_z with lam solved so sum(ownership × salary) = mean_spend."""
    cheapest, dearest = np.sort(salary)[:slots].sum(), np.sort(salary)[-slots:].sum()
    if not cheapest < mean_spend < dearest:
        raise ValueError(f"mean spend ${mean_spend:,.0f} is outside what {slots} drivers can cost")
    z = (salary - salary.mean()) / salary.std()

    def spend(lam: float) -> float:
        return float(capped_softmax(scores - lam * z, slots) @ salary)

    lo, hi = -20.0, 20.0  # spend falls as lam grows; +-20 standard deviations reaches either extreme
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if spend(mid) > mean_spend else (lo, mid)
    return capped_softmax(scores - hi * z, slots)


def ownership_features(salary: np.ndarray, projection: np.ndarray, start: np.ndarray) -> np.ndarray:
    """(D, 4) features in ``FEATURES`` order, each standardised within the slate."""
    salary = np.asarray(salary, dtype=np.float64)
    projection = np.asarray(projection, dtype=np.float64)
    start = np.asarray(start, dtype=np.float64)
    if not (salary.shape == projection.shape == start.shape) or salary.ndim != 1:
        raise ValueError("salary, projection and start must be 1-D arrays of one length")
    if salary.size <= SLOTS:
        raise ValueError(f"a slate needs more than {SLOTS} drivers, got {salary.size}")
    if np.any(salary <= 0) or not np.all(np.isfinite(np.concatenate([salary, projection, start]))):
        raise ValueError("salaries must be positive and all inputs finite")
    value = projection / (salary / 1000.0)
    raw = np.column_stack([salary / 1000.0, projection, start, value])
    spread = raw.std(axis=0)
    # A constant column (e.g. every start unknown and filled alike) carries no information: zero it.
    return np.where(spread > 0, (raw - raw.mean(axis=0)) / np.where(spread > 0, spread, 1.0), 0.0)


def capped_softmax(scores: np.ndarray, total: float) -> np.ndarray:
    """Shares proportional to exp(scores) summing to ``total`` with none above 1 (water-filling)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size <= total:
        raise ValueError(f"{scores.size} drivers cannot fill {total} slots with distinct drivers")
    weights = np.exp(scores - scores.max())
    capped = np.zeros(scores.size, dtype=bool)
    shares = np.zeros_like(weights)
    for _ in range(int(np.ceil(total)) + 1):
        free = ~capped
        shares[free] = weights[free] * (total - capped.sum()) / weights[free].sum()
        shares[capped] = 1.0
        over = free & (shares > 1.0)
        if not over.any():
            return shares
        capped |= over
    raise AssertionError("water-filling did not settle")


def as_ownership_fractions(observed: np.ndarray, slots: int = SLOTS) -> np.ndarray:
    """Observed ownership as fractions; percentages (summing to ~600) are converted. Sums are checked."""
    values = np.asarray(observed, dtype=np.float64)
    if values.ndim != 1 or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("observed ownership must be a 1-D array of finite non-negative numbers")
    total = values.sum()
    if total > 1.5 * slots:
        values, total = values / 100.0, total / 100.0
    if abs(total - slots) > 0.05 * slots:
        raise ValueError(f"observed ownership sums to {total:.3f}, expected about {slots} (one per slot)")
    return values * (slots / total)


def fit_ownership(
    features: np.ndarray | Sequence[np.ndarray],
    observed_ownership: np.ndarray | Sequence[np.ndarray],
    *,
    slots: int = SLOTS,
    start: OwnershipModel | None = None,
) -> OwnershipModel:
    """Least-squares fit of the coefficients to observed ownership over one or many slates.

    ``features``: a (D, 4) matrix from `ownership_features` or a list of them (one per slate);
    ``observed_ownership`` the matching (D,) arrays, as fractions or percentages.
    """
    feature_list = [features] if isinstance(features, np.ndarray) else list(features)
    observed_list = (
        [observed_ownership] if isinstance(observed_ownership, np.ndarray) else list(observed_ownership)
    )
    if not feature_list or len(feature_list) != len(observed_list):
        raise ValueError(f"{len(feature_list)} feature matrices for {len(observed_list)} ownership vectors")
    xs = [_check_features(x) for x in feature_list]
    ys = [as_ownership_fractions(y, slots) for y in observed_list]
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"slate {i}: {x.shape[0]} feature rows for {y.shape[0]} ownership values")

    def residuals(beta: np.ndarray) -> np.ndarray:
        return np.concatenate([capped_softmax(x @ beta, slots) - y for x, y in zip(xs, ys, strict=True)])

    initial = (start or OwnershipModel.default()).coefficients
    result = least_squares(residuals, initial, method="trf", x_scale="jac")
    if not result.success:
        raise RuntimeError(f"ownership fit did not converge: {result.message}")
    n_obs, n_par = result.fun.size, initial.size
    sigma2 = float(result.fun @ result.fun) / max(n_obs - n_par, 1)
    jtj = result.jac.T @ result.jac
    stderr = np.sqrt(np.clip(np.diag(np.linalg.pinv(jtj)) * sigma2, 0.0, None))
    return OwnershipModel(
        coefficients=result.x,
        slots=slots,
        stderr=stderr,
        rmse=float(np.sqrt(np.mean(result.fun**2))),
        n_slates=len(xs),
    )


def project_ownership(
    salaries: np.ndarray,
    projections: np.ndarray,
    starts: np.ndarray | None = None,
    model: OwnershipModel | None = None,
    *,
    mean_spend: float | None = DEFAULT_MEAN_SPEND,
) -> np.ndarray:
    """(D,) projected ownership for a slate (e.g. a PlayerPool's salaries and projections, pool order).

    Unknown start positions (None, or NaN entries) count as average starts: a constant feature carries
    no information and is zeroed by the standardisation.
    """
    salaries = np.asarray(salaries, dtype=np.float64)
    start = np.full(salaries.shape, np.nan) if starts is None else np.asarray(starts, dtype=np.float64)
    known = np.isfinite(start)
    start = np.where(known, start, start[known].mean() if known.any() else 0.0)
    return (model or OwnershipModel.default()).project(salaries, projections, start, mean_spend=mean_spend)


def ownership_by_name(names: Sequence[str], ownership: np.ndarray) -> Mapping[str, float]:
    """Name -> fraction, the form the optimizer's ``ownership=`` argument accepts."""
    if len(names) != len(ownership):
        raise ValueError(f"{len(names)} names for {len(ownership)} ownership values")
    return {name: float(share) for name, share in zip(names, ownership, strict=True)}


def _check_features(features: np.ndarray) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(FEATURES):
        raise ValueError(f"features must be (drivers, {len(FEATURES)}) in order {FEATURES}, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("features must be finite")
    return x

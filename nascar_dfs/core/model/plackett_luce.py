"""Hierarchical Plackett-Luce model of the finishing order of running cars, plus a DNF process.

The finishing order is reverse Plackett-Luce by default (``Priors.likelihood``): the order is built
from last place upward, each place a choice among the cars not yet placed with worth exp(-log-worth),
i.e. forward Plackett-Luce on the reversed order with negated log-worths. Forward Plackett-Luce is
sharp about who wins and vague about the rest; the reverse one is sharp about who runs at the back
and keeps the middle tighter, where the 12-race replay beat the forward model. Forward stays
selectable (``likelihood="forward"``) for comparison.

log-worth(driver d in race r at track type t) =
    skill[d] + driver_track[d, t] + team[team of d in r] + make_track[make of d in r, t]
    + start_slope[t] * standardised start + pace_coef[t] * recent pace (loop data, optional)
P(DNF) = logistic(dnf_rate[t] + dnf_driver[d]).
Group effects are non-centred (z * half-normal scale); each race's log-likelihood is multiplied by
its time-decay weight.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from nascar_dfs.core.model.design import Capacity, TrainingDesign
from nascar_dfs.core.model.parameters import LIKELIHOODS, Priors
from nascar_dfs.core.model.pl_op import plackett_luce_rows

_MASK_FLOOR = -50.0  # stands in for -inf when taking a masked max; log-worths stay far above it


def plackett_luce_logp(log_worth: np.ndarray, order: np.ndarray, likelihood: str = "forward") -> float:
    """Log-probability of ``order`` (driver indices, first place first) under Plackett-Luce.

    Only the drivers listed in ``order`` take part; each place is a choice among those not yet placed.
    ``likelihood="reverse"``: the order is drawn from last place up with worths exp(-log_worth).
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    if likelihood == "reverse":
        return plackett_luce_logp(-np.asarray(log_worth, dtype=np.float64), np.asarray(order)[::-1])
    lw = np.asarray(log_worth, dtype=np.float64)[np.asarray(order, dtype=np.int64)]
    if lw.size == 0:
        raise ValueError("order is empty")
    tail = np.logaddexp.accumulate(lw[::-1])[::-1]  # log sum of worths of drivers not yet placed
    return float(np.sum(lw - tail))


def plackett_luce_race_logp(
    eta: pt.TensorVariable, running: pt.TensorVariable, likelihood: str = "forward"
) -> pt.TensorVariable:
    """Per-race Plackett-Luce log-likelihood of slots already in finishing order.

    ``eta`` (R, K) log-worths by slot; ``running`` (R, K) 1/0 marks the ranked slots, which must come
    first in each row. Unranked slots add nothing to the sums over the drivers still to place.
    One fused op (``pl_op``): the same mathematics as ``plackett_luce_race_logp_elementwise``,
    with a gradient several times cheaper. ``likelihood="reverse"`` feeds the op the rows reversed
    with negated log-worths; the op only needs the ranked slots in order, wherever they sit in the
    row (its sums skip unranked slots), so the padding that then leads the row changes nothing.
    """
    eta, running = _oriented(eta, running, likelihood)
    return plackett_luce_rows(eta, running, _MASK_FLOOR)


def _oriented(
    eta: pt.TensorVariable, running: pt.TensorVariable, likelihood: str
) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    if likelihood == "reverse":
        return -eta[:, ::-1], running[:, ::-1]
    return eta, running


def plackett_luce_race_logp_elementwise(
    eta: pt.TensorVariable, running: pt.TensorVariable, likelihood: str = "forward"
) -> pt.TensorVariable:
    """``plackett_luce_race_logp`` written with PyTensor's elementwise ops (the reference for tests)."""
    eta, running = _oriented(eta, running, likelihood)
    shift = pt.max(pt.where(running > 0, eta, _MASK_FLOOR), axis=1, keepdims=True)
    worth = pt.exp(eta - shift) * running
    remaining = pt.cumsum(worth[:, ::-1], axis=1)[:, ::-1]
    # padded slots have remaining == 0: log(0 + 1) keeps them finite before the mask zeroes them
    log_remaining = pt.log(remaining + (1.0 - running))
    return pt.sum(running * (eta - shift - log_remaining), axis=1)


def build_model(design: TrainingDesign, capacity: Capacity, priors: Priors) -> pm.Model:
    """The PyMC model over a design padded to ``capacity`` (data in pm.Data so it can be swapped)."""
    padded = design.padded(capacity)
    with pm.Model() as model:
        data = {name: pm.Data(name, value) for name, value in padded.data_arrays().items()}
        log_worth, dnf_logit, start_term = _linear_predictors(data, capacity, priors)
        pl = plackett_luce_race_logp(log_worth, data["running"], priors.likelihood)
        dnf_ll = data["entered"] * (data["dnf"] * dnf_logit - pt.softplus(dnf_logit))
        race_ll = pl + pt.sum(dnf_ll, axis=1)
        if priors.loop_term:
            race_ll = race_ll + _running_position_logp(data, log_worth, start_term, capacity, priors)
        pm.Potential("weighted_loglik", pt.sum(data["weight"] * race_ll))
    return model


def running_position_worth(
    log_worth: np.ndarray,
    start_term: np.ndarray,
    start_z: np.ndarray,
    loop_scale: float,
    loop_start: float | np.ndarray,
) -> np.ndarray:
    """Log-worth of the running-position order (numpy twin of the model's term, for tests)."""
    return loop_scale * (log_worth - start_term) + loop_start * start_z


def _running_position_logp(
    data: dict[str, pt.TensorVariable],
    log_worth: pt.TensorVariable,
    start_term: pt.TensorVariable,
    capacity: Capacity,
    priors: Priors,
) -> pt.TensorVariable:
    """Plackett-Luce over the order of average running position (loop data), per race.

    The car's pace (driver, team, make effects) is shared with the finish, times ``loop_scale``:
    the running order is far less noisy than the finish (a crash or a late caution barely moves it),
    so it sharpens the skill estimates. Its start effect is its own: early laps tie the running
    order to the grid more closely than the finish.
    """
    n_types = capacity.track_types
    loop_scale = pm.LogNormal("loop_scale", np.log(priors.loop_scale_mu), priors.loop_scale_sd)
    loop_start = pm.Normal("loop_start", priors.start_slope_mu, priors.start_slope_sd, shape=n_types)
    shape = data["driver"].shape
    t = pt.broadcast_to(data["track_type"][:, None], shape)
    eta = loop_scale * (log_worth - start_term) + loop_start[t] * data["start_z"]
    rows = pt.arange(shape[0])[:, None] * shape[1]
    eta_ordered = eta.ravel()[(rows + data["arp_slot"]).ravel()].reshape(shape)
    return plackett_luce_race_logp(eta_ordered, data["arp_ranked"])


def _non_centred(name: str, scale: pt.TensorVariable, shape: tuple[int, ...]) -> pt.TensorVariable:
    z = pm.Normal(f"{name}_z", 0.0, 1.0, shape=shape)
    return pm.Deterministic(name, scale * z)


def _non_centred_zero_sum(name: str, scale: pt.TensorVariable, shape: tuple[int, ...]) -> pt.TensorVariable:
    """Effects that sum to zero over the last axis.

    The likelihood cannot see a shift shared by that axis (the same for every car of a race, or the
    same for a driver at every track type, where ``skill`` already carries it): without the
    constraint those directions are fixed only by the prior and the sampler crawls along them.
    """
    z = pm.ZeroSumNormal(f"{name}_z", sigma=1.0, shape=shape)
    return scale * z


def _linear_predictors(
    data: dict[str, pt.TensorVariable], capacity: Capacity, priors: Priors
) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    n_types = capacity.track_types
    sd_skill = pm.HalfNormal("sd_skill", priors.sd_skill)
    sd_driver_track = pm.HalfNormal("sd_driver_track", priors.sd_driver_track)
    sd_team = pm.HalfNormal("sd_team", priors.sd_team)
    sd_make_track = pm.HalfNormal("sd_make_track", priors.sd_make_track)
    sd_dnf_driver = pm.HalfNormal("sd_dnf_driver", priors.sd_dnf_driver)
    start_slope = pm.Normal("start_slope", priors.start_slope_mu, priors.start_slope_sd, shape=n_types)
    dnf_rate = pm.Normal("dnf_rate", priors.dnf_rate_mu, priors.dnf_rate_sd, shape=n_types)

    skill = _non_centred("skill", sd_skill, (capacity.drivers,))

    # zero-sum over track types: a driver's mean over types lives in skill
    driver_track = _non_centred_zero_sum("driver_track", sd_driver_track, (capacity.drivers, n_types))
    team = _non_centred("team_effect", sd_team, (capacity.teams,))
    # zero-sum over makes at each track type: only make differences within a race are identified
    make_track = _non_centred_zero_sum("make_track", sd_make_track, (n_types, capacity.manufacturers))
    pm.Deterministic("driver_track", driver_track)
    pm.Deterministic("make_track", make_track.T)
    dnf_driver = _non_centred("dnf_driver", sd_dnf_driver, (capacity.drivers,))

    # Per-car effects: one flat vector of cells with 1-D gathers (their gradients are cheap
    # scatter-adds, where 2-D fancy indexing made every gradient several times slower); skill and
    # driver x track share one gather. Per-track-type coefficients: gathered per race (R values, not
    # R x K) and broadcast over the slots.
    shape = data["driver"].shape
    d = data["driver"].ravel()
    race_type = data["track_type"]
    t = pt.broadcast_to(race_type[:, None], shape).ravel()
    start_term = start_slope[race_type][:, None] * data["start_z"]
    per_car = (
        (skill[:, None] + driver_track).ravel()[d * n_types + t]
        + team[data["team"].ravel()]
        + make_track.ravel()[t * capacity.manufacturers + data["manufacturer"].ravel()]
    )
    log_worth = per_car.reshape(shape) + start_term
    if priors.pace:
        # recent pace from the loop data (design.recent_pace): current form the window's skill misses
        pace_coef = pm.Normal("pace_coef", priors.pace_coef_mu, priors.pace_coef_sd, shape=n_types)
        log_worth = log_worth + pace_coef[race_type][:, None] * data["pace"]
    dnf_logit = dnf_rate[race_type][:, None] + dnf_driver[d].reshape(shape)
    return log_worth, dnf_logit, start_term

"""The Plackett-Luce likelihood against brute-force enumeration of every finishing order."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nascar_dfs.core.model.plackett_luce import plackett_luce_logp


def _product_formula(worth: np.ndarray, order: tuple[int, ...]) -> float:
    """P(order) = prod_k w[o_k] / sum of w over the drivers not yet placed, written out longhand."""
    remaining = list(order)
    p = 1.0
    for driver in order:
        p *= worth[driver] / sum(worth[j] for j in remaining)
        remaining.remove(driver)
    return p


@pytest.mark.parametrize("n", [3, 4])
def test_probabilities_of_all_orders_sum_to_one_and_match_the_product_formula(n: int) -> None:
    log_worth = np.random.default_rng(n).normal(0.0, 1.5, n)
    orders = list(itertools.permutations(range(n)))
    probs = np.array([np.exp(plackett_luce_logp(log_worth, np.array(o))) for o in orders])
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    expected = np.array([_product_formula(np.exp(log_worth), o) for o in orders])
    np.testing.assert_allclose(probs, expected, rtol=1e-12)


def test_stronger_driver_is_more_likely_to_win() -> None:
    log_worth = np.array([2.0, 0.0, 0.0])
    orders = list(itertools.permutations(range(3)))
    p_first = [
        sum(np.exp(plackett_luce_logp(log_worth, np.array(o))) for o in orders if o[0] == d) for d in range(3)
    ]
    assert p_first[0] == pytest.approx(np.exp(2) / (np.exp(2) + 2))
    assert p_first[1] == pytest.approx(p_first[2])


def test_empty_order_is_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        plackett_luce_logp(np.zeros(3), np.array([], dtype=int))


def test_pytensor_race_likelihood_equals_numpy_with_dnf_and_padding_slots() -> None:
    import pytensor
    import pytensor.tensor as pt

    from nascar_dfs.core.model.plackett_luce import plackett_luce_race_logp

    rng = np.random.default_rng(7)
    eta = rng.normal(0.0, 1.0, (3, 6))
    # race 0: 4 running + 1 DNF + 1 empty slot; race 1: all 6 running; race 2: a padded (empty) race
    running = np.array([[1, 1, 1, 1, 0, 0], [1] * 6, [0] * 6], dtype=np.float64)
    e, m = pt.dmatrix("eta"), pt.dmatrix("running")
    fn = pytensor.function([e, m], plackett_luce_race_logp(e, m))
    got = fn(eta, running)
    assert got[0] == pytest.approx(plackett_luce_logp(eta[0], np.arange(4)), rel=1e-10)
    assert got[1] == pytest.approx(plackett_luce_logp(eta[1], np.arange(6)), rel=1e-10)
    assert got[2] == 0.0
    # probabilities over all orders of race 0's 4 running cars still sum to 1 through the tensor path
    total = 0.0
    for order in itertools.permutations(range(4)):
        permuted = eta[0].copy()
        permuted[:4] = eta[0][list(order)]
        total += np.exp(fn(permuted[None, :], running[:1])[0])
    assert total == pytest.approx(1.0, abs=1e-10)


def test_running_position_term_is_a_plackett_luce_over_every_running_order() -> None:
    """The loop-data term of the model, enumerated over all n! running orders of one race, n = 3, 4.

    Its probabilities sum to one and each equals the product formula with the worths
    ``loop_scale * (log_worth - start term) + loop_start * start``, where the finish log-worths
    (recent pace included) are read back from the same model: swapping the last two finishers
    multiplies P by w_i / w_j.
    """
    import pymc as pm

    from nascar_dfs.core.model.design import DesignIndex, TrainingDesign, standardize_starts
    from nascar_dfs.core.model.parameters import Priors
    from nascar_dfs.core.model.plackett_luce import build_model, running_position_worth

    def design(finish: tuple[int, ...], arp: tuple[int, ...] | None) -> TrainingDesign:
        n = len(finish)
        row = np.array(finish)[None, :]
        return TrainingDesign(
            target_race_id="t",
            target_track_type="short",
            race_ids=("r",),
            index=DesignIndex(drivers=tuple("abcd"[:n]), teams=("T1", "T2"), manufacturers=("M1", "M2")),
            window_races=1,
            weight=np.ones(1),
            track_type=np.array([2]),
            driver=row,
            team=row % 2,
            manufacturer=(row // 2) % 2,
            start_z=standardize_starts(row + 1.0, n),
            running=np.ones((1, n)),
            entered=np.ones((1, n)),
            dnf=np.zeros((1, n)),
            arp_slot=np.array([arp if arp is not None else range(n)]),
            arp_ranked=np.full((1, n), 0.0 if arp is None else 1.0),
            pace=0.4 * row - 0.5,
        )

    # 3 and 4 drivers share one capacity, so one compiled function serves both; every order is
    # swapped in as data, as a refit does
    capacity = design(tuple(range(4)), None).capacity()
    assert design(tuple(range(3)), None).capacity() == capacity
    model = build_model(design(tuple(range(4)), None), capacity, Priors(loop_term=True, pace=True))
    (likelihood,) = model.replace_rvs_by_values([model.potentials[0]])
    fn = model.compile_fn(likelihood, inputs=model.value_vars, point_fn=True)

    def potential(d: TrainingDesign, point: dict) -> float:
        with model:
            pm.set_data(d.padded(capacity).data_arrays())
        return float(fn(point))

    for n in (3, 4):
        rng = np.random.default_rng(n)
        point = {k: v + rng.normal(0.0, 0.7, np.shape(v)) for k, v in model.initial_point().items()}
        finish = tuple(range(n))
        finish_only = potential(design(finish, None), point)
        # finish log-worths relative to the last car, from last-two swaps of the finish order
        lw = np.zeros(n)
        for i in range(n - 1):
            order = [*(j for j in range(n) if j not in (i, n - 1)), i, n - 1]
            swapped = [*order[:-2], n - 1, i]
            last_two = potential(design(tuple(order), None), point)
            lw[i] = last_two - potential(design(tuple(swapped), None), point)
        start_z = standardize_starts(np.arange(n) + 1.0, n)
        start_term = point["start_slope"][2] * start_z
        worth = running_position_worth(
            lw, start_term, start_z, float(np.exp(point["loop_scale_log__"])), point["loop_start"][2]
        )
        total = 0.0
        for arp in itertools.permutations(range(n)):
            logp = potential(design(finish, arp), point) - finish_only
            assert logp == pytest.approx(plackett_luce_logp(worth, np.array(arp)), abs=1e-9)
            total += np.exp(logp)
        assert total == pytest.approx(1.0, abs=1e-9)

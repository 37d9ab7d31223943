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
    # forward finish likelihood: a swap of the last two finishers then reads off their log-worth gap
    priors = Priors(loop_term=True, pace=True, likelihood="forward")
    model = build_model(design(tuple(range(4)), None), capacity, priors)
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


def test_reverse_likelihood_is_forward_plackett_luce_of_the_reversed_order_with_negated_worths() -> None:
    rng = np.random.default_rng(11)
    log_worth = rng.normal(0.0, 1.0, 5)
    orders = list(itertools.permutations(range(5)))
    for order in orders[::7]:
        o = np.array(order)
        reverse = plackett_luce_logp(log_worth, o, likelihood="reverse")
        assert reverse == pytest.approx(plackett_luce_logp(-log_worth, o[::-1]), rel=1e-12)
    probs = [np.exp(plackett_luce_logp(log_worth, np.array(o), likelihood="reverse")) for o in orders]
    assert sum(probs) == pytest.approx(1.0, abs=1e-12)
    # reverse PL is a different law: the weakest car is the likeliest last, not the strongest first
    strong = np.array([3.0, 0.0, 0.0])
    p_first_rev = sum(
        np.exp(plackett_luce_logp(strong, np.array(o), likelihood="reverse"))
        for o in itertools.permutations(range(3))
        if o[0] == 0
    )
    assert p_first_rev != pytest.approx(np.exp(3) / (np.exp(3) + 2))
    with pytest.raises(ValueError, match="likelihood"):
        plackett_luce_logp(log_worth, np.arange(5), likelihood="backwards")


def test_pytensor_reverse_race_likelihood_and_gradient_match_numpy_with_dnf_and_padding_slots() -> None:
    import pytensor
    import pytensor.tensor as pt

    from nascar_dfs.core.model.plackett_luce import (
        plackett_luce_race_logp,
        plackett_luce_race_logp_elementwise,
    )

    rng = np.random.default_rng(3)
    eta = rng.normal(0.0, 1.0, (3, 6))
    running = np.array([[1, 1, 1, 1, 0, 0], [1] * 6, [0] * 6], dtype=np.float64)
    e, m = pt.dmatrix("eta"), pt.dmatrix("running")
    fused = plackett_luce_race_logp(e, m, "reverse")
    reference = plackett_luce_race_logp_elementwise(e, m, "reverse")
    fn = pytensor.function([e, m], [fused, pt.grad(fused.sum(), e), reference, pt.grad(reference.sum(), e)])
    got, grad, ref, ref_grad = fn(eta, running)
    assert got[0] == pytest.approx(plackett_luce_logp(eta[0], np.arange(4), likelihood="reverse"), rel=1e-10)
    assert got[1] == pytest.approx(plackett_luce_logp(eta[1], np.arange(6), likelihood="reverse"), rel=1e-10)
    assert got[2] == 0.0
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12)
    assert np.all(grad[0, 4:] == 0.0)  # the DNF and the empty slot carry no finishing-order gradient


def test_reverse_kernel_draws_orders_with_the_reverse_plackett_luce_probabilities() -> None:
    from nascar_dfs.core.field import Field
    from nascar_dfs.core.model.design import TRACK_TYPES
    from nascar_dfs.core.model.types import FieldParams
    from nascar_dfs.core.scenarios.dominance import DominanceParams, TrackDominance
    from nascar_dfs.core.scenarios.kernel import simulate

    log_worth = np.array([1.5, 0.0, -1.0])
    field = Field(
        race_id="fixed",
        season=2024,
        track_slug="fixed",
        track_type="intermediate",
        laps=100,
        drivers=("a", "b", "c"),
        teams=("t1", "t2", "t3"),
        manufacturers=("m", "m", "m"),
        starts=np.array([1, 2, 3]),
    )
    params = FieldParams(log_worth[None, :], np.zeros((1, 3)), likelihood="reverse")
    n = 40_000
    knobs = TrackDominance(4.0, 0.5, 1.0, 0.5, 8.0, 2.0, 10, 10, 5.0, 0.4, 0.8, 0.2)
    dominance = DominanceParams(by_track_type=dict.fromkeys(TRACK_TYPES, knobs))
    sims = simulate(params, field, dominance, n, seed=5)
    assert np.all(np.sort(sims.finish, axis=1) == np.arange(1, 4))  # one valid order per scenario
    for order in itertools.permutations(range(3)):
        expected = np.exp(plackett_luce_logp(log_worth, np.array(order), likelihood="reverse"))
        seen = np.mean(np.all(sims.finish[:, list(order)] == np.arange(1, 4), axis=1))
        assert seen == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / n))

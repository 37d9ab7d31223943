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

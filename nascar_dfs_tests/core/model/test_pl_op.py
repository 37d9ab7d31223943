"""The fused Plackett-Luce op equals its elementwise formulation, value and gradient, in every backend."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from nascar_dfs.core.model.plackett_luce import (
    plackett_luce_race_logp,
    plackett_luce_race_logp_elementwise,
)


def _rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    eta = rng.normal(0.0, 2.0, size=(5, 7))
    running = np.zeros((5, 7))
    for r, n in enumerate([7, 5, 1, 0, 3]):  # full, padded, a single car, an empty row
        running[r, :n] = 1.0
    weight = rng.uniform(0.1, 1.0, size=5)
    return eta, running, weight


@pytest.mark.parametrize("mode", ["NUMBA", "FAST_RUN", "FAST_COMPILE"])
def test_value_and_gradient_match_the_elementwise_graph(mode: str) -> None:
    eta_value, running_value, weight = _rows()
    eta, running = pt.matrix("eta"), pt.matrix("running")
    outputs = []
    for logp in (plackett_luce_race_logp, plackett_luce_race_logp_elementwise):
        total = pt.sum(weight * logp(eta, running))
        outputs += [logp(eta, running), pytensor.grad(total, eta)]
    fused, fused_grad, reference, reference_grad = pytensor.function([eta, running], outputs, mode=mode)(
        eta_value, running_value
    )
    np.testing.assert_allclose(fused, reference, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fused_grad, reference_grad, rtol=1e-10, atol=1e-12)
    assert fused[3] == 0.0 and np.all(fused_grad[3] == 0.0)  # a row that ranks nothing
    assert np.all(fused_grad[running_value == 0] == 0.0)  # unranked slots get no gradient


def test_jax_kernel_matches_the_numba_kernel_on_random_races() -> None:
    pytest.importorskip("jax")
    from nascar_dfs.core.model.pl_op import register_jax

    register_jax()
    rng = np.random.default_rng(11)
    eta_value = rng.normal(0.0, 3.0, size=(40, 12))
    running_value = (np.arange(12) < rng.integers(0, 13, size=40)[:, None]).astype(float)
    eta_value[running_value == 0] += 800.0  # unranked slots must not overflow into the ranked ones
    weight = rng.uniform(0.1, 1.0, size=40)
    eta, running = pt.matrix("eta"), pt.matrix("running")
    rows = plackett_luce_race_logp(eta, running)
    outputs = [rows, pytensor.grad(pt.sum(weight * rows), eta)]
    inputs = (eta_value, running_value)
    numba_rows, numba_grad = pytensor.function([eta, running], outputs, mode="NUMBA")(*inputs)
    jax_rows, jax_grad = pytensor.function([eta, running], outputs, mode="JAX")(*inputs)
    np.testing.assert_allclose(np.asarray(jax_rows), numba_rows, rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(np.asarray(jax_grad), numba_grad, rtol=1e-10, atol=1e-12)
    assert np.all(np.isfinite(numba_rows)) and np.all(np.asarray(jax_grad)[running_value == 0] == 0.0)

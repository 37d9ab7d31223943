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

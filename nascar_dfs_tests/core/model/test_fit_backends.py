"""The numba and JAX builds of the model sample the same posterior (within Monte Carlo error)."""

from __future__ import annotations

import numpy as np
import pytest

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.core.model.fit import FitConfig, fit_model
from nascar_dfs.core.model.fitted import FittedModel

CONFIG = FitConfig(chains=2, tune=300, draws=400, seed=3, max_rhat=1.1, min_ess_bulk=30, max_divergences=20)


def _fit(history: RaceHistory, target: str, backend: str, monkeypatch: pytest.MonkeyPatch) -> FittedModel:
    monkeypatch.setenv("NASCAR_DFS_NUTPIE_BACKEND", backend)
    fitted = fit_model(history, target, CONFIG)
    assert fitted.diagnostics.sampler == "nutpie", fitted.diagnostics.fallback_reason
    return fitted


def _mean_and_mcse(draws: np.ndarray, chains: int) -> tuple[np.ndarray, np.ndarray]:
    import arviz as az

    flat = draws.reshape(chains, -1, int(np.prod(draws.shape[1:])))
    mcse = np.array([float(np.squeeze(az.mcse(flat[:, :, i]))) for i in range(flat.shape[2])])
    return flat.mean(axis=(0, 1)), mcse


@pytest.mark.slow
def test_numba_and_jax_give_the_same_posterior_on_a_fixed_race(
    demo_history: RaceHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("jax")
    races = demo_history.points_races()
    target = str(races[races["race_id"].isin(demo_history.results["race_id"])]["race_id"].iloc[-1])
    numba_fit = _fit(demo_history, target, "numba", monkeypatch)
    jax_fit = _fit(demo_history, target, "jax", monkeypatch)
    assert numba_fit.draws.keys() == jax_fit.draws.keys()
    worst = 0.0
    for name in numba_fit.draws:
        mean_a, se_a = _mean_and_mcse(numba_fit.draws[name].astype(float), CONFIG.chains)
        mean_b, se_b = _mean_and_mcse(jax_fit.draws[name].astype(float), CONFIG.chains)
        se = np.sqrt(se_a**2 + se_b**2)
        fixed = se == 0.0  # a cell the likelihood leaves at a constant (none expected, but no 0/0)
        np.testing.assert_allclose(mean_a[fixed], mean_b[fixed])
        worst = max(worst, float(np.max(np.abs(mean_a - mean_b)[~fixed] / se[~fixed], initial=0.0)))
    # ~hundreds of effects: a |z| of 4.5 happens by chance with probability ~1e-3 over all of them
    assert worst < 4.5, f"largest posterior-mean difference {worst:.1f} Monte Carlo standard errors"
    # and the two chains differ (a separate sampler, not the same draws twice)
    assert not np.array_equal(numba_fit.draws["skill"], jax_fit.draws["skill"])


def test_an_unknown_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from nascar_dfs.core.model.fit import nutpie_backend

    monkeypatch.setenv("NASCAR_DFS_NUTPIE_BACKEND", "cuda")
    with pytest.raises(ValueError, match="auto, numba or jax"):
        nutpie_backend()
    monkeypatch.setenv("NASCAR_DFS_NUTPIE_BACKEND", "jax")
    assert nutpie_backend() == "jax"

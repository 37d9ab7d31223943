import numpy as np
import pytest

from nascar_dfs.core.contest.ownership import (
    FEATURES,
    OwnershipModel,
    capped_softmax,
    fit_ownership,
    ownership_features,
    project_ownership,
)


def _random_slate(rng: np.random.Generator, n: int = 36) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    salary = rng.choice(np.arange(4500, 11600, 100), size=n, replace=False)
    projection = salary / 1000 * rng.uniform(3.0, 5.5, size=n)
    start = rng.permutation(n) + 1
    return salary, projection, start


def test_fit_recovers_known_coefficients_from_noisy_synthetic_ownership():
    rng = np.random.default_rng(7)
    truth = OwnershipModel(np.array([0.3, 0.8, 0.25, 0.45]))
    features, observed = [], []
    for _ in range(40):
        x = ownership_features(*_random_slate(rng))
        noisy = np.clip(truth.predict(x) + rng.normal(0, 0.01, size=x.shape[0]), 0.0, None)
        features.append(x)
        observed.append(100 * noisy * 6 / noisy.sum())  # published as percentages summing to 600
    fitted = fit_ownership(features, observed)
    assert np.max(np.abs(fitted.coefficients - truth.coefficients)) < 0.08
    assert fitted.stderr is not None and np.all(fitted.stderr < 0.05)
    assert fitted.rmse == pytest.approx(0.01, rel=0.3)
    assert fitted.n_slates == 40


def test_ownership_sums_to_six_slots_and_none_exceeds_one():
    shares = capped_softmax(np.array([8.0, 7.5, 0, 0, 0, 0, 0, 0, 0, 0]), 6)
    assert shares.sum() == pytest.approx(6.0)
    assert shares.max() == pytest.approx(1.0)
    assert np.all(shares[2:] == shares[2])


def test_projection_meets_the_mean_spend_and_favours_the_best_value():
    rng = np.random.default_rng(3)
    salary, projection, start = _random_slate(rng)
    own = OwnershipModel.default().project(salary, projection, start, mean_spend=49_400)
    assert own.sum() == pytest.approx(6.0)
    assert own @ salary == pytest.approx(49_400, rel=1e-6)
    x = ownership_features(salary, projection, start)
    best = np.argmax(x @ OwnershipModel.default().coefficients)
    worst = np.argmin(x @ OwnershipModel.default().coefficients)
    assert own[best] > own[worst]


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="sums to"):
        fit_ownership(np.zeros((10, len(FEATURES))), np.full(10, 0.1))
    with pytest.raises(ValueError, match="more than 6 drivers"):
        ownership_features(np.full(5, 5000.0), np.ones(5), np.arange(5))
    with pytest.raises(ValueError, match="feature matrices"):
        fit_ownership([np.zeros((10, 4))], [])
    with pytest.raises(ValueError, match="mean spend"):
        OwnershipModel.default().project(
            np.full(10, 9000.0) + np.arange(10), np.ones(10), np.arange(10), mean_spend=49_000
        )


def test_unknown_starts_are_treated_as_average_starts():
    rng = np.random.default_rng(5)
    salary, projection, _ = _random_slate(rng)
    none = project_ownership(salary, projection)
    nan = project_ownership(salary, projection, np.full(salary.size, np.nan))
    np.testing.assert_allclose(none, nan)
    no_start = OwnershipModel(OwnershipModel.default().coefficients * np.array([1, 1, 0, 1]))
    np.testing.assert_allclose(none, no_start.project(salary, projection, np.arange(salary.size)), rtol=1e-6)

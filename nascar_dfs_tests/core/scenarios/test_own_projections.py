"""The player's own projections in the spec: they move each driver's simulated points, keep the
races' dependence, change the lineups, key another partition, and name unknown or malformed input."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from nascar_dfs.core.optimizer import build_portfolio
from nascar_dfs.core.scenarios.kernel import with_projections
from nascar_dfs.core.scenarios.spec import ConstraintSpec, DriverProjection
from nascar_dfs_tests.core.optimizer.helpers import small_pool, small_scenarios


def _ranks(points: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(points, axis=0), axis=0)


def test_projections_reversing_the_models_order_reverse_the_lineup() -> None:
    pool = small_pool(14)
    scenarios = small_scenarios(pool, n=400)
    model_order = [pool.names[j] for j in np.argsort(-scenarios.dk_points.mean(axis=0))]
    # The player's numbers: the model's best driver gets the lowest mean, its worst the highest.
    means = np.linspace(15.0, 60.0, len(model_order))
    own = {name: DriverProjection(mean=float(m), sd=8.0) for name, m in zip(model_order, means, strict=True)}
    spec = ConstraintSpec(lineups=1, scenarios=400)
    own_spec = spec.model_copy(update={"projections": own})

    before = build_portfolio(pool, spec, scenarios).lineups[0]
    moved = with_projections(scenarios, own_spec.projections)
    after = build_portfolio(pool, own_spec, moved).lineups[0]

    assert set(before.drivers) != set(after.drivers)
    top_by_player = set(model_order[-8:])  # the player's eight best drivers
    assert len(set(after.drivers) & top_by_player) >= 4, (after.drivers, top_by_player)
    assert len(set(before.drivers) & set(model_order[:8])) >= 4  # the model's pick stays the model's
    columns = [pool.names.index(name) for name in model_order]
    np.testing.assert_allclose(moved.dk_points[:, columns].mean(axis=0), means, atol=1e-3)
    np.testing.assert_allclose(moved.dk_points[:, columns].std(axis=0), 8.0, rtol=1e-3)
    # Same races: every driver's points keep their order across races, the finishes are untouched.
    np.testing.assert_array_equal(_ranks(moved.dk_points), _ranks(scenarios.dk_points))
    np.testing.assert_array_equal(moved.finish, scenarios.finish)


def test_a_mean_alone_shifts_the_points_and_keeps_their_spread() -> None:
    pool = small_pool(10)
    scenarios = small_scenarios(pool, n=200)
    moved = with_projections(scenarios, {"Driver 04": DriverProjection(mean=99.0)})
    assert moved.dk_points[:, 4].mean() == pytest.approx(99.0, abs=1e-3)
    assert moved.dk_points[:, 4].std() == pytest.approx(scenarios.dk_points[:, 4].std(), rel=1e-4)
    np.testing.assert_array_equal(np.delete(moved.dk_points, 4, 1), np.delete(scenarios.dk_points, 4, 1))


def test_projections_are_part_of_the_spec_key() -> None:
    plain = ConstraintSpec()
    assert "projections" not in plain.canonical_json()  # older specs keep their partitions
    one = ConstraintSpec(projections={"Driver 01": DriverProjection(mean=40.0)})
    other = ConstraintSpec(projections={"Driver 01": DriverProjection(mean=41.0)})
    assert len({plain.key, one.key, other.key}) == 3


def test_unknown_drivers_and_malformed_values_are_named() -> None:
    pool = small_pool(10)
    scenarios = small_scenarios(pool, n=100)
    with pytest.raises(ValueError, match="not in the field of test: Nobody, Someone Else"):
        with_projections(
            scenarios,
            {"Someone Else": DriverProjection(mean=10.0), "Nobody": DriverProjection(mean=1.0)},
        )
    with pytest.raises(pydantic.ValidationError) as error:
        ConstraintSpec.model_validate({"projections": {"Driver 01": {"mean": 40.0, "sd": -3}}})
    assert "projections.Driver 01.sd" in str(error.value)
    with pytest.raises(pydantic.ValidationError) as error:
        ConstraintSpec.model_validate({"projections": {"Driver 02": {"mean": "lots"}}})
    assert "projections.Driver 02.mean" in str(error.value)

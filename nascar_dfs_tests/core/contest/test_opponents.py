import numpy as np
import pytest

from nascar_dfs.core.contest.opponents import simulate_field
from nascar_dfs.core.contest.ownership import OwnershipModel


@pytest.fixture(scope="module")
def slate() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    salary = rng.choice(np.arange(4500, 11600, 100), size=36, replace=False)
    projection = salary / 1000 * rng.uniform(3.0, 5.5, size=36)
    ownership = OwnershipModel.default().project(salary, projection, rng.permutation(36) + 1)
    return ownership, salary


def test_field_lineups_are_valid_and_spend_like_real_fields(slate):
    ownership, salary = slate
    field = simulate_field(ownership, salary, 6000, seed=1)
    assert field.lineups.shape == (6000, 6)
    assert np.all(np.diff(field.lineups, axis=1) > 0)  # six distinct drivers
    assert field.salary.max() <= 50_000
    assert np.array_equal(field.salary, salary[field.lineups].sum(axis=1))
    assert field.share_salary_at_least(49_000) > 0.6


def test_field_ownership_matches_the_projection(slate):
    ownership, salary = slate
    field = simulate_field(ownership, salary, 6000, seed=2)
    assert field.max_ownership_error < 0.035
    assert np.corrcoef(field.ownership, ownership)[0, 1] > 0.98


def test_infeasible_ownership_is_an_error():
    salary = np.full(10, 9_000)
    with pytest.raises(ValueError, match="cheapest"):
        simulate_field(np.full(10, 0.6), salary, 100)
    with pytest.raises(ValueError, match="sums to"):
        simulate_field(np.full(10, 0.2), np.full(10, 5_000), 100)


def test_ownership_check_flags_a_field_drawn_for_another_projection(slate):
    ownership, salary = slate
    field = simulate_field(ownership, salary, 3000, seed=4, calibration_rounds=3)
    ok, figures = field.ownership_check(tolerance=0.05)
    assert ok and figures["max_ownership_error"] <= 0.05
    shifted = np.roll(ownership, 1)
    stale = type(field)(field.lineups, field.salary, field.ownership, shifted, field.acceptance)
    bad, figures = stale.ownership_check(tolerance=0.05)
    assert not bad and figures["max_ownership_error"] > 0.05

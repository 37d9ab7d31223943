from __future__ import annotations

import numpy as np
import pytest

from nascar_dfs.core.data.entry_list import field_from_history


def test_field_of_a_past_race_lists_drivers_in_start_order(shared_history) -> None:
    field = field_from_history(shared_history, "2021-cup-talladega-2")
    results = shared_history.results_for("2021-cup-talladega-2")
    assert field.size == len(results)
    assert list(field.starts) == list(range(1, field.size + 1))
    assert (field.season, field.track_type, field.laps) == (2021, "superspeedway", 117)
    pole = results.loc[results["start"] == 1].iloc[0]
    assert field.drivers[0] == pole["driver"]
    assert field.teams[0] == pole["team"] and field.manufacturers[0] == pole["manufacturer"]
    winner = field.index_of("Bubba Wallace")
    assert field.teams[winner] == "23XI Racing" and field.manufacturers[winner] == "Toyota"


def test_field_arrays_are_aligned(shared_history) -> None:
    field = field_from_history(shared_history, "2022-cup-bristol-dirt-1")
    assert field.track_type == "dirt"
    assert isinstance(field.starts, np.ndarray) and field.starts.dtype == np.int64
    assert len(field.teams) == len(field.manufacturers) == len(field.drivers)


def test_field_of_an_unknown_race_is_an_error(shared_history) -> None:
    with pytest.raises(KeyError, match="2030"):
        field_from_history(shared_history, "2030-cup-daytona-1")

"""A failed run's root cause in its own words, read from Dagster's step failure event of a real
(in-process) run: never only "Error occurred while executing op ..."."""

from __future__ import annotations

import dagster as dg

from nascar_dfs.core.data.errors import DataValidationError
from nascar_dfs.core.optimizer.errors import InfeasibleSpecError
from nascar_dfs.platform.failures import step_failure_message
from nascar_dfs.platform.quality import data_errors_as_failures


@dg.asset
def broken_history() -> None:
    with data_errors_as_failures():
        raise DataValidationError("cup_results.csv", 5, "race_id", "'' is empty")


@dg.asset
def infeasible_lineups() -> None:
    try:
        raise KeyError("salary cap")
    except KeyError as exc:  # chained by the asset itself: its own message is the one meant
        raise InfeasibleSpecError("6 locks cost 66,000, above the 50,000 cap") from exc


def _message(asset: dg.AssetsDefinition) -> str | None:
    with dg.instance_for_test() as instance:
        result = dg.materialize([asset], instance=instance, raise_on_error=False)
        assert not result.success
        return step_failure_message(instance, result.run_id)


def test_a_data_error_names_its_file_row_and_column() -> None:
    assert _message(broken_history) == "cup_results.csv row 5, column 'race_id': '' is empty"


def test_an_exception_under_dagsters_wrapper_is_its_own_sentence() -> None:
    message = _message(infeasible_lineups)
    assert message == "6 locks cost 66,000, above the 50,000 cap"


def test_a_run_without_a_failure_has_no_message() -> None:
    @dg.asset
    def fine() -> int:
        return 1

    with dg.instance_for_test() as instance:
        result = dg.materialize([fine], instance=instance)
        assert step_failure_message(instance, result.run_id) is None

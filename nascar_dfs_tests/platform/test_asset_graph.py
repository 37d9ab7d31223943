"""The plan's asset graph is read from the definitions, in process or from the webserver, and the
two readings agree: no table of parents, code versions or job contents is kept beside them."""

from __future__ import annotations

import dagster as dg

from nascar_dfs.definitions import defs
from nascar_dfs.platform import versions
from nascar_dfs.platform.jobs import CALIBRATION_JOB, LINEUP_JOB
from nascar_dfs.platform.plan import AssetGraph
from nascar_dfs_tests.platform.graphql import asset_graph_answer


def test_the_webserver_and_the_definitions_give_the_same_graph() -> None:
    assert AssetGraph.from_graphql(asset_graph_answer()) == AssetGraph.from_definitions(defs)


def test_parents_code_versions_and_job_contents_are_the_definitions_own() -> None:
    graph = AssetGraph.from_definitions(defs)
    dagster_graph = defs.resolve_asset_graph()
    for key in dagster_graph.get_all_asset_keys():
        name = key.to_user_string()
        assert graph.parents[name] == {p.to_user_string() for p in dagster_graph.get(key).parent_keys}
        assert graph.code_versions[name] == dagster_graph.get(key).code_version
    assert graph.code_versions["scenario_set"] == versions.SCENARIO_SET_CODE
    assert graph.job_assets[CALIBRATION_JOB] == (
        "race_history", "calibrated_model", "race_slate", "calibration_history"
    )  # fmt: skip
    assert graph.job_assets[LINEUP_JOB] == (
        "scenario_set", "ownership_projection", "contest_field", "lineups", "contest_report", "dk_upload_csv"
    )  # fmt: skip
    assert graph.descendants_in(CALIBRATION_JOB, "calibrated_model") == ["calibration_history"]


def test_a_changed_definition_changes_the_graph_without_another_edit() -> None:
    @dg.asset(code_version="7")
    def source() -> int:
        return 1

    @dg.asset(code_version="2")
    def middle(source: int) -> int:
        return source

    @dg.asset(deps=[middle, source])
    def last() -> None:
        return None

    job = dg.define_asset_job("some_job", selection=[last, source, middle])
    graph = AssetGraph.from_definitions(dg.Definitions(assets=[source, middle, last], jobs=[job]))

    assert graph.parents == {"source": set(), "middle": {"source"}, "last": {"middle", "source"}}
    assert graph.code_versions == {"source": "7", "middle": "2", "last": None}
    assert graph.job_assets["some_job"] == ("source", "middle", "last")  # upstream first

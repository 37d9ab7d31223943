"""The Dagster resource and the `race_graph` asset (thin layer over the loader)."""

from __future__ import annotations

from dataclasses import replace

import dagster as dg
import pytest

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.definitions import defs
from nascar_dfs.defs.graph.assets import race_graph
from nascar_dfs.defs.graph.resources import RaceGraphStore
from nascar_dfs.graph import Neo4jRaceGraph, Neo4jSettings, TableRaceGraph
from nascar_dfs_tests.graph.helpers import race_ids_of


def _materialize(history: RaceHistory, store: RaceGraphStore) -> dict:
    @dg.asset(name="race_history")
    def stub_history() -> RaceHistory:
        return history

    result = dg.materialize([stub_history, race_graph], resources={"race_graph_store": store})
    assert result.success
    [materialization] = result.asset_materializations_for_node("race_graph")
    return {key: value.value for key, value in materialization.metadata.items()}


def _first_races(history: RaceHistory, n: int) -> RaceHistory:
    races = race_ids_of(history, 2024)[:n]
    return replace(
        history,
        races=history.races[history.races["race_id"].isin(races)],
        results=history.results[history.results["race_id"].isin(races)],
    )


def test_the_code_location_exposes_the_asset_and_the_resource() -> None:
    assert dg.AssetKey("race_graph") in {a.key for a in defs.assets}
    assert isinstance(defs.resources["race_graph_store"], RaceGraphStore)


def test_without_neo4j_the_asset_writes_nothing_and_queries_use_the_tables(
    history: RaceHistory, monkeypatch
) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    small = _first_races(history, 2)
    store = RaceGraphStore()
    assert store.settings() is None
    assert isinstance(store.graph(small), TableRaceGraph)
    assert store.health().status == "pass"
    metadata = _materialize(small, store)
    assert metadata["backend"] == "table" and metadata["nodes_written"] == 0


def test_resource_fields_override_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")
    monkeypatch.setenv("NEO4J_PASSWORD", "from-env")
    assert RaceGraphStore(uri="bolt://127.0.0.1:2").settings() == Neo4jSettings(
        uri="bolt://127.0.0.1:2", password="from-env"
    )


@pytest.mark.neo4j
def test_the_asset_loads_new_races_only(
    neo4j_server: Neo4jRaceGraph, neo4j_settings: Neo4jSettings, history: RaceHistory
) -> None:
    neo4j_server.clear()
    store = RaceGraphStore(uri=neo4j_settings.uri, user=neo4j_settings.user, password=neo4j_settings.password)
    first = _materialize(_first_races(history, 3), store)
    assert first["backend"] == "neo4j" and first["races_loaded"] == 3
    assert first["nodes_written"] == first["graph_nodes"] > 0
    grown = _materialize(_first_races(history, 4), store)
    assert grown["races_loaded"] == 1, "only the new race is loaded"
    again = _materialize(_first_races(history, 4), store)
    assert (again["races_loaded"], again["nodes_written"], again["relationships_written"]) == (0, 0, 0)

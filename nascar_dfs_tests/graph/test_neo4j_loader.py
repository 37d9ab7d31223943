"""The loader against a live Neo4j server: schema, idempotent reload, incremental load, rejected batches."""

from __future__ import annotations

from dataclasses import replace

import pytest
from neo4j.exceptions import ConstraintError

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.graph import GraphInputError, Neo4jRaceGraph
from nascar_dfs.graph.batches import batches_from_history
from nascar_dfs_tests.graph.helpers import count_label, race_ids_of, snapshot

pytestmark = pytest.mark.neo4j

FIRST_RACES = 6  # enough races to share drivers, teams and tracks between them; keeps the tests quick


def test_constraints_are_created_once_and_enforced(empty_graph: Neo4jRaceGraph) -> None:
    empty_graph._schema_ready = False
    empty_graph.ensure_schema()  # a second time: IF NOT EXISTS, no error
    with empty_graph._driver.session(database=empty_graph.settings.database) as session:
        names = {r["name"] for r in session.run("SHOW CONSTRAINTS YIELD name RETURN name")}
        assert {"driver_name", "race_id", "track_slug", "team_name"} <= names
        session.run("CREATE (:Driver {name: 'Twin'})").consume()
        with pytest.raises(ConstraintError):
            session.run("CREATE (:Driver {name: 'Twin'})").consume()


def test_loading_the_same_races_twice_changes_nothing(
    empty_graph: Neo4jRaceGraph, history: RaceHistory
) -> None:
    races = race_ids_of(history, 2024)[:FIRST_RACES]
    first = empty_graph.load(history, races)
    before = snapshot(empty_graph.settings)
    second = empty_graph.load(history, races)
    assert snapshot(empty_graph.settings) == before, "same nodes, relationships and property values"
    assert first.nodes_created > 0 and first.relationships_created > 0
    assert (second.nodes_created, second.relationships_created) == (0, 0)
    assert count_label(empty_graph.settings, "Race") == FIRST_RACES


def test_loading_one_new_race_adds_exactly_its_nodes_and_relationships(
    empty_graph: Neo4jRaceGraph, history: RaceHistory
) -> None:
    races = race_ids_of(history, 2024)[: FIRST_RACES + 1]
    old, new = races[:-1], races[-1]
    empty_graph.load(history, old)
    nodes_before, rels_before = snapshot(empty_graph.settings)
    report = empty_graph.load(history, [new])
    nodes_after, rels_after = snapshot(empty_graph.settings)

    # nothing already there changed ...
    assert set(nodes_before) <= set(nodes_after) and set(rels_before) <= set(rels_after)
    # ... and the additions are exactly what a fresh load of all races holds beyond the old ones
    empty_graph.clear()
    empty_graph.load(history, races)
    assert snapshot(empty_graph.settings) == (nodes_after, rels_after)

    new_rows = history.results[history.results["race_id"] == new]
    old_drivers = set(history.results.loc[history.results["race_id"].isin(old), "driver"])
    added_nodes = sorted(set(nodes_after) - set(nodes_before))
    assert sum(n.startswith("['Race']") for n in added_nodes) == 1
    assert sum(n.startswith("['Driver']") for n in added_nodes) == len(set(new_rows["driver"]) - old_drivers)
    added_results = [r for r in set(rels_after) - set(rels_before) if " -RESULT " in r]
    assert len(added_results) == len(new_rows)
    assert (report.nodes_created, report.relationships_created) == (
        len(nodes_after) - len(nodes_before),
        len(rels_after) - len(rels_before),
    )


def test_sync_loads_only_what_the_graph_lacks(empty_graph: Neo4jRaceGraph, history: RaceHistory) -> None:
    races = race_ids_of(history, 2024)[:FIRST_RACES]
    subset = history.races[history.races["race_id"].isin(races)]
    small = replace(history, races=subset, results=history.results[history.results["race_id"].isin(races)])
    empty_graph.load(small, races[:-2])
    report = empty_graph.sync(small)
    assert report.races == 2
    assert empty_graph.sync(small).races == 0


@pytest.mark.parametrize("bad", ["driver", "race_id"])
def test_a_batch_with_an_unknown_driver_or_race_writes_nothing(
    empty_graph: Neo4jRaceGraph, history: RaceHistory, bad: str
) -> None:
    races = race_ids_of(history, 2024)
    empty_graph.load(history, races[:2])
    before = snapshot(empty_graph.settings)

    batch = next(batches_from_history(history, [races[2]]))
    unknown = "Nobody Atall" if bad == "driver" else "2024-cup-nowhere-1"
    batch.results.append({**batch.results[0], bad: unknown})
    with pytest.raises(GraphInputError, match=unknown):
        empty_graph.write_batch(batch)

    assert snapshot(empty_graph.settings) == before, "not even the valid rows of the batch were written"
    assert count_label(empty_graph.settings, "Race") == 2


def test_a_corrected_team_replaces_the_old_one(empty_graph: Neo4jRaceGraph, history: RaceHistory) -> None:
    race = race_ids_of(history, 2024)[0]
    empty_graph.load(history, [race])
    results = history.results.copy()
    row = (results["race_id"] == race) & (results["driver"] == "Kyle Larson")
    results.loc[row, ["team", "manufacturer"]] = ["Corrected Racing", "Toyota"]
    empty_graph.load(replace(history, results=results), [race])

    entry = empty_graph.entry("Kyle Larson", race)
    assert (entry.team, entry.manufacturer) == ("Corrected Racing", "Toyota")
    assert "Kyle Larson" not in empty_graph.teammates("Chase Elliott", race)
    assert empty_graph.teammates("Kyle Larson", race) == ()

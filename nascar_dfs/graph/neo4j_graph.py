"""The race graph in Neo4j: schema, idempotent batch loader and the RaceGraph queries."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

# The driver is imported where a connection is made: every Dagster process loads this module with
# the code location (defs/graph), and most of them (a lineup run) never talk to Neo4j.
if TYPE_CHECKING:
    import neo4j
    from neo4j import ManagedTransaction

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.graph import cypher
from nascar_dfs.graph.batches import (
    DEFAULT_RACES_PER_BATCH,
    GraphBatch,
    batches_from_history,
    link_changes,
    problems_of,
)
from nascar_dfs.graph.types import (
    DriverCovariates,
    GraphHealth,
    GraphInputError,
    LoadReport,
    NoResultsError,
    NotInRaceError,
    PastResult,
    RaceEntry,
    UnknownDriverError,
    UnknownRaceError,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Neo4jSettings:
    uri: str
    user: str = "neo4j"
    password: str = ""
    database: str = "neo4j"
    connection_timeout_s: float = 5.0
    query_timeout_s: float = 120.0
    # managed transactions retry transient errors (deadlocks, leader switches, lost connections) this long
    max_retry_time_s: float = 15.0


@dataclass(frozen=True)
class BatchCounters:
    nodes_created: int = 0
    relationships_created: int = 0
    properties_set: int = 0

    def __add__(self, other: BatchCounters) -> BatchCounters:
        return BatchCounters(
            self.nodes_created + other.nodes_created,
            self.relationships_created + other.relationships_created,
            self.properties_set + other.properties_set,
        )


class Neo4jRaceGraph:
    """RaceGraph backed by a Neo4j server; also loads a RaceHistory into it (MERGE, one tx per batch)."""

    def __init__(self, settings: Neo4jSettings) -> None:
        if not settings.uri:
            raise ValueError("Neo4jRaceGraph needs a bolt:// or neo4j:// URI")
        self.settings = settings
        from neo4j import GraphDatabase

        self._driver = GraphDatabase.driver(
            settings.uri,
            auth=(settings.user, settings.password),
            connection_timeout=settings.connection_timeout_s,
            connection_acquisition_timeout=settings.connection_timeout_s,
            max_transaction_retry_time=settings.max_retry_time_s,
        )
        self._schema_ready = False

    def close(self) -> None:
        self._driver.close()

    def __enter__(self) -> Neo4jRaceGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema and loading ------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the constraints and indexes if missing (idempotent: IF NOT EXISTS)."""
        if self._schema_ready:
            return
        with self._session() as session:
            for statement in cypher.SCHEMA:
                session.run(statement).consume()
            session.run("CALL db.awaitIndexes(300)").consume()
        self._schema_ready = True

    def load(
        self,
        history: RaceHistory,
        race_ids: Iterable[str] | None = None,
        races_per_batch: int = DEFAULT_RACES_PER_BATCH,
    ) -> LoadReport:
        """Upsert the given races (default: every race) with their tracks, drivers and results."""
        started = time.perf_counter()
        batches = list(batches_from_history(history, race_ids, races_per_batch))
        total = BatchCounters()
        for batch in batches:
            total = total + self.write_batch(batch)
        return LoadReport(
            races=sum(len(b.races) for b in batches),
            result_rows=sum(len(b.results) for b in batches),
            nodes_created=total.nodes_created,
            relationships_created=total.relationships_created,
            properties_set=total.properties_set,
            seconds=time.perf_counter() - started,
        )

    def sync(self, history: RaceHistory, races_per_batch: int = DEFAULT_RACES_PER_BATCH) -> LoadReport:
        """Load only the races the graph lacks or holds with a different number of results."""
        stored = self.result_counts()
        expected = history.results.groupby("race_id").size()
        stale = [
            race_id
            for race_id in history.races["race_id"]
            if stored.get(race_id) != int(expected.get(race_id, 0))
        ]
        return self.load(history, stale, races_per_batch)

    def write_batch(self, batch: GraphBatch) -> BatchCounters:
        """Validate the batch against itself and the graph, then write it; all in ONE transaction, so a
        rejected batch (GraphInputError) or a failure half-way leaves the graph untouched."""
        self.ensure_schema()
        return self._write(_write_batch_tx, batch)

    def result_counts(self) -> dict[str, int]:
        """race_id -> number of RESULT relationships, for every Race node."""
        rows = self._read(_records_tx, cypher.RESULT_COUNTS, {})
        return {r["race_id"]: int(r["results"]) for r in rows}

    def counts(self) -> tuple[int, int]:
        """(nodes, relationships) in the database."""
        nodes = self._read(_records_tx, cypher.COUNT_NODES, {})[0]["n"]
        rels = self._read(_records_tx, cypher.COUNT_RELATIONSHIPS, {})[0]["n"]
        return int(nodes), int(rels)

    def foreign_nodes(self) -> int:
        """Nodes carrying none of the graph's labels (some other application's data)."""
        rows = self._read(_records_tx, cypher.FOREIGN_LABELS, {"labels": list(cypher.LABELS)})
        return int(rows[0]["n"])

    def clear(self, chunk: int = 20_000) -> None:
        """Delete every node and relationship (in chunks, so a big graph does not need one huge tx)."""
        while self._write(_records_tx, cypher.DELETE_SOME, {"limit": chunk})[0]["n"]:
            pass

    # --- RaceGraph queries -------------------------------------------------------------------------

    def entry(self, driver: str, race_id: str) -> RaceEntry:
        row = self._one(cypher.ENTRY, {"driver": driver, "race_id": race_id})
        _require_in_race(row, driver, race_id)
        return RaceEntry(driver, race_id, row["team"], row["manufacturer"], row["car_number"])

    def teammates(self, driver: str, race_id: str) -> tuple[str, ...]:
        row = self._one(cypher.TEAMMATES, {"driver": driver, "race_id": race_id})
        _require_in_race(row, driver, race_id)
        return tuple(sorted(row["mates"]))

    def recent_results_same_track_type(self, driver: str, race_id: str, limit: int) -> tuple[PastResult, ...]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        params = {"driver": driver, "race_id": race_id, "limit": int(limit)}
        row = self._one(cypher.RECENT_SAME_TRACK_TYPE, params)
        if not row["race_known"]:
            raise UnknownRaceError(race_id)
        if row["seq"] is None:
            raise ValueError(f"race {race_id!r} is an exhibition: it has no place in the points-race order")
        if not row["driver_known"]:
            raise UnknownDriverError(driver)
        return tuple(PastResult(**past) for past in row["past"])

    def covariates_for_race(self, race_id: str) -> tuple[DriverCovariates, ...]:
        row = self._one(cypher.COVARIATES, {"race_id": race_id})
        if not row["race_known"]:
            raise UnknownRaceError(race_id)
        if not row["rows"]:
            raise NoResultsError(race_id)
        track_type = row["track_type"]
        return tuple(sorted(DriverCovariates(track_type=track_type, **entry) for entry in row["rows"]))

    def health(self, timeout_s: float = 2.0) -> GraphHealth:
        return neo4j_health(self.settings, timeout_s)

    # --- plumbing ----------------------------------------------------------------------------------

    def _one(self, query: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._read(_records_tx, query, params)[0]

    def _session(self) -> neo4j.Session:
        return self._driver.session(database=self.settings.database)

    def _read(self, work: Callable[..., T], *args: Any) -> T:
        from neo4j import unit_of_work

        with self._session() as session:
            return session.execute_read(unit_of_work(timeout=self.settings.query_timeout_s)(work), *args)

    def _write(self, work: Callable[..., T], *args: Any) -> T:
        from neo4j import unit_of_work

        with self._session() as session:
            return session.execute_write(unit_of_work(timeout=self.settings.query_timeout_s)(work), *args)


def _require_in_race(row: dict[str, Any], driver: str, race_id: str) -> None:
    if not row["race_known"]:
        raise UnknownRaceError(race_id)
    if not row["has_results"]:
        raise NoResultsError(race_id)
    if not row["in_race"]:
        raise NotInRaceError(driver, race_id)


def _records_tx(tx: ManagedTransaction, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [record.data() for record in tx.run(query, params)]


def _write_batch_tx(tx: ManagedTransaction, batch: GraphBatch) -> BatchCounters:
    race_ids, drivers, slugs = batch.referenced
    known = tx.run(cypher.KNOWN_KEYS, race_ids=race_ids, drivers=drivers, slugs=slugs).single(strict=True)
    problems = problems_of(batch, set(known["races"]), set(known["drivers"]), set(known["tracks"]))
    if problems:
        raise GraphInputError(problems)
    total = BatchCounters()
    steps = (
        (cypher.MERGE_TRACKS, {"rows": batch.tracks}),
        (cypher.MERGE_CONFIGS, {"rows": batch.configs}),
        (cypher.MERGE_RACES, {"rows": batch.races}),
        (cypher.MERGE_DRIVERS, {"names": batch.drivers}),
        (cypher.MERGE_TEAMS, {"names": batch.teams}),
        (cypher.MERGE_MANUFACTURERS, {"names": batch.manufacturers}),
        (cypher.MERGE_RESULTS, {"rows": batch.results}),
        (cypher.MERGE_DROVE_FOR, {"rows": batch.season_teams}),
        (cypher.MERGE_RAN, {"rows": batch.season_makes}),
    )
    for query, params in steps:
        total = total + _run_counted(tx, query, params)
    for field, existing_query, create_query in (
        ("team", cypher.EXISTING_TEAM_LINKS, cypher.CREATE_TEAM_LINKS),
        ("manufacturer", cypher.EXISTING_MAKE_LINKS, cypher.CREATE_MAKE_LINKS),
    ):
        existing = [r.data() for r in tx.run(existing_query, race_ids=race_ids)]
        stale, missing = link_changes(batch.results, field, existing)
        if stale:
            total = total + _run_counted(tx, cypher.DELETE_RELATIONSHIPS, {"ids": stale})
        if missing:
            total = total + _run_counted(tx, create_query, {"rows": missing})
    return total


def _run_counted(tx: ManagedTransaction, query: str, params: dict[str, Any]) -> BatchCounters:
    counters = tx.run(query, params).consume().counters
    return BatchCounters(counters.nodes_created, counters.relationships_created, counters.properties_set)


def neo4j_health(settings: Neo4jSettings, timeout_s: float) -> GraphHealth:
    """Ping the server with a throw-away driver. The ping runs on a daemon thread with a deadline, so a
    frozen server costs the caller at most `timeout_s` and can never block the process from exiting."""
    started = time.perf_counter()
    answers: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=1)

    def ping() -> None:
        try:
            answers.put((True, _ping(settings, timeout_s)))
        except Exception as exc:  # handed to the caller, who reports it
            answers.put((False, exc))

    threading.Thread(target=ping, name="neo4j-health", daemon=True).start()
    try:
        ok, value = answers.get(timeout=timeout_s)
    except queue.Empty:
        ok, value = False, f"no answer within {timeout_s:g} s"
    if ok:
        status, detail = "pass", f"{settings.uri}: Neo4j {value}"
    elif isinstance(value, Exception):
        status, detail = "fail", f"{settings.uri}: {type(value).__name__}: {' '.join(str(value).split())}"
    else:
        status, detail = "fail", f"{settings.uri}: {value}"
    latency = (time.perf_counter() - started) * 1000
    return GraphHealth(status=status, latency_ms=latency, detail=detail, backend="neo4j")


def _ping(settings: Neo4jSettings, timeout_s: float) -> str:
    import neo4j
    from neo4j import GraphDatabase

    with (
        GraphDatabase.driver(
            settings.uri,
            auth=(settings.user, settings.password),
            connection_timeout=timeout_s,
            connection_acquisition_timeout=timeout_s,
            max_transaction_retry_time=0,
            liveness_check_timeout=0,
        ) as driver,
        driver.session(database=settings.database) as session,
    ):
        # auto-commit query: no retries, so a down server fails at once instead of after retry time
        record = session.run(
            neo4j.Query("CALL dbms.components() YIELD versions RETURN versions[0] AS v", timeout=timeout_s)
        ).single(strict=True)
        return str(record["v"])

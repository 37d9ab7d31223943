"""`nascar-dfs graph`: load race history into Neo4j, check the graph's health, print a race's covariates."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from nascar_dfs.cli import CliError

HELP = (
    "Race knowledge graph: `load` upserts a data folder into Neo4j (NEO4J_URI, NEO4J_USER, "
    "NEO4J_PASSWORD), `health` reports connectivity and latency, `covariates` prints a race's "
    "per-driver team, manufacturer and track type"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="graph_command", required=True)
    load = sub.add_parser("load", help="upsert races, drivers, teams and results into Neo4j (idempotent)")
    load.add_argument("--data-dir", required=True, type=Path, help="folder in the shared data layout")
    load.add_argument("--season", type=int, action="append", help="only this season (repeatable)")
    load.add_argument("--race", action="append", help="only this race_id (repeatable)")
    load.add_argument("--new-only", action="store_true", help="only races missing or incomplete in the graph")
    load.add_argument("--clear", action="store_true", help="delete the whole graph first")
    health = sub.add_parser("health", help="Neo4j connectivity and latency (exit 1 when down)")
    health.add_argument("--timeout", type=float, default=2.0, help="seconds before the server counts as down")
    covariates = sub.add_parser("covariates", help="per-driver team, manufacturer, track type of a race")
    covariates.add_argument("--data-dir", required=True, type=Path, help="folder in the shared data layout")
    covariates.add_argument("--race", required=True, help="race_id")
    for command in (load, health, covariates):
        command.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    handlers = {"load": _load, "health": _health, "covariates": _covariates}
    return handlers[args.graph_command](args)


def _history(data_dir: Path):
    from nascar_dfs.core.data.errors import DataValidationError
    from nascar_dfs.core.data.history import load_history

    try:
        return load_history(data_dir)
    except (DataValidationError, FileNotFoundError) as exc:
        raise CliError(f"cannot read {data_dir}: {exc}") from exc


def _load(args: argparse.Namespace) -> int:
    from nascar_dfs.graph import GraphError, Neo4jRaceGraph, neo4j_settings_from_env

    settings = neo4j_settings_from_env()
    if settings is None:
        raise CliError('NEO4J_URI is not set; start a server with: eval "$(scripts/services/neo4j.sh start)"')
    history = _history(args.data_dir)
    race_ids = _selected_races(history, args.season, args.race)
    with Neo4jRaceGraph(settings) as graph:
        _require_up(graph)
        try:
            if args.clear:
                graph.clear()
            if args.new_only:
                report = graph.sync(_restricted(history, race_ids))
            else:
                report = graph.load(history, race_ids)
        except GraphError as exc:
            raise CliError(str(exc)) from exc
        nodes, relationships = graph.counts()
    summary = {**asdict(report), "graph_nodes": nodes, "graph_relationships": relationships}
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"loaded {report.races} races ({report.result_rows} results) in {report.seconds:.1f} s: "
            f"{report.nodes_created} nodes and {report.relationships_created} relationships created; "
            f"graph now {nodes} nodes, {relationships} relationships"
        )
    return 0


def _health(args: argparse.Namespace) -> int:
    from nascar_dfs.graph import graph_health

    if args.timeout <= 0:
        raise CliError(f"--timeout must be positive, got {args.timeout}")
    health = graph_health(args.timeout)
    if args.json:
        print(health.model_dump_json())
    else:
        print(f"{health.status} {health.backend} {health.latency_ms:.1f} ms: {health.detail}")
    return 0 if health.status == "pass" else 1


def _covariates(args: argparse.Namespace) -> int:
    from nascar_dfs.graph import GraphError, open_race_graph

    history = _history(args.data_dir)
    graph = open_race_graph(history)
    try:
        rows = graph.covariates_for_race(args.race)
    except GraphError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps([asdict(r) for r in rows]))
    else:
        for r in rows:
            print(f"{r.driver}\t{r.team}\t{r.manufacturer}\t{r.track_type}")
    return 0


def _selected_races(history, seasons: list[int] | None, races: list[str] | None) -> list[str] | None:
    if not seasons and not races:
        return None
    chosen: list[str] = list(races or [])
    unknown = sorted(set(chosen) - set(history.races["race_id"]))
    if unknown:
        raise CliError(f"unknown race ids: {', '.join(unknown)}")
    for season in seasons or []:
        in_season = history.races.loc[history.races["season"] == season, "race_id"].tolist()
        if not in_season:
            raise CliError(f"no races of season {season} in the data folder")
        chosen.extend(in_season)
    return list(dict.fromkeys(chosen))


def _restricted(history, race_ids: list[str] | None):
    from dataclasses import replace

    if race_ids is None:
        return history
    return replace(
        history,
        races=history.races[history.races["race_id"].isin(race_ids)],
        results=history.results[history.results["race_id"].isin(race_ids)],
    )


def _require_up(graph) -> None:
    health = graph.health(timeout_s=graph.settings.connection_timeout_s)
    if health.status != "pass":
        raise CliError(f"Neo4j is not reachable: {health.detail}")

"""`nascar-dfs graph ...` as a user runs it."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from nascar_dfs.cli import main
from nascar_dfs.core.data.demo import DEMO_DIR


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_health_of_a_down_server_exits_1_with_a_fail_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{_closed_port()}")
    assert main(["graph", "health", "--timeout", "1", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "fail" and report["backend"] == "neo4j"


def test_load_without_neo4j_uri_says_how_to_start_a_server(
    monkeypatch, capsys, shared_data_dir: Path
) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    assert main(["graph", "load", "--data-dir", str(shared_data_dir)]) == 2
    assert "scripts/services/neo4j.sh start" in capsys.readouterr().err


def test_covariates_from_the_tables(monkeypatch, capsys, shared_data_dir: Path) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    assert (
        main(["graph", "covariates", "--data-dir", str(shared_data_dir), "--race", "2024-cup-daytona-1"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert "Kyle Larson\tHendrick Motorsports\tChevrolet\tsuperspeedway" in lines


def test_covariates_of_an_unknown_race_is_a_clear_error(monkeypatch, capsys) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    assert main(["graph", "covariates", "--data-dir", str(DEMO_DIR), "--race", "2024-cup-nowhere-1"]) == 2
    assert "2024-cup-nowhere-1" in capsys.readouterr().err


@pytest.mark.neo4j
def test_load_of_a_race_reports_what_it_wrote(neo4j_server, capsys, shared_data_dir: Path, history) -> None:
    race = "2024-cup-phoenix-2"
    args = ["graph", "load", "--data-dir", str(shared_data_dir), "--race", race, "--clear"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["races"] == 1 and report["result_rows"] == len(history.results_for(race))
    assert report["graph_nodes"] == report["nodes_created"]

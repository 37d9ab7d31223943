"""`nascar-dfs up`'s REST API command line: which proxies' X-Forwarded-For it believes."""

from __future__ import annotations

import argparse

import pytest

from nascar_dfs.commands import up


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    up.add_arguments(parser)
    return parser.parse_args(list(argv))


def _flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_api_trusts_forwarded_headers_only_from_loopback_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(up.FORWARDED_ENV, raising=False)
    command = up.api_command(_args(), 30.0)
    assert "--proxy-headers" in command
    assert _flag(command, "--forwarded-allow-ips") == "127.0.0.1"


def test_the_trusted_proxies_come_from_the_environment_or_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(up.FORWARDED_ENV, "10.0.0.0/8")
    assert _flag(up.api_command(_args(), 30.0), "--forwarded-allow-ips") == "10.0.0.0/8"
    command = up.api_command(_args("--forwarded-allow-ips", "192.0.2.7"), 30.0)
    assert _flag(command, "--forwarded-allow-ips") == "192.0.2.7"


def test_the_api_serves_metrics_on_a_port_of_its_own() -> None:
    assert up.api_metrics_environment(_args()) == {
        "NASCAR_DFS_API_METRICS_PORT": "9464",
        "NASCAR_DFS_API_METRICS_HOST": "127.0.0.1",
    }
    env = up.api_metrics_environment(_args("--metrics-port", "9500", "--host", "0.0.0.0"))
    assert env["NASCAR_DFS_API_METRICS_PORT"] == "9500" and env["NASCAR_DFS_API_METRICS_HOST"] == "0.0.0.0"

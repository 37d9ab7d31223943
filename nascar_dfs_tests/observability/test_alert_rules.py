"""The alert rules: valid for Prometheus, unit-tested (each alert fires on an incident series and
stays quiet on a noisy-but-healthy one), and every alert links an existing runbook entry."""

from __future__ import annotations

import importlib.util
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from .promql import (
    LOADED_RULES,
    PENDING_RULES,
    PROMETHEUS_DIR,
    RULE_TESTS,
    anchor,
    load_rules,
    runbook_anchors,
)

ALL_RULE_FILES = LOADED_RULES + PENDING_RULES


def _promtool(promtool: str, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_promtool_check_rules_accepts_every_rule_file(promtool: str) -> None:
    assert ALL_RULE_FILES, "no rule files under deploy/prometheus"
    result = _promtool(promtool, "check", "rules", *ALL_RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass(promtool: str) -> None:
    result = _promtool(promtool, "test", "rules", *[p.name for p in RULE_TESTS], cwd=PROMETHEUS_DIR / "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_catches_a_broken_threshold(promtool: str, tmp_path: Path) -> None:
    # The unit tests must be able to fail: raise the fast-burn threshold out of reach and the
    # incident case no longer fires.
    rules_dir = tmp_path / "rules"
    tests_dir = tmp_path / "tests"
    rules_dir.mkdir()
    tests_dir.mkdir()
    source = PROMETHEUS_DIR / "rules" / "nascar_dfs.rules.yml"
    text = source.read_text().replace("> (14.4 * 0.005)", "> (144 * 0.005)")
    (rules_dir / source.name).write_text(text)
    test_file = PROMETHEUS_DIR / "tests" / "api_slo.test.yml"
    (tests_dir / test_file.name).write_text(test_file.read_text())
    result = _promtool(promtool, "test", "rules", test_file.name, cwd=tests_dir)
    assert result.returncode != 0
    assert "ApiErrorBudgetBurnFast" in result.stdout + result.stderr


def _cases_by_alert() -> dict[str, dict[str, int]]:
    """For each alert name: how many promtool checks expect it firing and how many expect silence."""
    cases: dict[str, dict[str, int]] = defaultdict(lambda: {"firing": 0, "quiet": 0})
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for check in test.get("alert_rule_test", []):
                kind = "firing" if check.get("exp_alerts") else "quiet"
                cases[check["alertname"]][kind] += 1
    return cases


@pytest.mark.parametrize("rule", [r for r in load_rules(ALL_RULE_FILES) if r.alert], ids=lambda r: r.alert)
def test_every_alert_has_a_firing_and_a_quiet_case(rule) -> None:  # type: ignore[no-untyped-def]
    cases = _cases_by_alert()[rule.alert]
    assert cases["firing"] >= 1, f"{rule.alert}: no promtool case where it fires"
    assert cases["quiet"] >= 1, f"{rule.alert}: no promtool case where it stays silent"


@pytest.mark.parametrize("rule", [r for r in load_rules(ALL_RULE_FILES) if r.alert], ids=lambda r: r.alert)
def test_every_alert_links_its_runbook_entry(rule) -> None:  # type: ignore[no-untyped-def]
    annotations = rule.body.get("annotations", {})
    url = annotations.get("runbook_url", "")
    assert url.startswith("docs/operations.md#"), f"{rule.alert}: runbook_url {url!r}"
    fragment = url.split("#", 1)[1]
    assert fragment == anchor(rule.alert), f"{rule.alert}: runbook anchor {fragment!r} is not the alert's"
    assert fragment in runbook_anchors(), f"{rule.alert}: docs/operations.md has no heading #{fragment}"
    assert annotations.get("summary") and annotations.get("description")
    assert rule.body.get("labels", {}).get("severity") in {"page", "ticket"}


def test_every_alert_waits_out_blips() -> None:
    # A single bad evaluation must never notify: every alert has a `for:` duration.
    for rule in load_rules(ALL_RULE_FILES):
        if rule.alert:
            assert rule.body.get("for"), f"{rule.alert} has no `for:`"


def test_readme_operations_section_lists_every_alert_once() -> None:
    readme = (PROMETHEUS_DIR.parents[1] / "README.md").read_text()
    section = readme.split("\n## Operations", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    for rule in load_rules(ALL_RULE_FILES):
        if rule.alert:
            mine = [row for row in rows if row.startswith(f"| {rule.alert} |")]
            assert len(mine) == 1, f"README Operations: {len(mine)} rows for {rule.alert}"
            cells = [c.strip() for c in mine[0].strip("|").split("|")]
            assert cells[1] == rule.body["labels"]["severity"] and all(cells[2:]), mine[0]


def test_generated_crps_cases_are_current() -> None:
    generator = PROMETHEUS_DIR / "tests" / "make_crps_tests.py"
    spec = importlib.util.spec_from_file_location("make_crps_tests", generator)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (PROMETHEUS_DIR / "tests" / "crps_band.test.yml").read_text()
    assert module.render() == current, "run `python make_crps_tests.py` in deploy/prometheus/tests"

"""Reading the deployed observability files: alert rules, promtool tests, dashboard expressions,
and the metric names a PromQL expression reads."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
LOADED_RULES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
PENDING_RULES = sorted((PROMETHEUS_DIR / "pending").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))
DASHBOARDS = sorted((REPO / "deploy" / "grafana").glob("*.json"))
RUNBOOK = REPO / "docs" / "operations.md"

# Dashboard variables replaced by what Grafana would substitute, so expressions parse as PromQL.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$job": ".*", "${job}": ".*"}

_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "inf",
    "nan",
    "atan2",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_DURATION = re.compile(r"\b\d+(?:ms|[smhdwy])\b")
_IDENTIFIER = re.compile(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)\b(?!\s*\()")


@dataclass(frozen=True)
class Rule:
    file: Path
    group: str
    body: dict[str, Any]

    @property
    def alert(self) -> str | None:
        return self.body.get("alert")

    @property
    def record(self) -> str | None:
        return self.body.get("record")

    @property
    def expr(self) -> str:
        return str(self.body["expr"])


def load_rules(files: list[Path]) -> list[Rule]:
    rules = []
    for path in files:
        doc = yaml.safe_load(path.read_text())
        if not isinstance(doc, dict) or not doc.get("groups"):
            raise ValueError(f"{path}: no rule groups")
        for group in doc["groups"]:
            rules.extend(Rule(path, group["name"], body) for body in group["rules"])
    return rules


def dashboard_expressions(path: Path) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query target of a dashboard, nested rows included."""
    doc = json.loads(path.read_text())
    found: list[tuple[str, str]] = []

    def visit(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            visit(panel.get("panels", []))
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((panel["title"], target["expr"]))

    visit(doc["panels"])
    for var in doc.get("templating", {}).get("list", []):
        query = var.get("query")
        if var.get("type") == "query":
            text = query["query"] if isinstance(query, dict) else query
            match = re.fullmatch(r"label_values\((\w+),\s*\w+\)", text)
            if not match:
                raise ValueError(f"{path}: variable {var['name']} is not label_values(metric, label)")
            found.append((f"variable {var['name']}", match.group(1)))
    return found


def substitute_grafana_variables(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    if "$" in expr:
        raise ValueError(f"unknown Grafana variable left in {expr!r}")
    return expr


def metric_names(expr: str) -> set[str]:
    """Metric (and recorded-series) names an expression reads.

    Strings, label matchers, ranges/subqueries, grouping clauses and durations are removed first;
    what is left that is an identifier, not a function call and not a keyword, is a metric name.
    """
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _DURATION.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    slug = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return slug.replace(" ", "-")


def runbook_anchors() -> set[str]:
    return {anchor(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", RUNBOOK.read_text(), re.M)}

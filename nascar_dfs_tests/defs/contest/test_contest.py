"""A spec with a contest through Dagster: ownership projection, simulated field (and its check),
lineups picked by simulated ROI, the contest report; a spec without one builds none of it.

The packaged demo slate (36 drivers, real salaries and projected ownership) and the real contest
science run; only the model fit and the race kernel are stood in for (points around each driver's
average), so each request takes seconds.
"""

from __future__ import annotations

import json
from dataclasses import replace

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from nascar_dfs.core.data.demo import DEMO_DIR
from nascar_dfs.core.data.draftkings import read_dk_salaries
from nascar_dfs.core.field import Field
from nascar_dfs.core.optimizer import build_portfolio
from nascar_dfs.core.optimizer.pool import pool_from_slate
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.core.scenarios.types import ScenarioSet
from nascar_dfs.platform import science
from nascar_dfs.platform.materializations import latest_materialization, materialization_count
from nascar_dfs.platform.plan import request_lineups
from nascar_dfs_tests.platform.fakes import UPCOMING

SLATE = read_dk_salaries(DEMO_DIR / "DKSalaries.csv")
POOL = pool_from_slate(SLATE)
CONTEST = {"entries": 2_000, "entry_fee": 20}
SPEC = ConstraintSpec(lineups=3, scenarios=1_000, contest=CONTEST)
LINEUP_ASSETS = ["scenario_set", "ownership_projection", "contest_field", "lineups", "contest_report",
                 "dk_upload_csv"]  # fmt: skip


def demo_field(slate, history, race, starts=None) -> Field:
    """The demo slate's own grid: these tests upload no starting lineup, so `starts` stays None."""
    assert starts is None
    n = POOL.size
    return Field(race, 2026, "demo", "intermediate", 300, POOL.names, POOL.teams, ("Ford",) * n,
                 np.asarray(SLATE.players["start"], dtype=np.int64))  # fmt: skip


def demo_races(model, race_field: Field, spec, seed: int) -> ScenarioSet:
    """Points around each driver's DraftKings average, in 0.05 steps (ties happen, as in real races)."""
    rng = np.random.default_rng(seed)
    n, d = spec.scenarios, race_field.size
    points = np.maximum(POOL.projections[None, :] + rng.normal(0, 14, (n, d)), 0)
    zeros = np.zeros((n, d), dtype=np.int32)
    return ScenarioSet(
        race_id=race_field.race_id, drivers=race_field.drivers, starts=race_field.starts,
        finish=np.argsort(-points, axis=1).astype(np.int16) + 1, dnf=np.zeros((n, d), bool),
        laps_completed=zeros + 300, laps_led=zeros, fastest_laps=zeros, green_laps=np.full(n, 250, np.int32),
        dk_points=(np.round(points * 20) / 20).astype(np.float32), seed=seed, draws=n, rejection_rate=0.0,
    )  # fmt: skip


@pytest.fixture
def demo(fake, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(science, "read_slate", lambda path: SLATE)
    monkeypatch.setattr(science, "slate_field", demo_field)
    monkeypatch.setattr(science, "simulate", demo_races)
    monkeypatch.setattr(
        science, "portfolio", lambda slate, spec, s: build_portfolio(slate, spec, scenarios=s)
    )
    return fake


def request(defs, instance, storage_dir, spec=SPEC):
    return request_lineups(defs, instance, UPCOMING, spec, storage_root=storage_dir, scenario_ttl_hours=24.0)


def field_check(instance: dg.DagsterInstance, run_id: str) -> dg.AssetCheckEvaluation:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    found = [r.event_log_entry.dagster_event.event_specific_data for r in records]
    return next(e for e in found if e.check_name == "field_ownership")


def test_a_contest_spec_builds_field_lineups_and_report_on_the_demo_slate(
    demo, fake_defs, registered, storage_dir
):
    plan, results = request(fake_defs, registered, storage_dir)

    assert [a for a in plan.assets if a in LINEUP_ASSETS] == LINEUP_ASSETS
    check = field_check(registered, results[-1].run_id)
    assert check.passed
    meta = {k: getattr(v, "value", v) for k, v in check.metadata.items()}
    assert meta["max_ownership_error"] <= meta["worst_driver_allowed"] + 0.03
    assert meta["field_entries"] == 1_997

    partition = f"{UPCOMING}|{SPEC.key}"
    ownership = pd.read_csv(storage_dir / "ownership_projection" / UPCOMING / f"{SPEC.key}.csv")
    # The demo slate's projected ownership implies a $58,800 lineup: tilted until valid lineups can follow.
    assert set(ownership["source"]) == {"slate, budget-tilted"}
    assert ownership["ownership"] @ ownership["salary"] == pytest.approx(49_400, rel=1e-3)
    assert ownership["ownership"].sum() == pytest.approx(6.0)

    report = json.loads((storage_dir / "contest_report" / UPCOMING / f"{SPEC.key}.json").read_text())
    built = json.loads((storage_dir / "lineups" / UPCOMING / f"{SPEC.key}.json").read_text())
    assert built["objective"] == "contest_roi" and built["method"].startswith("contest:")
    assert [r["dk_ids"] for r in report["lineups"]] == [lu["dk_ids"] for lu in built["lineups"]]
    assert report["field_size"] == 1_997 and report["races"] == SPEC.scenarios
    for result in [report["portfolio"], *report["lineups"]]:
        for figure in ("roi", "p_top_1pct", "p_first", "duplicates", "payout"):
            assert set(result[figure]) == {"mean", "se"}
        assert result["roi"]["se"] > 0
        assert len(result["roi_quantiles"]) == 7
    assert report["contest"]["prize_pool"] == pytest.approx(2_000 * 20 * 0.87)
    assert report["field"]["ownership_check_passed"] is True
    assert report["field_mean_roi"]["mean"] < 0  # the rake
    recorded = latest_materialization(registered, "contest_report", partition)
    assert recorded.value("portfolio_roi") == pytest.approx(report["portfolio"]["roi"]["mean"])
    csv_rows = (storage_dir / "dk_upload_csv" / UPCOMING / f"{SPEC.key}.csv").read_text().strip().splitlines()
    assert len(csv_rows) == 1 + SPEC.lineups

    again, runs = request(fake_defs, registered, storage_dir)
    assert again.reuses_everything and runs == []


def test_a_spec_without_a_contest_builds_no_contest_assets(demo, fake_defs, registered, storage_dir):
    plain = ConstraintSpec(lineups=3, scenarios=200)
    plan, _ = request(fake_defs, registered, storage_dir, plain)

    assert [a for a in plan.assets if a in LINEUP_ASSETS] == ["scenario_set", "lineups", "dk_upload_csv"]
    partition = f"{UPCOMING}|{plain.key}"
    for asset in ("ownership_projection", "contest_field", "contest_report"):
        assert materialization_count(registered, asset, partition) == 0


def test_the_whole_lineup_job_on_a_spec_without_a_contest_still_succeeds(
    demo, fake_defs, registered, storage_dir
):
    plain = ConstraintSpec(lineups=3, scenarios=200)
    request(fake_defs, registered, storage_dir, plain)  # model, slate and scenarios
    result = fake_defs.resolve_job_def("lineup_job").execute_in_process(
        instance=registered, partition_key=f"{UPCOMING}|{plain.key}", raise_on_error=False
    )
    assert result.success
    assert json.loads((storage_dir / "contest_report" / UPCOMING / f"{plain.key}.json").read_text()) is None


def test_the_field_check_fails_when_the_field_cannot_follow_the_projection(
    demo, fake_defs, registered, storage_dir, monkeypatch
):
    def mismatched(ownership, contest, lineups, seed):
        # A field drawn for the projection, handed over as if drawn for another one (the drivers'
        # projected shares shifted by five places): the check must see that it does not follow it.
        drawn = draw_field(ownership, contest, lineups, seed)
        return replace(drawn, target=np.roll(drawn.target, 5))

    draw_field = science.contest_field
    monkeypatch.setattr(science, "contest_field", mismatched)
    _, results = request(fake_defs, registered, storage_dir)

    check = field_check(registered, results[-1].run_id)
    meta = {k: getattr(v, "value", v) for k, v in check.metadata.items()}
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert meta["max_ownership_error"] > meta["tolerance"]
    assert meta["worst_driver_error"] > meta["worst_driver_allowed"]
    report = json.loads((storage_dir / "contest_report" / UPCOMING / f"{SPEC.key}.json").read_text())
    assert report["field"]["ownership_check_passed"] is False

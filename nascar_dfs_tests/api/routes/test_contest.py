"""A lineup request whose spec names a contest: validated like the rest of the spec, and its
lineups come back with the contest figures the Dagster run produced (here via the fake launcher)."""

from __future__ import annotations

import numpy as np

from api.orchestration.launcher import RunResults
from nascar_dfs.core.contest.simulate import simulate_contest
from nascar_dfs.core.contest.slate import report_dict
from nascar_dfs.core.contest.spec import ContestSpec

from ..conftest import Api
from ..helpers import assert_problem, body, fake_results, submit

CONTEST = {"entries": 500, "entry_fee": 20}


def contest_results(n: int) -> RunResults:
    """fake_results(n) with a contest report in the format the contest_report asset writes."""
    plain = fake_results(n)
    ids = [[d["dk_id"] for d in lineup] for lineup in plain.lineups]
    rng = np.random.default_rng(0)
    points = rng.normal(30, 10, (400, 6 * n + 12)).astype(np.float32)
    field = np.sort(np.argsort(rng.random((500 - n, 6 * n + 12)), axis=1)[:, :6], axis=1)
    report = simulate_contest(points, np.arange(6 * n).reshape(n, 6), field, ContestSpec(**CONTEST))
    who = [
        {"drivers": [d["name"] for d in lu], "dk_ids": i} for lu, i in zip(plain.lineups, ids, strict=True)
    ]
    figures = {"max_ownership_error": 0.012, "tolerance": 0.03, "field_entries": 500 - n}
    return RunResults(plain.lineups, plain.upload_csv, report_dict(report, True, who, figures, True))


def test_a_contest_spec_returns_its_contest_figures_with_the_lineups(api: Api) -> None:
    headers = api.key()
    data = submit(api, headers, body(3, contest=CONTEST)).json()
    assert data["spec"]["contest"] == {"entries": 500, "entry_fee": 20.0}
    url = f"/v1/lineup-requests/{data['id']}"
    assert_problem(api.client.get(url + "/lineups", headers=headers), 409)  # not finished yet

    api.worker.run_once()
    run = api.launcher.only_run_for(data["id"])
    assert '"contest"' in run.request.spec_json
    api.launcher.succeed(run.run_id, contest_results(3))
    api.worker.run_once()

    got = api.client.get(url + "/lineups", headers=headers)
    assert got.status_code == 200, got.text
    out = got.json()
    contest = out["contest"]
    assert contest["contest"]["entries"] == 500 and contest["field_size"] == 497
    assert contest["contest"]["prize_pool"] == 500 * 20 * 0.87
    for figures in [contest["portfolio"], *(lu["contest"] for lu in out["lineups"])]:
        for name in ("roi", "payout", "p_top_1pct", "p_first", "duplicates"):
            assert set(figures[name]) == {"mean", "se"}
        assert figures["roi"]["se"] > 0 and len(figures["roi_quantiles"]) == 7
    assert contest["field"]["ownership_check_passed"] is True
    assert contest["field_mean_roi"]["mean"] < 0


def test_a_spec_without_a_contest_has_no_contest_figures(api: Api) -> None:
    headers = api.key()
    data = submit(api, headers).json()
    api.worker.run_once()
    api.launcher.succeed(api.launcher.only_run_for(data["id"]).run_id, fake_results(3))
    api.worker.run_once()
    out = api.client.get(f"/v1/lineup-requests/{data['id']}/lineups", headers=headers).json()
    assert out["contest"] is None and all(lu["contest"] is None for lu in out["lineups"])


def test_a_bad_contest_is_a_422_naming_the_field(api: Api) -> None:
    headers = api.key()
    bad = submit(api, headers, body(3, contest={"entries": 1, "entry_fee": 20}))
    problem = assert_problem(bad, 422)
    assert any(e["loc"][-2:] == ["contest", "entries"] for e in problem["errors"]), problem
    tiers = [{"from_place": 1, "to_place": 1, "prize": 1e9}]
    too_rich = submit(api, headers, body(3, contest={**CONTEST, "payouts": tiers}))
    assert "above the prize pool" in str(assert_problem(too_rich, 422)["errors"])
    assert api.launcher.launches == []


def test_the_contest_figures_are_in_the_openapi_schema(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert "contest" in components["LineupsOut"]["properties"]
    assert {"roi", "p_top_1pct", "p_first", "duplicates", "roi_quantiles"} <= set(
        components["ContestFigures"]["properties"]
    )
    assert "contest" in components["ConstraintSpec"]["properties"]
    assert "ContestSpec" in components and "PayoutTier" in components


def _run_materializing(instance, partition: str, metadata: dict[str, dict[str, str]]) -> str:  # type: ignore[no-untyped-def]
    """A lineup run (in process) that records these materializations of the partition."""
    import dagster as dg

    @dg.op
    def materialize():  # type: ignore[no-untyped-def]
        for asset, values in metadata.items():
            yield dg.AssetMaterialization(asset, partition=partition, metadata=values)
        yield dg.Output(None)

    @dg.job
    def lineup_job() -> None:
        materialize()

    return lineup_job.execute_in_process(instance=instance, tags={"dagster/partition": partition}).run_id


def test_the_dagster_launcher_reads_the_report_the_run_wrote(tmp_path, monkeypatch) -> None:
    """The run's builds are stored as the IO manager stores them (by content) and its
    materializations name them: the launcher hands out that run's report and no other."""
    import dagster as dg

    from api.core.config import Settings
    from api.orchestration.dagster_launcher import DagsterLauncher
    from nascar_dfs.core.optimizer.portfolio import Lineup, Portfolio
    from nascar_dfs.core.scenarios.spec import ConstraintSpec
    from nascar_dfs.platform.content_store import CONTENT_DIGEST, LINEUPS_DIGEST, write_build
    from nascar_dfs.platform.io_manager import codec_for
    from nascar_dfs.platform.spec_store import save_spec

    monkeypatch.setenv("NASCAR_DFS_STORAGE", str(tmp_path / "storage"))
    race = "2026-cup-demo-mile-2"
    expected = contest_results(2)
    with dg.instance_for_test() as instance:
        launcher = DagsterLauncher(Settings(database_url="sqlite://", dagster_url="http://dagster.test"))
        launcher._instance = instance
        root = launcher.storage_root()
        for spec, report in (
            (ConstraintSpec(lineups=2, contest=CONTEST), expected.contest),
            (ConstraintSpec(lineups=2), None),
        ):
            save_spec(root, spec)
            portfolio = Portfolio(
                lineups=tuple(
                    Lineup(tuple(d["name"] for d in lu), tuple(d["dk_id"] for d in lu), 48_000, 0.0, 0.0)
                    for lu in expected.lineups
                ),
                exposures={},
                objective="contest_roi",
                method="contest:greedy",
            )
            parts, partition = [race, spec.key], f"{race}|{spec.key}"
            outputs = {"lineups": portfolio, "dk_upload_csv": expected.upload_csv, "contest_report": report}
            digests = {a: write_build(root, a, parts, codec_for(a), obj).digest for a, obj in outputs.items()}
            lineage = {LINEUPS_DIGEST: digests["lineups"]}
            metadata = {
                asset: {CONTENT_DIGEST: digest, **({} if asset == "lineups" else lineage)}
                for asset, digest in digests.items()
            }

            run_id = _run_materializing(instance, partition, metadata)
            assert launcher.results(run_id).contest == report

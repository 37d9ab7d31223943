"""The Dagster UI as an operator sees it, in headless Chromium (Debian's `chromium` package) against
a running `dagster-webserver` on the demo definitions.

The page is rendered by Chromium itself (`--dump-dom` after the UI's GraphQL queries settle), so
what is asserted is the text a user would read, and a screenshot is kept under var/artifacts/.

- default run: the asset graph lists the calibrated model, scenario set and lineups assets
  (webserver only, ~30-60 s on a loaded 2-core machine);
- `-m slow`: after `nascar-dfs demo --quick` materializes the demo race, the calibrated model's
  partition page shows its check results and the calibration plot in its metadata, and the race x
  spec pages show the projections, lineups and exposures tables and the spec in words (their
  screenshots are copied to docs/images/ for the README's race-week walk-through).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from nascar_dfs_tests.api.dagster_stack import free_port, wait_http

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "var" / "artifacts"
DOCS_IMAGES = REPO / "docs" / "images"  # the README's race-week walk-through shows these
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-extensions",
    "--no-first-run",
    "--window-size=1600,1000",
    # Virtual time lets the page finish its GraphQL queries and render before the dump.
    "--virtual-time-budget=30000",
)
LINEUPS_GROUP = "/locations/nascar_dfs.definitions/asset-groups/lineups"
SELECT_HISTORY = ("--select", "calibration_history")


@dataclass(frozen=True)
class Webserver:
    url: str
    env: dict[str, str]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("Chromium is not installed: apt-get install -y chromium (Debian package)")


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webserver]:
    work = tmp_path_factory.mktemp("dagster-ui")
    home, storage = work / "home", work / "storage"
    home.mkdir()
    storage.mkdir()
    instance_yaml = (REPO / "dagster.yaml").read_text()
    if "\nnux:" not in instance_yaml:
        # The first-visit "Join the Dagster community" dialog would cover the screenshot.
        instance_yaml += "\nnux:\n  enabled: false\n"
    (home / "dagster.yaml").write_text(instance_yaml)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "NASCAR_DFS_STORAGE": str(storage),
        "NASCAR_DFS_DATA_DIR": "",  # the packaged demo data
    }
    bindir = Path(sys.executable).parent
    subprocess.run(
        [str(bindir / "dagster"), "instance", "migrate"], env=env, cwd=REPO, check=True, capture_output=True
    )
    port = free_port()
    log = (work / "webserver.log").open("wb")
    proc = subprocess.Popen(
        [
            str(bindir / "dagster-webserver"),
            "-m",
            "nascar_dfs.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/server_info", 120, [proc])
        yield Webserver(url, env)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()


def _visible_text(dom: str) -> str:
    """The page's text as a reader sees it: scripts and styles dropped, tags to spaces."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())


def render(url: str) -> str:
    result = subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, "--dump-dom", url], capture_output=True, text=True, timeout=150
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return _visible_text(result.stdout)


def screenshot(url: str, name: str, height: int = 1000) -> Path:
    """A PNG of the page under var/artifacts/; a taller window keeps a long metadata table in view."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    flags = [f"--window-size=1600,{height}" if f.startswith("--window-size") else f for f in CHROMIUM_FLAGS]
    subprocess.run(
        [_chromium(), *flags, f"--screenshot={path}", url],
        capture_output=True,
        timeout=150,
        check=True,
    )
    assert path.exists() and path.stat().st_size > 10_000, f"no screenshot at {path}"
    return path


def test_asset_graph_lists_the_model_scenario_and_lineup_assets(webserver: Webserver) -> None:
    url = webserver.url + LINEUPS_GROUP
    text = render(url)
    assert "Asset Group" in text, text[:500]
    for asset in ("calibrated_model", "scenario_set", "lineups", "dk_upload_csv"):
        assert re.search(rf"\b{asset}\b", text), f"{asset} missing from the asset graph: {text[:800]}"
    # Each node of the group shows its asset-check summary, which operators scan for red.
    assert "Asset checks" in text
    screenshot(url, "dagster_ui_asset_graph.png")


@dataclass(frozen=True)
class DemoRace:
    race: str
    spec_key: str

    @property
    def partition(self) -> str:
        """The race x spec partition key as the UI's URLs carry it (`race|spec`, the bar escaped)."""
        return quote(f"{self.race}|{self.spec_key}", safe="")


@pytest.fixture(scope="module")
def demo_race(webserver: Webserver) -> DemoRace:
    """`nascar-dfs demo --quick` on the webserver's instance (the real science, a short chain),
    then calibration_history: the materialized race the slow tests read."""
    bindir = Path(sys.executable).parent
    demo = subprocess.run(
        [str(bindir / "nascar-dfs"), "demo", "--quick", "--lineups", "5", "--scenarios", "500"],
        env=webserver.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    race = re.search(r"^race (\S+), spec ([0-9a-f]{16})", demo.stdout, re.M)
    assert race, demo.stdout[-2000:]
    history = subprocess.run(
        [str(bindir / "dagster"), "asset", "materialize", "-m", "nascar_dfs.definitions", *SELECT_HISTORY],
        env=webserver.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert history.returncode == 0, history.stderr[-2000:]
    return DemoRace(race.group(1), race.group(2))


@pytest.mark.slow
def test_materialized_demo_partition_shows_checks_and_calibration_plot(
    webserver: Webserver, demo_race: DemoRace
) -> None:
    checks_url = f"{webserver.url}/assets/calibrated_model?view=checks"
    checks = render(checks_url)
    for check in ("crps_vs_baseline", "crps_drift", "model_age", "sampler_diagnostics"):
        assert re.search(rf"{check} {check} (Succeeded|Failed|Warning)", checks), f"{check}: {checks[:1500]}"
    rejection = render(f"{webserver.url}/assets/scenario_set?view=checks")
    assert re.search(r"rejection_rate rejection_rate (Succeeded|Failed|Warning)", rejection), rejection[:1500]
    assert "error_above 0.5" in rejection and "warn_above 0.2" in rejection
    partition = render(f"{webserver.url}/assets/calibrated_model?partition={demo_race.race}&view=partitions")
    assert "Materialized (1)" in partition and "divergences" in partition, partition[:1500]
    plot = render(f"{webserver.url}/assets/calibration_history")
    assert re.search(r"\bplot\b", plot) and "scored_models" in plot, plot[:1500]
    screenshot(checks_url, "dagster_ui_calibrated_model_checks.png")


PROJECTION_HEADERS = ("driver", "salary", "start", "mean_points", "p10_points", "p90_points", "win_pct",
                      "top5_pct", "mean_laps_led", "ownership_pct")  # fmt: skip
DEMO_DRIVER = re.compile(r"Demo Driver \d{2}")


@pytest.mark.slow
def test_race_week_pages_show_projections_lineups_exposures_and_the_spec(
    webserver: Webserver, demo_race: DemoRace
) -> None:
    """What a player reads in the UI about their request: the scenario set's projections table, the
    lineups and exposures tables, and the spec partition's summary in words."""
    scenario_url = f"{webserver.url}/assets/scenario_set?partition={demo_race.partition}&view=partitions"
    scenario = render(scenario_url)
    assert "projections" in scenario and " ".join(PROJECTION_HEADERS) in scenario, scenario[:3000]
    # The best-projected driver's row follows the headers: a name, then salary and start as integers.
    assert re.search(r"ownership_pct Demo Driver \d{2} \d{4,5} \d{1,2} \d", scenario), scenario[:3000]
    assert "5 lineups , objective scenario , built on 500 simulated races" in scenario, scenario[:3000]

    lineups_url = f"{webserver.url}/assets/lineups?partition={demo_race.partition}&view=partitions"
    lineups = render(lineups_url)
    assert "lineup_table" in lineups, lineups[:3000]
    assert "lineup drivers salary projected_points p90_points 1 Demo Driver" in lineups, lineups[:3000]
    assert re.search(r"exposures .*driver lineups exposure_pct cap_pct Demo Driver \d{2} \d", lineups)
    assert f"spec {demo_race.spec_key}" in lineups and "exposure per driver: at most 100%" in lineups
    assert len(set(DEMO_DRIVER.findall(lineups))) >= 6, lineups[:3000]

    # The spec dimension's own partition: its lineups materialization carries the same summary.
    spec_url = f"{webserver.url}/assets/lineups?partition={demo_race.partition}&view=events"
    spec = render(spec_url)
    assert demo_race.spec_key in spec and "any two lineups differ by at least 1 driver" in spec, spec[:3000]

    for url, name in (
        (scenario_url, "race_week_projections.png"),
        (lineups_url, "race_week_lineups.png"),
    ):
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot(url, name, height=2600), DOCS_IMAGES / name)


@pytest.mark.slow
def test_api_metrics_read_the_materialized_demo_race(
    webserver: Webserver, demo_race: DemoRace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the demo race materialized with the real science: the API on the same instance exports
    that race's divergences, scenario-set rejection rate and runs."""
    import dagster as dg
    from fastapi.testclient import TestClient
    from prometheus_client.parser import text_string_to_metric_families

    from api.app import create_app
    from api.core.config import Settings
    from nascar_dfs_tests.api.fakes import FakeLauncher

    # The instance's dagster.yaml reads its folders from the environment, as the API's would.
    for name in ("DAGSTER_HOME", "NASCAR_DFS_STORAGE"):
        monkeypatch.setenv(name, webserver.env[name])
    instance = dg.DagsterInstance.from_config(webserver.env["DAGSTER_HOME"])

    class OnDemoInstance(FakeLauncher):
        @property
        def instance(self) -> dg.DagsterInstance:
            return instance

    work = Path(webserver.env["NASCAR_DFS_STORAGE"]).parent
    settings = Settings(database_url=f"sqlite:///{work / 'api.db'}", background_worker=False)
    with TestClient(create_app(settings, launcher=OnDemoInstance())) as client:
        text = client.get("/metrics").text
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]

    def labels_of(name: str) -> list[dict[str, str]]:
        return [dict(s.labels) for s in samples if s.name == name]

    races = {labels["race_id"] for labels in labels_of("dfs_calibration_divergences")}
    assert races, text[-3000:]
    assert any(labels["race_id"] in races for labels in labels_of("dfs_scenario_set_rejection_rate"))
    assert {
        labels["race_id"] for labels in labels_of("dfs_calibration_last_success_timestamp_seconds")
    } >= races
    finished = {
        (s.labels["state"], s.labels["kind"]): s.value
        for s in samples
        if s.name == "dfs_dagster_runs_finished_total"
    }
    assert finished[("success", "calibration")] >= 1 and finished[("success", "lineups")] >= 1
    assert labels_of("dfs_run_phase_duration_seconds")
    instance.dispose()

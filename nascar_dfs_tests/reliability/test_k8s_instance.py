"""deploy/k8s/dagster.yaml: Dagster accepts it, builds a K8sRunLauncher from it, and that launcher
turns a lineup run into a valid Kubernetes Job. No cluster: the Job is captured, not created."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import DagsterInstance
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.instance.config import dagster_instance_config
from dagster._core.launcher import LaunchRunContext
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._core.storage.dagster_run import DagsterRun
from dagster_k8s import K8sRunLauncher
from kubernetes.client import ApiClient

from nascar_dfs.platform import tags

from .conftest import K8S_DIR
from .k8s_schema import validate_document

RUN_IMAGE = "registry.test/nascar-dfs:test"
NAMESPACE = "nascar-dfs-test"

DUMMY_KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "none", "user": {"token": "unused"}}],
    "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
    "current-context": "none",
}


@pytest.fixture
def k8s_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "DAGSTER_K8S_NAMESPACE": NAMESPACE,
        "DAGSTER_RUN_IMAGE": RUN_IMAGE,
        "DAGSTER_PG_HOST": "pg.invalid",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USER": "dagster",
        "DAGSTER_PG_PASSWORD": "unused",
        "DAGSTER_PG_DB": "dagster",
    }.items():
        monkeypatch.setenv(name, value)


def _local_variant(config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The production file with only what needs a cluster or a server swapped out: SQLite instead
    of PostgreSQL, a dummy kubeconfig instead of the in-cluster service account."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(DUMMY_KUBECONFIG))
    config = {**config, "storage": {"sqlite": {"base_dir": str(tmp_path)}}}
    config["compute_logs"] = {**config["compute_logs"], "config": {"base_dir": str(tmp_path / "logs")}}
    launcher = {
        **config["run_launcher"]["config"],
        "load_incluster_config": False,
        "kubeconfig_file": str(kubeconfig),
    }
    config["run_launcher"] = {**config["run_launcher"], "config": launcher}
    return config


@pytest.fixture
def instance(k8s_env: None, tmp_path: Path, instance_yaml: dict[str, Any]) -> Iterator[DagsterInstance]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(_local_variant(instance_yaml, home)))
    with _open(home) as inst:
        yield inst


def _open(home: Path) -> DagsterInstance:
    from dagster._core.instance.ref import InstanceRef

    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def test_production_instance_yaml_passes_dagsters_config_schema(k8s_env: None, tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text((K8S_DIR / "dagster.yaml").read_text())
    config = dagster_instance_config(str(tmp_path))[0]
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert config["run_launcher"]["class"] == "K8sRunLauncher"


def test_instance_builds_a_k8s_run_launcher_that_watches_run_worker_health(instance: DagsterInstance) -> None:
    launcher = instance.run_launcher
    assert isinstance(launcher, K8sRunLauncher)
    assert launcher.job_image == RUN_IMAGE
    assert launcher.job_namespace == NAMESPACE
    # Unlike the default launcher, a dead run pod is detected (dagster.md §5 host-crash case).
    assert launcher.supports_check_run_worker_health
    assert instance.run_monitoring_enabled
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 1


def _lineup_run(instance: DagsterInstance) -> DagsterRun:
    origin = JobPythonOrigin(
        job_name="lineup_job",
        repository_origin=RepositoryPythonOrigin(
            executable_path="/usr/local/bin/python",  # the image's interpreter, as the code server reports it
            code_pointer=ModuleCodePointer("nascar_dfs.definitions", "defs", working_directory=None),
        ),
    )
    race, spec = "2024-cup-phoenix-2", "0123456789abcdef"
    run_tags = tags.run_tags(tags.LINEUPS, "request", race) | {
        "dagster/partition/race": race,
        "dagster/partition/spec": spec,
        "api/request_id": "test-request",
    }
    return instance.add_run(DagsterRun(job_name="lineup_job", tags=run_tags, job_code_origin=origin))


def test_lineup_run_becomes_a_valid_job_with_the_sized_pod(
    instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    launcher = instance.run_launcher
    created: list[tuple[Any, str]] = []
    monkeypatch.setattr(
        launcher._api_client,  # type: ignore[attr-defined]
        "create_namespaced_job_with_retries",
        lambda body, namespace: created.append((body, namespace)),
    )
    run = _lineup_run(instance)
    launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))

    ((job, namespace),) = created
    assert namespace == NAMESPACE
    document = ApiClient().sanitize_for_serialization(job)
    validate_document(document)  # what the API server would receive

    spec = document["spec"]
    assert spec["backoffLimit"] == 0 and spec["ttlSecondsAfterFinished"] == 3600
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "dagster-run"
    (container,) = pod["containers"]
    assert container["image"] == RUN_IMAGE
    assert container["args"][:5] == ["/usr/local/bin/python", "-m", "dagster", "api", "execute_run"]
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "2Gi"}
    env_from = {next(iter(v.values()))["name"] for v in container["envFrom"]}
    assert {"nascar-dfs-env", "nascar-dfs-pg"} <= env_from
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"nascar-dfs-storage", "nascar-dfs-compile-cache"}
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/var/cache/nascar-dfs", "/var/lib/nascar-dfs"} <= mounted
    # The run worker gets the instance as a serialized ref in its args; the {env: ...} values in
    # it are resolved again inside the pod, from the ConfigMap and Secret above.
    assert {"name": "DAGSTER_HOME", "value": "/opt/dagster/dagster_home"} in container["env"]
    assert instance.get_run_by_id(run.run_id).tags["dagster/image"] == RUN_IMAGE

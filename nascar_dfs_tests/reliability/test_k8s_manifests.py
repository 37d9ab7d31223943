"""deploy/k8s: every manifest is a valid Kubernetes object and the pieces fit together."""

from __future__ import annotations

import copy
import os
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.core.config import Settings

from .conftest import K8S_DIR, load_documents, manifest_files
from .k8s_schema import ManifestError, validate_document

DOCS = load_documents()
RACE = "2024-cup-phoenix-2"


def _by_kind(documents: list[tuple[str, dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in documents if d["kind"] == kind}


def _pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def _container(documents: list[tuple[str, dict[str, Any]]], deployment: str) -> dict[str, Any]:
    return _pod_spec(_by_kind(documents, "Deployment")[deployment])["containers"][0]


@pytest.mark.parametrize(
    "document", [d for _, d in DOCS], ids=[f"{f}:{d['kind']}/{d['metadata']['name']}" for f, d in DOCS]
)
def test_manifest_passes_the_kubernetes_schema(document: dict[str, Any]) -> None:
    validate_document(document)


def test_schema_check_rejects_a_misspelt_field_and_a_missing_required_one() -> None:
    api = copy.deepcopy(_by_kind(DOCS, "Deployment")["nascar-dfs-api"])
    container = _pod_spec(api)["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(ManifestError, match="readinesProbe"):
        validate_document(api)
    nameless = copy.deepcopy(_by_kind(DOCS, "Deployment")["nascar-dfs-api"])
    del _pod_spec(nameless)["containers"][0]["name"]
    with pytest.raises(ManifestError, match="name"):
        validate_document(nameless)


def test_kustomization_applies_every_manifest_and_generates_the_instance_config_maps(
    instance_yaml: dict[str, Any],
) -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in manifest_files())
    generated = {g["name"]: g for g in kustomization["configMapGenerator"]}
    instance_map = instance_yaml["run_launcher"]["config"]["instance_config_map"]
    assert generated[instance_map]["files"] == ["dagster.yaml"]
    # A hash suffix would break the fixed name K8sRunLauncher mounts into every run pod.
    assert all(g["options"]["disableNameSuffixHash"] for g in generated.values())
    covered = set(kustomization["resources"]) | {f for g in generated.values() for f in g["files"]}
    assert covered | {"kustomization.yaml"} == {p.name for p in K8S_DIR.glob("*.yaml")}


def _generated_config_maps() -> set[str]:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    return {g["name"] for g in kustomization["configMapGenerator"]}


def _references(pod: dict[str, Any]) -> dict[str, set[str]]:
    refs: dict[str, set[str]] = {"ConfigMap": set(), "Secret": set(), "PersistentVolumeClaim": set()}
    for volume in pod.get("volumes", []):
        if "configMap" in volume:
            refs["ConfigMap"].add(volume["configMap"]["name"])
        if "persistentVolumeClaim" in volume:
            refs["PersistentVolumeClaim"].add(volume["persistentVolumeClaim"]["claimName"])
    for container in pod["containers"]:
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                refs["ConfigMap"].add(source["configMapRef"]["name"])
            if "secretRef" in source:
                refs["Secret"].add(source["secretRef"]["name"])
    return refs


def test_every_config_map_secret_volume_and_account_a_pod_uses_is_defined(
    instance_yaml: dict[str, Any],
) -> None:
    defined = {kind: set(_by_kind(DOCS, kind)) for kind in ("ConfigMap", "Secret", "PersistentVolumeClaim")}
    defined["ConfigMap"] |= _generated_config_maps()
    accounts = set(_by_kind(DOCS, "ServiceAccount"))
    launcher = instance_yaml["run_launcher"]["config"]
    run_pod = {
        "containers": [
            {
                "envFrom": [{"configMapRef": {"name": n}} for n in launcher["env_config_maps"]]
                + [{"secretRef": {"name": n}} for n in launcher["env_secrets"]]
            }
        ],
        "volumes": launcher["volumes"],
    }
    pods = {name: _pod_spec(d) for name, d in _by_kind(DOCS, "Deployment").items()} | {"run pod": run_pod}
    for name, pod in pods.items():
        for kind, names in _references(pod).items():
            assert names <= defined[kind], f"{name} uses undefined {kind} {names - defined[kind]}"
        if name != "run pod":
            assert pod["serviceAccountName"] in accounts, name
        mounts = {m["name"] for c in pod["containers"] for m in c.get("volumeMounts", [])}
        assert mounts <= {v["name"] for v in pod["volumes"]}, name
    assert launcher["service_account_name"] in accounts


def test_services_select_a_deployment_and_target_one_of_its_ports() -> None:
    deployments = _by_kind(DOCS, "Deployment").values()
    for service in _by_kind(DOCS, "Service").values():
        selector = service["spec"]["selector"]
        matches = [
            d for d in deployments if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matches) == 1, service["metadata"]["name"]
        ports = {p["name"] for p in _pod_spec(matches[0])["containers"][0]["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    for deployment in deployments:
        assert (
            deployment["spec"]["selector"]["matchLabels"].items()
            <= deployment["spec"]["template"]["metadata"]["labels"].items()
        )


def _flag(args: list[str], name: str) -> str:
    if name not in args:
        raise AssertionError(f"{name} missing from {shlex.join(args)}")
    return args[args.index(name) + 1]


def test_api_termination_grace_covers_prestop_drain_and_lifespan_shutdown() -> None:
    container = _container(DOCS, "nascar-dfs-api")
    grace = _pod_spec(_by_kind(DOCS, "Deployment")["nascar-dfs-api"])["terminationGracePeriodSeconds"]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    drain = float(_flag(container["args"], "--timeout-graceful-shutdown"))
    # The grace period counts from the start of preStop; SIGKILL before the drain ends would cut
    # in-flight requests. 5 s margin for lifespan shutdown (pools, worker thread).
    assert grace >= float(pre_stop[1]) + drain + 5


def test_api_probes_use_livez_and_readyz_and_outlast_the_health_check_timeout() -> None:
    container = _container(DOCS, "nascar-dfs-api")
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/readyz"
    settings = Settings()
    # /readyz answers within its own dependency timeout; a shorter probe timeout would mark a
    # healthy pod unready whenever PostgreSQL is merely slow.
    assert container["readinessProbe"]["timeoutSeconds"] > settings.health_check_timeout_s
    # A liveness restart must need longer than a readiness removal (api.md §5).
    live, ready = container["livenessProbe"], container["readinessProbe"]
    assert (
        live["periodSeconds"] * live["failureThreshold"] > ready["periodSeconds"] * ready["failureThreshold"]
    )


def test_runs_use_the_image_of_the_code_location(instance_yaml: dict[str, Any]) -> None:
    env = _by_kind(DOCS, "ConfigMap")["nascar-dfs-env"]["data"]
    images = {_container(DOCS, name)["image"] for name in _by_kind(DOCS, "Deployment")}
    assert instance_yaml["run_launcher"]["config"]["job_image"] == {"env": "DAGSTER_RUN_IMAGE"}
    assert images == {env["DAGSTER_RUN_IMAGE"]}


def test_exactly_one_daemon_even_during_a_rollout() -> None:
    daemon = _by_kind(DOCS, "Deployment")["dagster-daemon"]
    assert daemon["spec"]["replicas"] == 1
    assert daemon["spec"]["strategy"]["type"] == "Recreate"


def test_workspace_location_is_the_one_the_api_launches_into() -> None:
    workspace = yaml.safe_load((K8S_DIR / "workspace.yaml").read_text())
    env = _by_kind(DOCS, "ConfigMap")["nascar-dfs-env"]["data"]
    server = workspace["load_from"][0]["grpc_server"]
    assert server["location_name"] == env["NASCAR_DFS_API_DAGSTER_LOCATION"]
    assert server["host"] in _by_kind(DOCS, "Service")
    assert "--location-name" in _container(DOCS, server["host"])["args"]
    assert _flag(_container(DOCS, server["host"])["args"], "--location-name") == server["location_name"]


def test_every_api_setting_the_config_map_sets_is_one_the_api_reads() -> None:
    """The API ignores unknown NASCAR_DFS_API_* variables, so a stale one would silently do
    nothing (an upload folder the platform never reads, say)."""
    env = _by_kind(DOCS, "ConfigMap")["nascar-dfs-env"]["data"]
    prefix = Settings.model_config["env_prefix"]
    named = {k.removeprefix(prefix).lower() for k in env if k.startswith(prefix)}
    assert named and named <= set(Settings.model_fields), named - set(Settings.model_fields)


def _env_references(node: Any) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        return set().union(*(_env_references(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_env_references(v) for v in node)) if node else set()
    return set()


def test_run_pods_and_servers_get_every_variable_the_instance_yaml_reads(
    instance_yaml: dict[str, Any],
) -> None:
    launcher = instance_yaml["run_launcher"]["config"]
    config_maps, secrets = _by_kind(DOCS, "ConfigMap"), _by_kind(DOCS, "Secret")
    run_pod_env = {k for n in launcher["env_config_maps"] for k in config_maps[n]["data"]} | {
        k for n in launcher["env_secrets"] for k in secrets[n]["stringData"]
    }
    needed = _env_references(instance_yaml)
    assert needed, "the instance reads nothing from env: the test would prove nothing"
    assert needed <= run_pod_env
    for name in ("dagster-webserver", "dagster-daemon", "nascar-dfs-user-code", "nascar-dfs-api"):
        sources = _container(DOCS, name)["envFrom"]
        env = {
            k for s in sources if "configMapRef" in s for k in config_maps[s["configMapRef"]["name"]]["data"]
        }
        env |= {k for s in sources if "secretRef" in s for k in secrets[s["secretRef"]["name"]]["stringData"]}
        assert needed <= env, f"{name} lacks {needed - env}"


def _pod_env_and_mounts(instance_yaml: dict[str, Any], pod: str) -> tuple[dict[str, str], dict[str, str]]:
    """(environment, mount path -> claim) of a Deployment's first container, or of a run pod."""
    config_maps = _by_kind(DOCS, "ConfigMap")
    if pod == "run":
        launcher = instance_yaml["run_launcher"]["config"]
        env = {k: v for n in launcher["env_config_maps"] for k, v in config_maps[n]["data"].items()}
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in launcher["volumes"]}
        return env, {m["mountPath"]: claims[m["name"]] for m in launcher["volume_mounts"]}
    container = _container(DOCS, pod)
    env = {
        k: v
        for s in container.get("envFrom", [])
        if "configMapRef" in s
        for k, v in config_maps[s["configMapRef"]["name"]]["data"].items()
    }
    env |= {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    volumes = _pod_spec(_by_kind(DOCS, "Deployment")[pod]).get("volumes", [])
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v
    }
    return env, {m["mountPath"]: claims[m["name"]] for m in container["volumeMounts"] if m["name"] in claims}


def _on_volume(path: Path, mounts: dict[str, str]) -> tuple[str, str]:
    """(claim, path inside it) of a file path in a pod: the same pair is the same file."""
    for mount in sorted(mounts, key=len, reverse=True):
        if path.is_relative_to(mount):
            return mounts[mount], str(path.relative_to(mount))
    raise AssertionError(f"{path} is on no shared volume of the pod (mounts: {sorted(mounts)})")


def test_the_api_and_the_platform_agree_on_every_path_they_share(
    instance_yaml: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API writes slates where the run pods' race_slate asset reads them and reads the race
    list from the run pods' data folder, computed by the code of each side from its pod's env."""
    from api.services.slates import slate_path
    from nascar_dfs.platform.reads import slate_upload_path
    from nascar_dfs.platform.resources import NascarData

    def paths(pod: str) -> dict[str, tuple[str, str]]:
        env, mounts = _pod_env_and_mounts(instance_yaml, pod)
        for name in [n for n in os.environ if n.startswith(("NASCAR_DFS", "DAGSTER_"))]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        if pod == "nascar-dfs-api":
            settings = Settings()
            assert settings.data_dir is not None, "the API pod has no NASCAR_DFS_API_DATA_DIR"
            return {
                "slate": _on_volume(slate_path(RACE), mounts),
                "data": _on_volume(settings.data_dir, mounts),
            }
        return {
            "slate": _on_volume(slate_upload_path(RACE), mounts),
            "data": _on_volume(Path(NascarData().data_dir or os.environ["NASCAR_DFS_DATA_DIR"]), mounts),
        }

    api = paths("nascar-dfs-api")
    for platform_pod in ("run", "nascar-dfs-user-code"):
        assert paths(platform_pod) == api, platform_pod


def test_the_api_believes_x_forwarded_for_only_from_the_configured_proxies() -> None:
    from uvicorn.middleware.proxy_headers import _TrustedHosts

    args = _container(DOCS, "nascar-dfs-api")["args"]
    assert "--proxy-headers" in args
    reference = _flag(args, "--forwarded-allow-ips")
    assert reference == "$(NASCAR_DFS_API_FORWARDED_ALLOW_IPS)"  # Kubernetes expands it from envFrom
    trusted = _TrustedHosts(_by_kind(DOCS, "ConfigMap")["nascar-dfs-env"]["data"][reference[2:-1]])
    assert "10.42.0.17" in trusted  # an Ingress controller pod
    assert "203.0.113.9" not in trusted  # a client on the internet cannot set its own address


def test_metrics_are_on_a_pod_port_the_service_does_not_carry() -> None:
    env = _by_kind(DOCS, "ConfigMap")["nascar-dfs-env"]["data"]
    settings = Settings(
        **{
            k.removeprefix("NASCAR_DFS_API_").lower(): v
            for k, v in env.items()
            if k.startswith("NASCAR_DFS_API_METRICS_")
        }
    )
    ports = {p["name"]: p["containerPort"] for p in _container(DOCS, "nascar-dfs-api")["ports"]}
    assert ports["metrics"] == settings.metrics_port != ports["http"]
    service = _by_kind(DOCS, "Service")["nascar-dfs-api"]
    assert {p["targetPort"] for p in service["spec"]["ports"]} == {"http"}

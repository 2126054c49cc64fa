"""deploy/k8s: rendered by `kubectl kustomize`, every object valid against the Kubernetes schema, and consistent with
the gateway it runs (config parses, ports, probes, non-root, read-only root, Redis for the shared state)."""

from __future__ import annotations

import copy
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import click
import kubernetes_validate
import pytest
import yaml

from claudewire.cli.proxy import proxy
from claudewire.gateway import GatewayConfig
from tests.deploy.conftest import DEPLOY

K8S = DEPLOY / "k8s"


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    """The objects `kubectl kustomize deploy/k8s` renders."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed (it comes with the machine image)"
    done = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    # a generated ConfigMap's name carries a hash of its content: claudewire-config-<hash>
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] in (name, *_hashed(o, name))]
    assert len(found) == 1, f"expected one {kind} {name}, got {len(found)}"
    return found[0]


def _hashed(obj: dict[str, Any], name: str) -> tuple[str, ...]:
    actual: str = obj["metadata"]["name"]
    return (actual,) if obj["kind"] == "ConfigMap" and actual.startswith(name + "-") else ()


def test_every_rendered_object_is_valid_kubernetes(rendered: list[dict[str, Any]]) -> None:
    """Each object passes kubernetes-validate's strict schema check (unknown fields are errors)."""
    kinds = sorted(o["kind"] for o in rendered)
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Service",
            "Service",
        ]
    )
    version = kubernetes_validate.latest_version()
    for obj in rendered:
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_schema_check_catches_a_misspelt_field(rendered: list[dict[str, Any]]) -> None:
    """A typo in a security field is refused, so the check above is not vacuous."""
    broken = copy.deepcopy(_one(rendered, "Deployment", "claudewire"))
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFilesystm"] = container["securityContext"].pop("readOnlyRootFilesystem")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_the_gateway_pod_is_locked_down_probed_and_drains(rendered: list[dict[str, Any]]) -> None:
    """Non-root, read-only root fs, no privilege escalation, resources, /healthz and /readyz, graceful shutdown."""
    pod = _one(rendered, "Deployment", "claudewire")["spec"]["template"]
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # probes use the metrics listener (it serves /healthz and /readyz apart), never the main port a flood can fill
    assert container["livenessProbe"]["httpGet"]["port"] == container["readinessProbe"]["httpGet"]["port"] == "metrics"
    # the gateway drains for up to 10 s after SIGTERM; preStop + drain must fit the grace period
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] + 10 < spec["terminationGracePeriodSeconds"]
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    secret_refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert secret_refs == {"claudewire-secrets"}
    assert any(v.get("secret", {}).get("secretName") == "claudewire-secrets" for v in spec["volumes"])


def test_the_configmap_is_a_config_the_gateway_accepts_and_matches_the_manifests(
    rendered: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """claudewire.toml parses, its ports are the container's, its Redis is the Service, the args parse."""
    config_map = _one(rendered, "ConfigMap", "claudewire-config")
    data = tomllib.loads(config_map["data"]["claudewire.toml"])
    tokens = tmp_path / "tokens"
    tokens.write_text("cw-token-0000000000\n")
    assert data["proxy"]["tokens_file"] == "/etc/claudewire/secrets/tokens"
    data["proxy"]["tokens_file"] = str(tokens)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-k8s-test-0000000000")
    config = GatewayConfig.from_mapping(data)
    deployment = _one(rendered, "Deployment", "claudewire")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": config.port, "metrics": config.metrics_port}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(config.metrics_port)
    redis_service = _one(rendered, "Service", "claudewire-redis")
    assert config.state == f"redis://{redis_service['metadata']['name']}:{redis_service['spec']['ports'][0]['port']}/0"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert container["args"][-1] == mounts["config"] + "/claudewire.toml"
    assert any(v.get("configMap", {}).get("name") == config_map["metadata"]["name"] for v in
               deployment["spec"]["template"]["spec"]["volumes"])  # fmt: skip
    with proxy.make_context("proxy", list(container["args"][1:])) as ctx:  # the CLI accepts the args
        assert isinstance(ctx, click.Context)


def test_autoscaling_and_disruption_budget_keep_the_gateway_up(rendered: list[dict[str, Any]]) -> None:
    """The HPA targets the Deployment with at least 2 replicas; the PDB keeps one serving during a drain."""
    hpa = _one(rendered, "HorizontalPodAutoscaler", "claudewire")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "claudewire" and hpa["spec"]["minReplicas"] >= 2
    pdb = _one(rendered, "PodDisruptionBudget", "claudewire")
    labels = _one(rendered, "Deployment", "claudewire")["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["minAvailable"] == 1
    assert all(labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items())

"""deploy/: the Kubernetes manifests and the compose stack, checked offline.

Every manifest (the kustomize base, the demo overlay, its patches applied) validates against
the schemas of a current Kubernetes (kubernetes-validate, strict: an unknown field is an
error). Every ``SCV_`` variable that the manifests or compose.yaml give the gateway, as a
value or as a secret file, is a setting of ``app/settings.py``; the probes, selectors and
network policy say what docs/operations.md says they do.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel

from app.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
BASE = KUBERNETES / "base"
DEMO = KUBERNETES / "overlays" / "demo"
COMPOSE = DEPLOY / "compose.yaml"
#: A current Kubernetes: its schemas ship with kubernetes-validate.
KUBERNETES_VERSION = "1.35.0"
GATEWAY_IMAGE = "scv-gateway"


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization(directory: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((directory / "kustomization.yaml").read_text())
    return loaded


def resources(directory: Path) -> Iterator[dict[str, Any]]:
    """The resources a kustomization lists, its bases' first; its patches merged in."""
    own: list[dict[str, Any]] = []
    for entry in kustomization(directory).get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            own.extend(resources(path))
        else:
            own.extend(load_documents(path))
    for patch in kustomization(directory).get("patches", []):
        for change in load_documents(directory / patch["path"]):
            target = find(own, change["kind"], change["metadata"]["name"])
            merge(target, change)
    yield from own


def find(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def merge(target: dict[str, Any], change: dict[str, Any]) -> None:
    """A strategic merge as far as these patches go: maps merged key by key."""
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def pod_spec(resource: dict[str, Any]) -> dict[str, Any] | None:
    if resource["kind"] in {"Deployment", "StatefulSet", "Job"}:
        spec: dict[str, Any] = resource["spec"]["template"]["spec"]
        return spec
    return None


def is_setting(name: str, model: type[BaseModel] = Settings) -> bool:
    """Whether ``SCV_A__B`` names a field ``a.b`` of the settings (sections by ``__``)."""
    head, _, rest = name.removeprefix("SCV_").lower().partition("__")
    field = model.model_fields.get(head)
    if field is None:
        return False
    if not rest:
        return True
    section = field.annotation
    return (
        isinstance(section, type)
        and issubclass(section, BaseModel)
        and is_setting("SCV_" + rest, section)
    )


def test_is_setting_knows_sections_and_refuses_typos() -> None:
    assert is_setting("SCV_DATABASE_URL")
    assert is_setting("SCV_CACHE__ENCRYPTION_KEY")
    assert is_setting("SCV_BILLING__BASE_URL")
    assert not is_setting("SCV_DATABSE_URL")
    assert not is_setting("SCV_CACHE__ENCRYPTON_KEY")
    assert not is_setting("SCV_PORT__NUMBER")


@pytest.mark.parametrize("directory", [BASE, DEMO], ids=["base", "demo"])
def test_every_manifest_is_valid_for_a_current_kubernetes(directory: Path) -> None:
    documents = list(resources(directory))
    assert documents
    for document in documents:
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            name = f"{document['kind']}/{document['metadata']['name']}"
            pytest.fail(f"{name}: {exc.message} at {list(exc.absolute_path)}", pytrace=False)


def gateway_environment(documents: list[dict[str, Any]]) -> dict[str, str]:
    """What the gateway's containers are given: their ConfigMaps' data and their env."""
    environment: dict[str, str] = {}
    for resource in documents:
        spec = pod_spec(resource)
        for container in (spec or {}).get("containers", []):
            if container["image"] != GATEWAY_IMAGE:
                continue
            for source in container.get("envFrom", []):
                config = find(documents, "ConfigMap", source["configMapRef"]["name"])
                environment.update(config["data"])
            environment.update({e["name"]: e.get("value", "") for e in container.get("env", [])})
    return environment


@pytest.mark.parametrize("directory", [BASE, DEMO], ids=["base", "demo"])
def test_every_variable_the_manifests_set_is_a_setting(directory: Path) -> None:
    environment = gateway_environment(list(resources(directory)))
    assert "SCV_SECRETS_DIR" in environment
    settings_names = {name for name in environment if name.startswith("SCV_")}
    refused = sorted(n for n in settings_names - {"SCV_SECRETS_DIR"} if not is_setting(n))
    assert refused == []
    secret_files = [
        Path(f).name
        for generator in kustomization(directory).get("secretGenerator", [])
        if generator["name"] == "scv-gateway-secrets"
        for f in generator["files"]
    ]
    assert [n for n in secret_files if n.startswith("SCV_") and not is_setting(n)] == []


def test_the_manifests_settings_values_load(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = gateway_environment(list(resources(DEMO)))
    for name in [n for n in os.environ if n.startswith("SCV_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        if name != "SCV_SECRETS_DIR":  # a directory of the pod
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.port == 8000
    assert settings.interactions.signing_key_file == Path(
        "/run/secrets/scv/interaction-signing-key.pem"
    )


def test_the_gateway_is_probed_spread_and_stopped_gracefully() -> None:
    documents = list(resources(BASE))
    deployment = find(documents, "Deployment", "scv-gateway")
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]["cpu"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsNonRoot"] is True
    # preStop's sleep, then the drain and the shutdown's grace, before the kubelet's SIGKILL.
    (pre_stop_sleep,) = [int(a) for a in container["lifecycle"]["preStop"]["exec"]["command"][1:]]
    defaults = Settings.model_fields
    shutdown = (
        defaults["shutdown_drain_seconds"].default + defaults["shutdown_grace_seconds"].default
    )
    assert spec["terminationGracePeriodSeconds"] > pre_stop_sleep + shutdown
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        resource = find(documents, kind, "scv-gateway")
        selector = resource["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= labels.items(), kind
    autoscaler = find(documents, "HorizontalPodAutoscaler", "scv-gateway")
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "scv-gateway"
    assert autoscaler["spec"]["minReplicas"] >= 2


def test_the_migration_runs_as_a_job_of_the_gateway_image() -> None:
    job = find(list(resources(BASE)), "Job", "scv-migrate")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == GATEWAY_IMAGE
    assert container["args"] == ["migrate"]


def test_the_network_policy_lets_the_gateway_reach_only_its_store_cache_and_systems() -> None:
    policy = find(list(resources(BASE)), "NetworkPolicy", "scv-gateway")
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ports = {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}
    assert ports == {53, 5432, 6379, 443}


def test_the_demo_overlays_secret_files_are_made_by_the_secrets_script() -> None:
    script = (DEPLOY / "secrets.sh").read_text()
    for generator in kustomization(DEMO)["secretGenerator"]:
        for name in generator["files"]:
            assert name.startswith(".state/secrets/")
            assert Path(name).name in script, name


def compose_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def gateway_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose_file()["services"].items()
        if "scv-gateway" in service["image"]
    }


def test_compose_runs_two_replicas_the_migration_and_the_sync_from_the_gateway_image() -> None:
    services = gateway_services()
    assert {"gateway-1", "gateway-2", "migrate", "sync"} <= services.keys()
    assert services["migrate"]["command"] == ["migrate"]
    defaults = Settings.model_fields
    shutdown = (
        defaults["shutdown_drain_seconds"].default + defaults["shutdown_grace_seconds"].default
    )
    for replica in ("gateway-1", "gateway-2"):
        assert int(services[replica]["stop_grace_period"].removesuffix("s")) > shutdown
    lb = (DEPLOY / "haproxy" / "haproxy.cfg").read_text()
    targets = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    scraped = targets["scrape_configs"][0]["static_configs"][0]["targets"]
    for replica in ("gateway-1", "gateway-2"):
        assert f"server {replica} {replica}:8000" in lb
        assert f"{replica}:8000" in scraped


def test_every_variable_and_secret_compose_gives_the_gateway_is_a_setting() -> None:
    secrets = compose_file()["secrets"]
    script = (DEPLOY / "secrets.sh").read_text()
    for name, service in gateway_services().items():
        environment = service["environment"]
        assert environment["SCV_SECRETS_DIR"] == "/run/secrets", name
        names = [n for n in environment if n != "SCV_SECRETS_DIR"]
        names += [s for s in service["secrets"] if s.startswith("SCV_")]
        assert [n for n in names if not is_setting(n)] == [], name
        for secret in service["secrets"]:
            assert Path(secrets[secret]["file"]).name in script, secret

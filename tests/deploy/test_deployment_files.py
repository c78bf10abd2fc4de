"""docker-compose.yml and the Kubernetes overlays are well-formed and complete.

No Docker engine or cluster runs here: the compose file is checked against the Compose
specification's schema and each overlay is rendered with `kubectl kustomize` and checked against
the Kubernetes schemas (strict: unknown fields fail).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.settings import SERVICE_PORTS
from shared.testing.services import services_required

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ["dev", "prod"]


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        if services_required():
            pytest.fail("kubectl is required here to render the kustomize overlays")
        pytest.skip("kubectl is not installed; the overlays are rendered in CI")
    return found


def render(overlay: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(ROOT / "deploy" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_passes_the_kubernetes_schemas(overlay: str, tmp_path: Path) -> None:
    import kubernetes_validate

    documents = render(overlay)
    for document in documents:
        kubernetes_validate.validate(document, "1.32.0", strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_is_deployed_probed_scaled_and_protected(overlay: str) -> None:
    documents = render(overlay)
    deployments = by_kind(documents, "Deployment")
    for service, port in SERVICE_PORTS.items():
        name = f"kyodo-{service}"
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["serve", service, "--port", str(port)]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
        assert len(sources) == 2
        assert {name.split("-")[1] for name in sources} == {"config", "secrets"}
        assert by_kind(documents, "Service")[name]["spec"]["ports"][0]["port"] == port
        assert (
            by_kind(documents, "HorizontalPodAutoscaler")[name]["spec"]["scaleTargetRef"]["name"]
            == name
        )
        assert name in by_kind(documents, "PodDisruptionBudget")
    assert {"kyodo-redis", "kyodo-postgres"} <= set(by_kind(documents, "Service"))


def test_prod_expects_its_secret_from_the_cluster_and_dev_generates_one() -> None:
    dev, prod = render("dev"), render("prod")
    assert any(name.startswith("kyodo-secrets") for name in by_kind(dev, "Secret"))
    assert not by_kind(prod, "Secret")
    config = next(iter(by_kind(prod, "ConfigMap").values()))["data"]
    assert config["KYODO_OTLP_ENDPOINT"].startswith("http")


def test_compose_file_follows_the_compose_specification() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML silently keeps the last of two equal keys; a compose file must not have any."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [key.value for key, _value in node.value if isinstance(key, yaml.ScalarNode)]
        repeated = {k for k in keys if keys.count(k) > 1 and k != "<<"}
        assert not repeated, f"repeated keys {repeated} at line {node.start_mark.line + 1}"
        return super().construct_mapping(node, deep=deep)


def test_compose_runs_every_service_from_one_image_with_health_checks() -> None:
    compose = yaml.load((ROOT / "docker-compose.yml").read_text(), Loader=UniqueKeyLoader)
    services = compose["services"]
    for service, port in SERVICE_PORTS.items():
        definition = services[service]
        assert definition["command"] == ["serve", service, "--port", str(port)]
        assert definition["image"] == "kyodo:latest"
        assert f"{port}/health/ready" in " ".join(definition["healthcheck"]["test"])
        assert definition["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "--appendonly" in services["redis"]["command"]
    assert {"otel-collector", "jaeger", "postgres"} <= set(services)
    assert set(compose["volumes"]) >= {"redis-data", "postgres-data"}
    assert (ROOT / "Dockerfile").exists()
    collector = yaml.safe_load((ROOT / "deploy" / "otel-collector.yaml").read_text())
    assert "otlp" in collector["service"]["pipelines"]["traces"]["receivers"]

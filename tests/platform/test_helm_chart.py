"""deploy/helm/xinren: `helm lint` passes, `helm template | kubeconform -strict` passes (Kubernetes schemas, offline),
and the rendered manifests have what operating the services needs: a Deployment per service with probes on /healthz
and /readyz, resources, a PodDisruptionBudget, an HPA on CPU, migrations as a pre-install/upgrade Job, secrets by
reference only, and only environment variables the services' settings read."""

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from xinren_notify.settings import NotifySettings
from xinren_order.settings import OrderSettings
from xinren_qc.settings import QcSettings
from xinren_refund.settings import RefundSettings
from xinren_trust.settings import TrustSettings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "xinren"
KUBERNETES = "1.33.0"
SETTINGS = {
    "order": OrderSettings,
    "refund": RefundSettings,
    "quality-check": QcSettings,
    "notify": NotifySettings,
    "trust": TrustSettings,
}
SECRET_ENV = ("DATABASE_URL", "JWT_SECRET", "WEBHOOK_SECRET_KEY")


def tool(name: str) -> str:
    found = subprocess.run(
        ["bash", str(ROOT / "deploy" / "tools.sh"), "path", name], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        pytest.fail(f"{name} is not available (deploy/tools.sh fetch {name}):\n{found.stderr}")
    return found.stdout.strip()


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("helm"), *args, "--kube-version", KUBERNETES], capture_output=True, text=True, check=False, timeout=120
    )


def render(*sets: str) -> str:
    rendered = helm("template", "xinren", str(CHART), *(a for s in sets for a in ("--set", s)))
    assert rendered.returncode == 0, rendered.stderr
    return rendered.stdout


def manifests(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.timeout(900)
def test_helm_lint_passes():
    linted = helm("lint", str(CHART), "--strict")
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "sets", [(), ("services.trust.enabled=true", "defaults.hpa.enabled=false", "migrations.enabled=false")]
)
def test_rendered_manifests_pass_kubeconform_strict(sets):
    schemas = tool("k8s-schemas")
    location = (
        schemas
        + "/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"
    )
    checked = subprocess.run(
        [tool("kubeconform"), "-strict", "-summary", "-kubernetes-version", KUBERNETES, "-schema-location", location],
        input=render(*sets),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Invalid: 0, Errors: 0, Skipped: 0" in checked.stdout, checked.stdout


@pytest.mark.timeout(900)
def test_each_service_is_deployed_probed_budgeted_scaled_and_migrated_first():
    docs = manifests(render())
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    for service, settings_cls in SETTINGS.items():
        name = f"xinren-{service}"
        deployment = by_kind["Deployment"][name]
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert "replicas" not in deployment["spec"]  # the HPA owns the count
        hpa = by_kind["HorizontalPodAutoscaler"][name]
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        pdb = by_kind["PodDisruptionBudget"][name]
        assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        job = by_kind["Job"][f"{name}-migrate"]
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert job["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "upgrade"

        prefix = settings_cls.model_config["env_prefix"]
        env = {e["name"]: e for e in container["env"]}
        known = {prefix + field.upper() for field in settings_cls.model_fields} | {"WEB_CONCURRENCY"}
        assert set(env) <= known, set(env) - known
        assert env[prefix + "RUN_MIGRATIONS"]["value"] == "false"
        for secret in SECRET_ENV:
            if prefix + secret in env:
                assert "value" not in env[prefix + secret], secret  # by reference only
                assert env[prefix + secret]["valueFrom"]["secretKeyRef"]["name"] == "xinren"
    assert not by_kind.get("Secret"), "the chart must not carry secrets"
    assert not {"StatefulSet"} & set(by_kind), "Kafka and PostgreSQL are external"


@pytest.mark.timeout(900)
def test_without_hpa_the_deployment_sets_its_replicas():
    docs = manifests(render("defaults.hpa.enabled=false", "defaults.replicas=3"))
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert deployments and all(d["spec"]["replicas"] == 3 for d in deployments)
    assert not [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]

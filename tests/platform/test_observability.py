"""Alert rules, the Prometheus config and the Grafana dashboard: valid for their tools, wired into compose, and
naming only metrics the code exports (a renamed metric would silently blind an alert)."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "xinren.json"
COMPOSE = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
PORTS = {"order": 8001, "refund": 8002, "quality-check": 8003, "notify": 8004, "trust": 8005}


def tool(name: str) -> str:
    found = subprocess.run(
        ["bash", str(ROOT / "deploy" / "tools.sh"), "path", name], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        pytest.fail(f"{name} is not available (deploy/tools.sh fetch {name}):\n{found.stderr}")
    return found.stdout.strip()


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, check=False, timeout=120)


@pytest.mark.timeout(600)
def test_promtool_checks_the_rules_and_their_unit_tests_pass():
    promtool = tool("promtool")
    checked = run(promtool, "check", "rules", "alerts.yml", cwd=PROMETHEUS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run(promtool, "test", "rules", "alerts_test.yml", cwd=PROMETHEUS)
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.timeout(600)
def test_promtool_accepts_the_compose_prometheus_config(tmp_path):
    config = (PROMETHEUS / "prometheus.yml").read_text().replace("/etc/prometheus/alerts.yml", "alerts.yml")
    (tmp_path / "prometheus.yml").write_text(config)
    (tmp_path / "alerts.yml").write_text((PROMETHEUS / "alerts.yml").read_text())
    checked = run(tool("promtool"), "check", "config", "prometheus.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in yaml.safe_load(config)["scrape_configs"]}
    assert jobs == {name: [f"{name}:{port}"] for name, port in PORTS.items()}


def exported_metric_names() -> set[str]:
    sources = [*ROOT.glob("shared/src/xinren_shared/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]
    names: set[str] = set()
    for source in sources:
        names |= set(re.findall(r'"(xinren_[a-z0-9_]+)"', source.read_text()))
    return names


def referenced_metric_names(text: str) -> set[str]:
    names = set(re.findall(r"\b(xinren_[a-z0-9_]+)", text))
    return {re.sub(r"_(bucket|sum|count)$", "", n) if n.endswith(("_bucket", "_sum", "_count")) else n for n in names}


def test_alerts_and_dashboard_name_only_exported_metrics():
    exported = exported_metric_names()
    for path in (PROMETHEUS / "alerts.yml", DASHBOARD):
        unknown = referenced_metric_names(path.read_text()) - exported
        assert not unknown, f"{path.name} names metrics no code exports: {sorted(unknown)}"


def test_every_alert_says_what_it_means_and_how_urgent():
    rules = [r for g in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    operations = (ROOT / "docs" / "operations.md").read_text()
    for rule in rules:
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert rule["alert"] in operations, f"docs/operations.md does not explain {rule['alert']}"


def test_dashboard_is_a_grafana_dashboard_over_the_prometheus_datasource():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    graphs = [p for p in panels if p["type"] != "row"]
    assert len(graphs) >= 15
    for panel in graphs:
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    for needed in ("xinren_consumer_lag", "xinren_dlq_depth", "xinren_outbox_oldest_unpublished_seconds"):
        assert needed in DASHBOARD.read_text()


def test_compose_runs_prometheus_with_the_rules_and_grafana_with_the_dashboard():
    services = COMPOSE["services"]
    prometheus = " ".join(services["prometheus"]["volumes"])
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml" in prometheus
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml" in prometheus
    grafana = " ".join(services["grafana"]["volumes"])
    assert "./grafana/dashboards:/var/lib/grafana/dashboards" in grafana
    assert "./grafana/provisioning:/etc/grafana/provisioning" in grafana
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/xinren.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    for name in ("prometheus", "grafana"):
        assert "healthcheck" in services[name]

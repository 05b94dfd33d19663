"""deploy/docker-compose.yml names every service and sets only variables the settings read."""

from pathlib import Path

import pytest
import yaml

from xinren_notify.settings import NotifySettings
from xinren_order.settings import OrderSettings
from xinren_qc.settings import QcSettings
from xinren_refund.settings import RefundSettings
from xinren_trust.settings import TrustSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
SETTINGS = {
    "order": OrderSettings,
    "refund": RefundSettings,
    "quality-check": QcSettings,
    "notify": NotifySettings,
    "trust": TrustSettings,
}


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return env


def test_every_service_and_the_infrastructure_are_there():
    services = COMPOSE["services"]
    assert set(SETTINGS) | {"kafka", "postgres"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    for name in ("kafka", "postgres", *SETTINGS):
        assert "healthcheck" in services[name], name


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_service_environment_is_read_by_its_settings(name):
    service = COMPOSE["services"][name]
    settings_cls = SETTINGS[name]
    prefix = settings_cls.model_config["env_prefix"]
    known = {prefix + field.upper() for field in settings_cls.model_fields}
    env = env_of(service)
    assert env, name
    assert set(env) <= known, set(env) - known
    assert {prefix + "DATABASE_URL", prefix + "KAFKA_BOOTSTRAP_SERVERS", prefix + "JWT_SECRET"} <= set(env)
    for dep in ("kafka", "postgres"):
        assert service["depends_on"][dep]["condition"] == "service_healthy"
    assert (ROOT / service["build"]["context"].replace("..", ".") / service["build"]["dockerfile"]).exists() or (
        ROOT / "deploy" / service["build"]["context"] / service["build"]["dockerfile"]
    ).resolve().exists()


def test_compose_kafka_version_matches_the_local_broker():
    pom = (ROOT / "infra" / "kafka" / "pom.xml").read_text()
    version = COMPOSE["services"]["kafka"]["image"].split(":")[1]
    assert f"<kafka.version>{version}</kafka.version>" in pom

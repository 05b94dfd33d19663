"""Rate limits: a role's budget per token (a partner's per partner), 429 RATE_LIMITED with Retry-After, counted."""

import pytest
import pytest_asyncio
from fastapi import APIRouter
from prometheus_client import REGISTRY
from pydantic import ValidationError

from xinren_shared.auth import CurrentPrincipal
from xinren_shared.settings import ServiceSettings
from xinren_shared.testing.http import bearer, serve

from .conftest import web_app

SECRET = "rate-limit-test-secret-0123456789abcdef"


@pytest_asyncio.fixture
async def client(world, kafka_bootstrap):
    router = APIRouter()

    @router.get("/mine")
    async def mine(principal: CurrentPrincipal) -> dict[str, str]:
        return {"sub": principal.sub}

    @router.get("/public")
    async def public() -> dict[str, str]:
        return {"ok": "yes"}

    limits = {"buyer": "3/minute", "partner": "2/minute", "seller": ""}
    app = web_app(world, kafka_bootstrap, "ratelimit", router, SECRET, rate_limits=limits)
    async with serve(app) as c:
        yield c


def limited(role: str) -> float:
    return REGISTRY.get_sample_value("xinren_http_rate_limited_total", {"service": "ratelimit", "role": role}) or 0.0


async def test_a_token_beyond_its_budget_gets_429_with_retry_after(client):
    token = bearer(SECRET, "buyer", "u1")
    before = limited("buyer")
    for _ in range(3):
        assert (await client.get("/mine", headers=token)).status_code == 200
    refused = await client.get("/mine", headers=token)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"]["details"]["retry_after_seconds"] == int(refused.headers["Retry-After"])
    assert limited("buyer") == before + 1
    # Another token of the same buyer has a budget of its own.
    other = bearer(SECRET, "buyer", "u1", ttl_seconds=3600)
    assert (await client.get("/mine", headers=other)).status_code == 200


async def test_a_partner_budget_is_shared_by_all_its_tokens(client):
    first, second = bearer(SECRET, "partner", "p1"), bearer(SECRET, "partner", "p1", ttl_seconds=3600)
    assert first != second
    assert (await client.get("/mine", headers=first)).status_code == 200
    assert (await client.get("/mine", headers=second)).status_code == 200
    assert (await client.get("/mine", headers=second)).status_code == 429
    assert (await client.get("/mine", headers=first)).status_code == 429
    assert (await client.get("/mine", headers=bearer(SECRET, "partner", "p2"))).status_code == 200


async def test_unlimited_roles_public_routes_and_health_are_never_limited(client):
    seller, admin = bearer(SECRET, "seller", "s1", shop_id="shop1"), bearer(SECRET, "admin", "ops")
    for _ in range(6):
        assert (await client.get("/mine", headers=seller)).status_code == 200
        assert (await client.get("/mine", headers=admin)).status_code == 200
        assert (await client.get("/public")).status_code == 200
        assert (await client.get("/healthz", headers=bearer(SECRET, "buyer", "u9"))).status_code == 200


async def test_a_bad_token_is_answered_401_not_429(client):
    bad = {"Authorization": "Bearer not-a-token"}
    for _ in range(5):
        response = await client.get("/mine", headers=bad)
        assert response.status_code == 401


@pytest.mark.parametrize("limits", [{"wizard": "1/second"}, {"buyer": "lots"}])
def test_unreadable_budgets_are_refused_at_start(limits):
    with pytest.raises(ValidationError):
        ServiceSettings(rate_limits=limits)


def test_default_budgets_are_generous_and_admins_unlimited():
    settings = ServiceSettings()
    assert "admin" not in settings.rate_limits
    assert settings.rate_limits["buyer"] == "6000/minute"

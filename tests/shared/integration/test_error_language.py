"""Errors answer in the caller's language (Accept-Language, Chinese by default) through a real app on the shared web
layer: domain errors, validation, authentication and replayed Idempotency-Key refusals alike; `code` never changes."""

import uuid

import pytest_asyncio
from fastapi import APIRouter
from pydantic import BaseModel

from xinren_shared.auth import CurrentPrincipal
from xinren_shared.commands import Commands, UnitOfWork
from xinren_shared.errors import Conflict
from xinren_shared.settings import ServiceSettings
from xinren_shared.testing.http import bearer, serve

from .conftest import web_app

SECRET = "language-test-secret-0123456789abcdef"
ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}


class Thing(BaseModel):
    name: str


@pytest_asyncio.fixture
async def client(world, kafka_bootstrap):
    router = APIRouter()

    async def refuse(uow: UnitOfWork[ServiceSettings], body: Thing) -> dict[str, object]:
        raise Conflict(f"{body.name} is sold out", code="SOLD_OUT", details={"name": body.name})

    @router.post("/things", status_code=201)
    async def create(body: Thing, principal: CurrentPrincipal, commands: Commands) -> dict[str, object]:
        return await commands.run(refuse, body)

    @router.get("/hello")
    async def hello() -> dict[str, str]:
        return {"message": "hello"}

    app = web_app(world, kafka_bootstrap, "lang", router, SECRET, messages_zh={"SOLD_OUT": "{name} 已售罄。"})
    async with serve(app) as c:
        yield c


async def test_a_domain_error_speaks_chinese_by_default_and_english_when_asked(client):
    auth = bearer(SECRET, "buyer", "u1")
    zh = await client.post("/things", json={"name": "翡翠手镯"}, headers=auth)
    en = await client.post("/things", json={"name": "翡翠手镯"}, headers={**auth, **ENGLISH})
    assert zh.status_code == en.status_code == 409
    assert zh.json()["error"] == {"code": "SOLD_OUT", "message": "翡翠手镯 已售罄。", "details": {"name": "翡翠手镯"}}
    assert en.json()["error"]["code"] == "SOLD_OUT" and en.json()["error"]["message"] == "翡翠手镯 is sold out"
    assert zh.headers["content-language"] == "zh" and en.headers["content-language"] == "en"
    assert "accept-language" in zh.headers["vary"].lower()


async def test_validation_and_authentication_errors_are_translated_too(client):
    auth = bearer(SECRET, "buyer", "u1")
    invalid = await client.post("/things", json={"nom": 1}, headers=auth)
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "VALIDATION_ERROR"
    assert invalid.json()["error"]["message"] == "请求内容不符合要求，请检查后重试。"
    assert invalid.json()["error"]["details"][0]["loc"] == ["body", "name"]
    anonymous = await client.post("/things", json={"name": "x"}, headers=ENGLISH)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["message"] == "a bearer token is required"
    anonymous = await client.post("/things", json={"name": "x"})
    assert anonymous.json()["error"] == {
        "code": "UNAUTHENTICATED",
        "message": "需要登录凭证（Bearer 令牌）。",
        "details": None,
    }


async def test_a_replayed_refusal_answers_in_the_language_of_the_retry(client):
    auth = {**bearer(SECRET, "buyer", "u1"), "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/things", json={"name": "bangle"}, headers=auth)
    again = await client.post("/things", json={"name": "bangle"}, headers={**auth, **ENGLISH})
    assert again.headers["idempotent-replayed"] == "true"
    assert first.json()["error"]["message"] == "bangle 已售罄。"
    assert again.json()["error"]["message"] == "bangle is sold out"


async def test_successful_answers_are_untouched(client):
    r = await client.get("/hello")
    assert r.status_code == 200 and r.json() == {"message": "hello"} and "content-language" not in r.headers

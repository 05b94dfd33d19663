"""Idempotency-Key on POST, against the real PostgreSQL, through a real app built on the shared web layer."""

import asyncio
import uuid

import pytest
import pytest_asyncio
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from xinren_shared.auth import CurrentPrincipal
from xinren_shared.runtime import ServiceRuntime, ServiceSpec
from xinren_shared.settings import ServiceSettings
from xinren_shared.testing.http import bearer, serve
from xinren_shared.web import build_app

SECRET = "idempotency-test-secret-0123456789abcdef"


class Thing(BaseModel):
    name: str


@pytest_asyncio.fixture
async def client(world, kafka_bootstrap):
    router = APIRouter()
    gate = asyncio.Event()

    @router.post("/things", status_code=201)
    async def create(body: Thing, principal: CurrentPrincipal):
        async with world.sessions() as s, s.begin():
            await world.bump(s, body.name)
        return {"name": body.name, "n": await world.count(body.name), "id": uuid.uuid4().hex}

    @router.post("/slow", status_code=201)
    async def slow(principal: CurrentPrincipal):
        await gate.wait()
        return {"done": True}

    @router.post("/whoami")
    async def whoami(principal: CurrentPrincipal):
        return {"role": str(principal.role), "sub": principal.sub}

    @router.post("/boom")
    async def boom(principal: CurrentPrincipal):
        raise RuntimeError("server bug")

    settings = ServiceSettings(
        database_url=world.url,
        kafka_bootstrap_servers=kafka_bootstrap,
        jwt_secret=SECRET,
        run_migrations=False,
        run_relay=False,
        max_body_bytes=10_000,
    )
    app = build_app(
        settings,
        ServiceRuntime(settings, ServiceSpec("idem", "xinren_shared", world.tables)),
        title="t",
        routers=[router],
    )
    async with serve(app) as c:
        c.gate = gate
        yield c


def headers(key: str, sub: str = "u1") -> dict[str, str]:
    return {**bearer(SECRET, "buyer", sub), "Idempotency-Key": key}


async def test_same_key_and_body_returns_the_first_response(client, world):
    key, name = uuid.uuid4().hex, uuid.uuid4().hex
    first = await client.post("/things", json={"name": name}, headers=headers(key))
    again = await client.post("/things", json={"name": name}, headers=headers(key))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert await world.count(name) == 1
    # Keys belong to their caller: another user's same key is a new request.
    other = await client.post("/things", json={"name": name}, headers=headers(key, sub="u2"))
    assert other.status_code == 201 and other.json()["n"] == 2


async def test_same_key_other_body_is_422_and_changes_nothing(client, world):
    key, name = uuid.uuid4().hex, uuid.uuid4().hex
    await client.post("/things", json={"name": name}, headers=headers(key))
    other = await client.post("/things", json={"name": name + "x"}, headers=headers(key))
    assert other.status_code == 422 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await world.count(name + "x") == 0


async def test_key_in_flight_is_409(client, world):
    key = uuid.uuid4().hex
    first = asyncio.create_task(client.post("/slow", headers=headers(key)))
    try:
        await wait_until(lambda: key_state(world, key), "IN_FLIGHT")
        r = await client.post("/slow", headers=headers(key))
        assert r.status_code == 409 and r.json()["error"]["code"] == "IDEMPOTENCY_KEY_IN_FLIGHT"
    finally:
        client.gate.set()
    assert (await first).status_code == 201
    assert await key_state(world, key) == "DONE"
    assert (await client.post("/slow", headers=headers(key))).headers["idempotent-replayed"] == "true"


async def key_state(world, key: str) -> str | None:
    table = world.tables.idempotency
    async with world.sessions() as s:
        return (await s.execute(select(table.c.state).where(table.c.key == key))).scalar()


async def wait_until(probe, expected, timeout: float = 10.0) -> None:
    async def poll():
        while await probe() != expected:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def test_server_error_frees_the_key(client):
    key = uuid.uuid4().hex
    for _ in range(2):
        r = await client.post("/boom", headers=headers(key))
        assert r.status_code == 500 and r.json() == {
            "error": {"code": "INTERNAL", "message": "internal error", "details": None}
        }


@pytest.mark.parametrize("bad", ["", "x" * 201])
async def test_bad_keys_are_400(client, bad):
    r = await client.post("/things", json={"name": "n"}, headers=headers(bad))
    assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_IDEMPOTENCY_KEY"


async def test_body_limit_and_error_bodies(client):
    r = await client.post(
        "/things",
        content=b'{"name": "' + b"x" * 20_000 + b'"}',
        headers={**headers(uuid.uuid4().hex), "content-type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    r = await client.post(
        "/things", content=b"{not json", headers={**headers(uuid.uuid4().hex), "content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR"
    r = await client.post("/things", json={"name": "n"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_each_request_is_authorized_by_its_own_token(client):
    """A principal never leaks from one request to the next (the server's lifespan state is shared)."""
    who = []
    for role, sub in [("admin", "a1"), ("buyer", "b1"), ("partner", "p1")]:
        r = await client.post("/whoami", headers=bearer(SECRET, role, sub))
        who.append(r.json())
    assert who == [{"role": "admin", "sub": "a1"}, {"role": "buyer", "sub": "b1"}, {"role": "partner", "sub": "p1"}]


async def test_keys_belong_to_the_whole_identity_not_just_the_user_id(client, world):
    key, name = uuid.uuid4().hex, uuid.uuid4().hex
    as_shop_a = {**bearer(SECRET, "seller", "s1", shop_id="shop-a"), "Idempotency-Key": key}
    as_shop_b = {**bearer(SECRET, "seller", "s1", shop_id="shop-b"), "Idempotency-Key": key}
    first = await client.post("/things", json={"name": name}, headers=as_shop_a)
    other = await client.post("/things", json={"name": name}, headers=as_shop_b)
    assert first.status_code == other.status_code == 201
    assert "idempotent-replayed" not in other.headers and other.json()["n"] == 2

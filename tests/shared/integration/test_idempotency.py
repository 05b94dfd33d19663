"""Idempotency-Key on POST, against the real PostgreSQL, through a real app built on the shared web layer."""

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from fastapi import APIRouter, UploadFile
from pydantic import BaseModel
from sqlalchemy import select

from xinren_shared.auth import CurrentPrincipal
from xinren_shared.commands import Commands, UnitOfWork
from xinren_shared.errors import Conflict
from xinren_shared.settings import ServiceSettings
from xinren_shared.testing.http import bearer, serve

from .conftest import web_app

SECRET = "idempotency-test-secret-0123456789abcdef"


class Thing(BaseModel):
    name: str


class Quote(BaseModel):
    title: str
    share: float
    at: datetime


@pytest_asyncio.fixture
async def client(world, kafka_bootstrap):
    router = APIRouter()
    gate, entered = asyncio.Event(), asyncio.Event()

    async def create_thing(uow: UnitOfWork[ServiceSettings], body: Thing) -> dict[str, object]:
        await world.bump(uow.session, body.name)
        n = (await uow.session.execute(select(world.effect.c.n).where(world.effect.c.key == body.name))).scalar()
        return {"name": body.name, "n": n, "id": uuid.uuid4().hex}

    async def refuse(uow: UnitOfWork[ServiceSettings], body: Thing) -> dict[str, object]:
        await world.bump(uow.session, body.name)  # rolled back with the refusal
        raise Conflict("not now", code="NOT_NOW")

    async def wait_for_gate(uow: UnitOfWork[ServiceSettings]) -> dict[str, bool]:
        entered.set()
        await gate.wait()
        return {"done": True}

    async def fail(uow: UnitOfWork[ServiceSettings], body: Thing) -> dict[str, bool]:
        await world.bump(uow.session, body.name)
        raise RuntimeError("server bug")

    @router.post("/things", status_code=201)
    async def create(body: Thing, principal: CurrentPrincipal, commands: Commands) -> dict[str, object]:
        return await commands.run(create_thing, body)

    @router.post("/refusals", status_code=201)
    async def refusal(body: Thing, principal: CurrentPrincipal, commands: Commands) -> dict[str, object]:
        return await commands.run(refuse, body)

    @router.post("/slow", status_code=201)
    async def slow(principal: CurrentPrincipal, commands: Commands) -> dict[str, bool]:
        return await commands.run(wait_for_gate)

    async def store_upload(uow: UnitOfWork[ServiceSettings], data: bytes) -> dict[str, object]:
        await world.bump(uow.session, hashlib.sha256(data).hexdigest())
        return {"size": len(data), "id": uuid.uuid4().hex}

    @router.post("/uploads", status_code=201)
    async def upload(file: UploadFile, principal: CurrentPrincipal, commands: Commands) -> dict[str, object]:
        return await commands.run(store_upload, await file.read())

    @router.post("/whoami")
    async def whoami(principal: CurrentPrincipal) -> dict[str, str]:
        return {"role": str(principal.role), "sub": principal.sub}

    @router.post("/boom")
    async def boom(body: Thing, principal: CurrentPrincipal, commands: Commands) -> dict[str, bool]:
        return await commands.run(fail, body)

    async def make_quote(uow: UnitOfWork[ServiceSettings], body: Thing) -> Quote:
        return Quote(title=f"和田玉 {body.name}", share=1e-7, at=datetime.now(UTC))

    @router.post("/quotes", status_code=201, response_model=Quote)
    async def quote(body: Thing, principal: CurrentPrincipal, commands: Commands) -> Quote:
        return await commands.run(make_quote, body)

    app = web_app(world, kafka_bootstrap, "idem", router, SECRET, max_body_bytes=10_000)
    async with serve(app) as c:
        c.gate, c.entered = gate, entered
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


async def test_a_replay_is_byte_for_byte_the_first_answer(client):
    """A route's model, as FastAPI rendered it the first time (a float in exponent form, non-ASCII text, a time)."""
    key, name = uuid.uuid4().hex, uuid.uuid4().hex
    first = await client.post("/quotes", json={"name": name}, headers=headers(key))
    again = await client.post("/quotes", json={"name": name}, headers=headers(key))
    assert first.status_code == again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content and first.json()["title"] == f"和田玉 {name}"
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"


async def test_same_key_other_body_is_422_and_changes_nothing(client, world):
    key, name = uuid.uuid4().hex, uuid.uuid4().hex
    await client.post("/things", json={"name": name}, headers=headers(key))
    other = await client.post("/things", json={"name": name + "x"}, headers=headers(key))
    assert other.status_code == 422 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await world.count(name + "x") == 0


async def test_key_in_flight_is_409_and_its_answer_is_recorded_with_its_effect(client, world):
    key = uuid.uuid4().hex
    first = asyncio.create_task(client.post("/slow", headers=headers(key)))
    try:
        await asyncio.wait_for(client.entered.wait(), 10)
        assert not await key_recorded(world, key)  # claimed inside the first request's open transaction
        r = await client.post("/slow", headers=headers(key))
        assert r.status_code == 409 and r.json()["error"]["code"] == "IDEMPOTENCY_KEY_IN_FLIGHT"
    finally:
        client.gate.set()
    assert (await first).status_code == 201
    assert await key_recorded(world, key)
    replay = await client.post("/slow", headers=headers(key))
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"


async def test_a_refusal_is_the_key_answer_and_its_effect_is_rolled_back(client, world):
    key, name = uuid.uuid4().hex, uuid.uuid4().hex
    first = await client.post("/refusals", json={"name": name}, headers=headers(key))
    again = await client.post("/refusals", json={"name": name}, headers=headers(key))
    assert first.status_code == again.status_code == 409
    assert first.json() == again.json() and first.json()["error"]["code"] == "NOT_NOW"
    assert again.headers["idempotent-replayed"] == "true"
    assert await world.count(name) == 0


async def key_recorded(world, key: str) -> bool:
    table = world.tables.idempotency
    async with world.sessions() as s:
        return (await s.execute(select(table.c.response_status).where(table.c.key == key))).first() is not None


async def test_server_error_records_nothing_and_rolls_the_effect_back(client, world):
    key, name = uuid.uuid4().hex, uuid.uuid4().hex
    for _ in range(2):
        r = await client.post("/boom", json={"name": name}, headers=headers(key))
        assert r.status_code == 500 and r.json() == {
            "error": {"code": "INTERNAL", "message": "服务内部错误，请稍后重试。", "details": None}
        }
    assert not await key_recorded(world, key) and await world.count(name) == 0


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


async def test_concurrent_retries_of_one_key_run_the_command_once(client, world):
    key, name = uuid.uuid4().hex, uuid.uuid4().hex
    answers = await asyncio.gather(
        *(client.post("/things", json={"name": name}, headers=headers(key)) for _ in range(20))
    )
    assert {a.status_code for a in answers} <= {201, 409}
    created = [a.json() for a in answers if a.status_code == 201]
    assert created and all(c == created[0] for c in created)
    assert all(a.json()["error"]["code"] == "IDEMPOTENCY_KEY_IN_FLIGHT" for a in answers if a.status_code == 409)
    assert await world.count(name) == 1


async def test_a_multipart_upload_is_keyed_by_its_fields_and_files(client, world):
    key = uuid.uuid4().hex
    photo = uuid.uuid4().bytes * 100
    first = await client.post("/uploads", files={"file": ("a.jpg", photo)}, headers=headers(key))
    again = await client.post("/uploads", files={"file": ("a.jpg", photo)}, headers=headers(key))
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = await client.post("/uploads", files={"file": ("a.jpg", photo + b"!")}, headers=headers(key))
    assert other.status_code == 422 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await world.count(hashlib.sha256(photo).hexdigest()) == 1

"""Statements on the driver's connection (`xinren_shared.sql`) belong to the session's transaction: they commit and
roll back with what the session did, even as its first statement; and a handler that records its Idempotency-Key
answer early (`UnitOfWork.answer_now`) is answered, replayed and refused exactly as one that does not."""

import uuid

import pytest_asyncio
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import bindparam, insert, select

from xinren_shared import sql
from xinren_shared.auth import CurrentPrincipal
from xinren_shared.commands import Commands, UnitOfWork
from xinren_shared.db import transaction
from xinren_shared.errors import Conflict
from xinren_shared.settings import ServiceSettings
from xinren_shared.testing.http import bearer, serve

from .conftest import web_app

SECRET = "driver-test-secret-0123456789abcdef"


def _insert(world):
    return sql.Statement(insert(world.effect).values(key=bindparam("key"), n=bindparam("n")))


async def test_driver_statements_commit_and_roll_back_with_the_session(world):
    add = _insert(world)
    kept, dropped = uuid.uuid4().hex, uuid.uuid4().hex
    async with transaction(world.sessions) as session:
        await add.execute(await sql.driver(session), {"key": kept, "n": 1})  # the first statement: BEGIN is sent
        await world.bump(session, kept)  # then the session's own, on the same transaction
        assert await sql.driver(session) is await sql.driver(session)
    assert await world.count(kept) == 2

    class Undo(Exception):
        pass

    try:
        async with transaction(world.sessions) as session:
            await add.execute(await sql.driver(session), {"key": dropped, "n": 1})
            raise Undo
    except Undo:
        pass
    assert await world.count(dropped) == 0


async def test_a_statement_compiled_once_serialises_json_and_answers_records(world):
    read = sql.Statement(select(world.effect.c.n).where(world.effect.c.key == bindparam("key")))
    key = uuid.uuid4().hex
    async with transaction(world.sessions) as session:
        conn = await sql.driver(session)
        await _insert(world).execute(conn, {"key": key, "n": 7})
        row = await read.fetchrow(conn, {"key": key})
        assert row is not None and row["n"] == 7
        assert await read.fetch(conn, {"key": "nobody"}) == []


class Thing(BaseModel):
    name: str


class Taken(Conflict):
    code = "TAKEN"


@pytest_asyncio.fixture
async def client(world, kafka_bootstrap):
    router = APIRouter()

    async def early(uow: UnitOfWork[ServiceSettings], body: Thing) -> dict[str, object]:
        answer = {"name": body.name, "id": uuid.uuid4().hex}
        await uow.answer_now(answer)
        await world.bump(uow.session, body.name)
        if body.name.startswith("refuse"):
            raise Taken("taken after the answer was recorded")
        return answer

    @router.post("/early", status_code=201)
    async def create(body: Thing, principal: CurrentPrincipal, commands: Commands) -> dict[str, object]:
        return await commands.run(early, body)

    async with serve(web_app(world, kafka_bootstrap, "driver", router, SECRET)) as c:
        yield c


def headers(key: str) -> dict[str, str]:
    return {**bearer(SECRET, "buyer", "u1"), "Idempotency-Key": key}


async def test_an_answer_recorded_early_is_replayed(client, world):
    key, name = uuid.uuid4().hex, uuid.uuid4().hex
    first = await client.post("/early", json={"name": name}, headers=headers(key))
    again = await client.post("/early", json={"name": name}, headers=headers(key))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert await world.count(name) == 1


async def test_a_refusal_after_the_early_answer_rolls_it_back_and_is_the_answer(client, world):
    key, name = uuid.uuid4().hex, f"refuse-{uuid.uuid4().hex}"
    first = await client.post("/early", json={"name": name}, headers=headers(key))
    again = await client.post("/early", json={"name": name}, headers=headers(key))
    assert first.status_code == again.status_code == 409
    assert first.json()["error"]["code"] == again.json()["error"]["code"] == "TAKEN"
    assert again.headers["idempotent-replayed"] == "true"
    assert await world.count(name) == 0

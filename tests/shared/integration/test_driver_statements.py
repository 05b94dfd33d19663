"""Statements on the driver's connection (`xinren_shared.sql`) belong to the session's transaction: they commit and
roll back with what the session did, even as its first statement."""

import uuid

from sqlalchemy import bindparam, insert, select

from xinren_shared import sql
from xinren_shared.db import transaction

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

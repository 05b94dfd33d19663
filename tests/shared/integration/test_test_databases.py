"""The suite on a server of one's own (DATABASE_URL: a developer's cluster, the one `make run` uses) leaves no
database behind: each session drops those it made as it ends. Before, every run left hundreds (384 on one
developer's cluster), whose autovacuum then ran among everything measured or run on it."""

import asyncio
import os
import subprocess
import sys
import textwrap
import uuid

import asyncpg

from xinren_shared.settings import to_plain_url

SESSION = """
import pathlib

async def test_makes_two(make_database):
    made = [await make_database("cleanup"), await make_database("cleanup")]
    pathlib.Path({out!r}).write_text("\\n".join(made))
"""


async def test_a_session_on_ones_own_server_drops_the_databases_it_made(tmp_path, postgres_url, kafka_bootstrap):
    out = tmp_path / f"made-{uuid.uuid4().hex[:6]}.txt"
    (tmp_path / "test_session.py").write_text(textwrap.dedent(SESSION.format(out=str(out))))
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    env = {k: v for k, v in os.environ.items() if k != "XINREN_THROWAWAY_CLUSTER"}
    env.update(DATABASE_URL=postgres_url, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_session.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    names = [url.rpartition("/")[2] for url in out.read_text().split()]
    assert len(names) == 2 and all(n.startswith("xt_cleanup_") for n in names)
    conn = await asyncpg.connect(to_plain_url(postgres_url))
    try:
        left = await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = ANY($1::text[])", names)
    finally:
        await conn.close()
    assert left == 0

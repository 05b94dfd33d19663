"""The suite on servers of one's own (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS: a developer's, the ones `make run`
uses) leaves nothing behind: each session drops the databases it made and deletes its topics as it ends. Before,
every run left hundreds of databases (384 on one developer's cluster, whose autovacuum then ran among everything
else) and tens of topics (5,170 partitions on that broker, which took 13% of a core doing nothing)."""

import asyncio
import os
import subprocess
import sys
import textwrap
import uuid

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from xinren_shared.settings import to_plain_url

SESSION = """
import os, pathlib
from xinren_shared.contracts.orders import OrderCancelled

async def test_makes_two_and_publishes(make_database, publish):
    made = [await make_database("cleanup"), await make_database("cleanup")]
    await publish(OrderCancelled(order_id="o-cleanup", reason="test", by="buyer"))
    pathlib.Path({out!r}).write_text("\\n".join([os.environ["XINREN_TOPIC_NAMESPACE"], *made]))
"""


async def test_a_session_on_ones_own_servers_leaves_no_database_or_topic(tmp_path, postgres_url, kafka_bootstrap):
    out = tmp_path / f"made-{uuid.uuid4().hex[:6]}.txt"
    (tmp_path / "test_session.py").write_text(textwrap.dedent(SESSION.format(out=str(out))))
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    env = {k: v for k, v in os.environ.items() if k not in ("XINREN_THROWAWAY_CLUSTER", "XINREN_TOPIC_NAMESPACE")}
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
    namespace, *urls = out.read_text().split()
    names = [url.rpartition("/")[2] for url in urls]
    assert len(names) == 2 and all(n.startswith("xt_cleanup_") for n in names)
    conn = await asyncpg.connect(to_plain_url(postgres_url))
    try:
        left = await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = ANY($1::text[])", names)
    finally:
        await conn.close()
    assert left == 0
    assert namespace.startswith("test-")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert not [t for t in await admin.list_topics() if t.startswith(namespace)]
    finally:
        await admin.close()

"""The S3-compatible evidence store against a real S3 server (moto's server mode in a subprocess): content-addressed
keys, stored once (also by two writers at once), and the service's uploads kept there across restarts."""

from __future__ import annotations

import asyncio
import uuid

import boto3
import pytest
import pytest_asyncio
from botocore.exceptions import ClientError

from xinren_qc.app import create_app
from xinren_qc.s3store import S3Store
from xinren_qc.settings import QcSettings
from xinren_qc.storage import S3Settings, make_store, sha256_of
from xinren_shared.testing.http import serve

from ..s3server import ACCESS_KEY_ID, SECRET_ACCESS_KEY, moto_s3_server
from ..support import SECRET, Qc, rid
from .test_warehouse_operations import image, upload


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_s3_server() as endpoint:
        yield endpoint


def s3_settings(endpoint: str) -> S3Settings:
    return S3Settings(
        endpoint_url=endpoint,
        region="eu-central-1",
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        path_style=True,
    )


def new_bucket(endpoint: str):
    """A bucket of its own, and a raw client to look inside it."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="eu-central-1",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    bucket = f"evidence-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    return client, bucket


def keys(client, bucket: str) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


async def test_bytes_are_stored_once_under_their_sha256(s3_endpoint):
    client, bucket = new_bucket(s3_endpoint)
    store = make_store(f"s3://{bucket}/qc/evidence/", s3_settings(s3_endpoint))
    assert isinstance(store, S3Store)
    data = image("#00a86b", "PNG")
    sha = sha256_of(data)
    assert await store.get(sha) is None
    assert await store.put(sha, data, "image/png") is True
    assert await store.put(sha, data, "image/png") is False  # already there: nothing written
    assert await store.get(sha) == data
    assert keys(client, bucket) == [f"qc/evidence/{sha}"]
    head = client.head_object(Bucket=bucket, Key=f"qc/evidence/{sha}")
    assert head["ContentType"] == "image/png"
    # A new store on the same bucket (a restart) finds it.
    again = make_store(f"s3://{bucket}/qc/evidence", s3_settings(s3_endpoint))
    assert await again.get(sha) == data and await again.put(sha, data, "image/png") is False
    with pytest.raises(ValueError):
        await store.get("../../etc/passwd")


async def test_two_writers_of_the_same_bytes_store_them_once(s3_endpoint):
    client, bucket = new_bucket(s3_endpoint)
    stores = [make_store(f"s3://{bucket}", s3_settings(s3_endpoint)) for _ in range(4)]
    data = image("#ff0000", "JPEG")
    sha = sha256_of(data)
    written = await asyncio.gather(*(s.put(sha, data, "image/jpeg") for s in stores))
    assert written.count(True) == 1 and written.count(False) == 3
    assert keys(client, bucket) == [sha]
    # What a writer that loses the race meets: the conditional put is refused, the object is not replaced.
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=bucket, Key=sha, Body=b"other bytes", IfNoneMatch="*")
    assert refused.value.response["Error"]["Code"] in ("PreconditionFailed", "412")
    assert await stores[0].get(sha) == data


def test_an_s3_location_needs_a_bucket_and_other_schemes_are_refused():
    with pytest.raises(ValueError, match="bucket"):
        make_store("s3:///prefix")
    with pytest.raises(ValueError, match="s3://"):
        make_store("gs://bucket/prefix")
    settings = QcSettings(
        jwt_secret=SECRET,
        evidence_store="s3://b/p",
        evidence_s3_endpoint_url="http://s3.internal:9000",
        evidence_s3_access_key_id="id-from-env",
        evidence_s3_secret_access_key="secret-from-env",
        evidence_s3_path_style=True,
    )
    assert "secret-from-env" not in repr(settings)
    s3 = settings.evidence_s3
    assert s3.endpoint_url == "http://s3.internal:9000" and s3.secret_access_key == "secret-from-env" and s3.path_style


@pytest_asyncio.fixture(scope="module")
async def qc_s3(s3_endpoint, make_database, kafka_bootstrap, event_collector, publish):
    client, bucket = new_bucket(s3_endpoint)
    settings = QcSettings(
        database_url=await make_database("qc"),
        kafka_bootstrap_servers=kafka_bootstrap,
        env="test",
        jwt_secret=SECRET,
        consumer_group=f"test-qc-{uuid.uuid4().hex}",
        run_consumers=False,
        timer_poll_seconds=0.2,
        relay_poll_seconds=0.5,
        evidence_store=f"s3://{bucket}/evidence",
        evidence_s3_endpoint_url=s3_endpoint,
        evidence_s3_region="eu-central-1",
        evidence_s3_access_key_id=ACCESS_KEY_ID,
        evidence_s3_secret_access_key=SECRET_ACCESS_KEY,
        evidence_s3_path_style=True,
    )
    app = create_app(settings)
    async with serve(app) as http:
        yield Qc(app, http, publish, event_collector), settings, client, bucket


async def test_the_service_keeps_uploads_in_the_s3_store_across_restarts(qc_s3):
    qc, settings, client, bucket = qc_s3
    wid = (await qc.warehouse("jade", name=f"jade {rid('w')}"))["warehouse_id"]
    staff = qc.staff(wid)
    data = image("#abcdef", "PNG")
    first = await upload(qc, staff, data)
    other = await upload(qc, qc.inspector(wid, sub=rid("insp")), data)
    assert first.status_code == other.status_code == 201, first.text
    body = first.json()
    assert other.json()["sha256"] == body["sha256"] == sha256_of(data)
    assert keys(client, bucket) == [f"evidence/{body['sha256']}"]  # two uploads, stored once
    path = f"/v1/evidence/{body['evidence_id']}"
    r = await qc.client.get(path, headers=staff)
    assert r.status_code == 200 and r.content == data and r.headers["content-type"] == "image/png"
    assert (await qc.client.get(path, headers=qc.buyer(rid("u")))).status_code == 404
    # A new process with no local directory at all serves it from the bucket.
    async with serve(create_app(settings.model_copy())) as http:
        r = await http.get(path, headers=staff)
        assert r.status_code == 200 and r.content == data

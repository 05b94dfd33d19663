"""The production evidence store: an S3-compatible object store (AWS S3, MinIO, Ceph RGW, ...) through boto3, whose
blocking calls run in worker threads. Keys are `<prefix><sha256>`; a put stores the bytes once (a HEAD first, then
a conditional PUT with `If-None-Match: *` so two writers of the same bytes cannot both write) and sends the SHA-256
as the object's checksum, so the store refuses bytes damaged on the way."""

from __future__ import annotations

import asyncio
import base64
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .storage import S3Settings

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client


_ABSENT = {"404", "NoSuchKey", "NotFound"}
# 412: another writer stored the key first; 409: a concurrent conditional write is still in flight.
_RACED = {"412", "PreconditionFailed", "409", "ConditionalRequestConflict"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Store:
    def __init__(self, bucket: str, prefix: str, options: S3Settings):
        self.bucket = bucket
        self.prefix = prefix
        self.client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=options.endpoint_url,
            region_name=options.region,
            aws_access_key_id=options.access_key_id,
            aws_secret_access_key=options.secret_access_key,
            config=Config(
                connect_timeout=options.timeout_seconds,
                read_timeout=options.timeout_seconds,
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": "path" if options.path_style else "auto"},
            ),
        )

    def key(self, sha256: str) -> str:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return f"{self.prefix}{sha256}"

    async def put(self, sha256: str, data: bytes, content_type: str) -> bool:
        return await asyncio.to_thread(self._put, self.key(sha256), sha256, data, content_type)

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _ABSENT:
                return False
            raise
        return True

    def _put(self, key: str, sha256: str, data: bytes, content_type: str) -> bool:
        if self._exists(key):
            return False
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if _code(exc) in _RACED and self._exists(key):
                return False
            raise
        return True

    async def get(self, sha256: str) -> bytes | None:
        return await asyncio.to_thread(self._get, self.key(sha256))

    def _get(self, key: str) -> bytes | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _ABSENT:
                return None
            raise
        return answer["Body"].read()

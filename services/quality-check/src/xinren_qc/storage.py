"""Where evidence bytes live: content-addressed by SHA-256 behind one small interface. The local filesystem is the
default (make run, tests); an S3-compatible object store is the production option (README: Evidence storage)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse


class EvidenceStore(Protocol):
    """Bytes by their SHA-256: `put` stores them once (a second put of the same bytes stores nothing)."""

    async def put(self, sha256: str, data: bytes, content_type: str) -> bool:
        """Stores `data` under `sha256`; False when it was already there."""
        ...

    async def get(self, sha256: str) -> bytes | None: ...


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FilesystemStore:
    """`<root>/<aa>/<bb>/<sha256>`: written to a temporary file and renamed into place, so a reader never sees part
    of a file and two writers of the same bytes both succeed; it survives restarts as the directory does."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(self, sha256: str, data: bytes, content_type: str) -> bool:
        return await asyncio.to_thread(self._put, sha256, data)

    def _put(self, sha256: str, data: bytes) -> bool:
        target = self.path(sha256)
        if target.exists():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".up-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    async def get(self, sha256: str) -> bytes | None:
        target = self.path(sha256)
        return await asyncio.to_thread(lambda: target.read_bytes() if target.exists() else None)


def make_store(location: str, s3: S3Settings | None = None) -> EvidenceStore:
    """The store a setting names: a path or `file://` URL is the local filesystem; `s3://bucket/prefix` is an
    S3-compatible object store (the production option: endpoint, region and credentials from `s3`)."""
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        return FilesystemStore(parsed.path if parsed.scheme else location)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"evidence store {location!r}: name the bucket (s3://bucket/prefix)")
        from .s3store import S3Store  # boto3 is loaded only where the S3 store is used

        prefix = parsed.path.strip("/")
        return S3Store(parsed.netloc, f"{prefix}/" if prefix else "", s3 or S3Settings())
    raise ValueError(f"evidence store {location!r}: a path, file:// or s3://bucket/prefix")


@dataclass(frozen=True)
class S3Settings:
    """Where an S3-compatible store is and how to sign. Credentials left None come from boto3's own chain
    (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment, a profile, an instance or pod role), never from
    code; `path_style` addresses the bucket in the path (MinIO and most self-hosted stores)."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    path_style: bool = False
    timeout_seconds: float = 10.0

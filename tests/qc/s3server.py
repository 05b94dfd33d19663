"""A real S3-compatible server for the evidence store's tests: moto's server mode in a subprocess on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from xinren_shared.testing.infra import free_port

# moto signs nothing it checks; any key pair is accepted. Kept out of the process environment.
ACCESS_KEY_ID = "test-access-key"
SECRET_ACCESS_KEY = "test-secret-key"


@contextmanager
def moto_s3_server(timeout: float = 30.0) -> Iterator[str]:
    """Starts `python -m moto.server` and yields its endpoint URL once it answers; stops it afterwards."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(os.environ, MOTO_CALL_RESET_API="false"),
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not answer on {endpoint}") from None
                time.sleep(0.1)  # polling a process's port: nothing to await
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

#!/usr/bin/env python3
"""Wait until a Kafka broker answers, using only the Python standard library.

The check speaks the Kafka wire protocol over a plain socket:

1. ApiVersions v0 (accepted by every broker version): the response must carry
   our correlation id, error code 0 and a non-empty API list that includes
   Metadata.
2. Metadata v4 with an empty topic list (no topic is created): the response
   must list at least one broker. A KRaft broker only opens its listener for
   requests once it has caught up with the metadata log, and only lists
   brokers that are registered and unfenced, so this means "ready for clients".

Usage: wait_kafka.py [--host 127.0.0.1] [--port 9092] [--timeout 60] [--pid PID]
Exit 0 when ready, 1 on timeout, 2 if --pid dies while waiting.
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import sys
import time

API_METADATA = 3
API_VERSIONS = 18
METADATA_VERSION = 4  # v0-v3 were removed in Kafka 4.0 (KIP-896); v4 is the oldest left and not "flexible".
CLIENT_ID = b"xinren-wait-kafka"


class ProtocolError(Exception):
    pass


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ProtocolError("response truncated")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def int16(self) -> int:
        return self.take(">h")

    def int32(self) -> int:
        return self.take(">i")

    def string(self) -> str | None:
        length = self.int16()
        if length < 0:
            return None
        if self.pos + length > len(self.data):
            raise ProtocolError("response truncated")
        value = self.data[self.pos : self.pos + length].decode("utf-8", "replace")
        self.pos += length
        return value


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ProtocolError("connection closed by the broker")
        buf += chunk
    return bytes(buf)


def request(sock: socket.socket, api_key: int, api_version: int, correlation_id: int, body: bytes) -> Reader:
    """Sends a request with header v1 and reads a response with header v0."""
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(CLIENT_ID)) + CLIENT_ID
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    if size < 4 or size > 64 * 1024 * 1024:
        raise ProtocolError(f"implausible response size {size}")
    reader = Reader(_recv_exact(sock, size))
    got = reader.int32()
    if got != correlation_id:
        raise ProtocolError(f"correlation id {got} != {correlation_id}")
    return reader


def check(host: str, port: int, timeout: float = 5.0) -> str:
    """One readiness probe; returns a short description or raises."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)

        r = request(sock, API_VERSIONS, 0, 1, b"")
        error = r.int16()
        if error != 0:
            raise ProtocolError(f"ApiVersions error code {error}")
        count = r.int32()
        if count <= 0:
            raise ProtocolError("ApiVersions returned no APIs")
        versions = {}
        for _ in range(count):
            key, lo, hi = r.int16(), r.int16(), r.int16()
            versions[key] = (lo, hi)
        if API_METADATA not in versions:
            raise ProtocolError("broker does not offer Metadata")
        lo, hi = versions[API_METADATA]
        if not lo <= METADATA_VERSION <= hi:
            return f"ApiVersions ok ({count} APIs; Metadata v{lo}-v{hi}, not probed)"

        # Metadata v4: topics = [] (none), allow_auto_topic_creation = false.
        r = request(sock, API_METADATA, METADATA_VERSION, 2, struct.pack(">ib", 0, 0))
        r.int32()  # throttle_time_ms
        brokers = []
        for _ in range(r.int32()):
            node_id, broker_host, broker_port, _rack = r.int32(), r.string(), r.int32(), r.string()
            brokers.append(f"{node_id}@{broker_host}:{broker_port}")
        cluster_id = r.string()
        if not brokers:
            raise ProtocolError("Metadata lists no live broker yet")
        return f"cluster {cluster_id}, brokers {', '.join(brokers)}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited; it only waits for its parent to reap it
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("KAFKA_PORT", "9092")))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait in total (0: probe once)")
    parser.add_argument("--pid", type=int, help="give up early if this process exits")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()

    deadline = time.monotonic() + args.timeout
    last_error = "no attempt"
    while True:
        try:
            info = check(args.host, args.port)
            if not args.quiet:
                print(f"kafka ready on {args.host}:{args.port}: {info}")
            return 0
        except (OSError, ProtocolError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        if args.pid is not None:
            if not _alive(args.pid):
                print(f"kafka process {args.pid} exited while waiting ({last_error})", file=sys.stderr)
                return 2
        if time.monotonic() >= deadline:
            if not args.quiet:
                print(
                    f"kafka not ready on {args.host}:{args.port} after {args.timeout:g}s: {last_error}", file=sys.stderr
                )
            return 1
        time.sleep(0.25)


if __name__ == "__main__":
    sys.exit(main())

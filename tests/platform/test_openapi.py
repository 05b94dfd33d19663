"""The services' OpenAPI documents serve client generators: bearer security on every protected operation, servers,
declared tags, descriptions, 429 documented; and @redocly/cli (pinned in package-lock.json) lints them with 0 errors."""

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from xinren_notify.app import create_app as notify_app
from xinren_order.app import create_app as order_app
from xinren_qc.app import create_app as qc_app
from xinren_refund.app import create_app as refund_app
from xinren_trust.app import create_app as trust_app

ROOT = Path(__file__).resolve().parents[2]
APPS = {"order": order_app, "refund": refund_app, "quality-check": qc_app, "notify": notify_app, "trust": trust_app}


async def documents() -> dict[str, dict[str, Any]]:
    docs = {}
    for name, create_app in APPS.items():
        app = create_app()  # built, not started: nothing connects
        docs[name] = app.openapi()
        await app.state.runtime.producer.stop()
    return docs


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in doc["paths"].items() for method, op in item.items()]


async def test_every_operation_declares_security_tags_and_a_description():
    for name, doc in (await documents()).items():
        assert doc["components"]["securitySchemes"]["bearerAuth"] == {
            **doc["components"]["securitySchemes"]["bearerAuth"],
            "type": "http",
            "scheme": "bearer",
        }, name
        assert doc["servers"] and all(s["url"] for s in doc["servers"]), name
        declared = {t["name"]: t.get("description") for t in doc["tags"]}
        assert all(declared.values()), (name, declared)
        protected = 0
        for method, path, op in operations(doc):
            where = f"{name} {method.upper()} {path}"
            assert op.get("description"), where
            assert set(op.get("tags", [])) <= set(declared), where
            assert "security" in op, where
            if op["security"]:
                protected += 1
                assert op["security"] == [{"bearerAuth": []}], where
                assert "401" in op["responses"] and "429" in op["responses"], where
                assert "Retry-After" in op["responses"]["429"]["headers"], where
            else:
                assert "401" not in op["responses"], where  # public: no token, so never a 401
        assert protected >= len(operations(doc)) - 5, name  # nearly everything needs a token


async def test_public_operations_are_the_health_checks_and_public_lookups():
    docs = await documents()
    public = {(m, p) for m, p, op in operations(docs["order"]) if not op["security"]}
    assert {("get", "/healthz"), ("get", "/readyz")} <= public
    assert ("post", "/v1/orders") not in public
    create = docs["order"]["paths"]["/v1/orders"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])


def redocly() -> str:
    found = subprocess.run(
        ["bash", str(ROOT / "deploy" / "tools.sh"), "path", "redocly"], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        pytest.fail(f"@redocly/cli is not available (deploy/tools.sh fetch redocly):\n{found.stderr}")
    return found.stdout.strip()


@pytest.mark.timeout(600)
async def test_redocly_lint_finds_no_error(tmp_path):
    files = []
    for name, doc in (await documents()).items():
        path = tmp_path / f"{name}.openapi.json"
        path.write_text(json.dumps(doc))
        files.append(str(path))
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}
    lint = await asyncio.to_thread(
        subprocess.run,
        [
            await asyncio.to_thread(redocly),
            "lint",
            "--config",
            str(ROOT / "deploy" / "openapi" / "redocly.yaml"),
            *files,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert lint.returncode == 0, lint.stdout[-6000:] + lint.stderr[-3000:]

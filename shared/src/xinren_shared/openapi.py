"""The OpenAPI document as client generators need it: bearer security, servers, declared tags, descriptions.

Applied over what FastAPI generates (and over the error responses web.py documents):
- `components.securitySchemes.bearerAuth` (a JWT bearer token), required by every operation that reads the caller's
  token; public operations say `security: []`;
- those operations also document 429 RATE_LIMITED (with `Retry-After`) and, where the route runs a command, the
  optional `Idempotency-Key` header;
- `servers` (the service's `public_url`, or relative to where the document was fetched);
- every tag an operation uses is declared with a description;
- an operation without its own description (the route's docstring) gets one made of its summary and what the
  shared layer knows of it (token, idempotency, pagination, errors). A route's docstring always wins: that is where
  a service says what an operation means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from .commands import command_runner

SCHEME = "bearerAuth"

# Tags the services use. A tag missing here is still declared, with a description made from its name.
TAG_DESCRIPTIONS: Mapping[str, str] = {
    "ops": "Liveness, readiness and metrics of the service process.",
    "operations": "Administration: consistency checks of the service's own data and their safe repair.",
    "order": "Shops, products and stock, orders and their lifecycle, the escrow ledger.",
    "orders": "Orders and their lifecycle.",
    "hosts": "Live-stream hosts, their cooperations with shops and their earnings.",
    "settlement": "Balances, statements and payouts of shops and hosts.",
    "after-sales": "After-sales cases (售后): refunds, returns, exchanges, negotiation and arbitration.",
    "compensations": "Compensations paid to buyers (counterfeit, return shipping, late shipment).",
    "cases": "Quality-check cases: arrival at the warehouse, inspection verdicts, dispatch.",
    "certificates": "Quality-check certificates, publicly verifiable.",
    "evidence": "Photos and files attached to cases as evidence.",
    "warehouses": "Quality-check warehouses, their categories and capacity.",
    "enforcement": "Strikes and enforcement actions against shops.",
    "trust": "Trust scores of shops, hosts and products; enforcement actions and appeals.",
    "inbox": "The in-app inbox of each user and its live stream.",
    "webhooks": "Partner webhook subscriptions, their deliveries and recovery.",
    "catalog": "The catalog of events partners can subscribe to, with examples.",
}

BEARER = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A JWT signed by the platform (HS256) with the claims `sub`, `role` and `exp`; a seller's also "
    "`shop_id`, a warehouse's or inspector's `warehouse_id`, a partner's `shops` and `carriers`.",
}

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: the same caller, key and request get the first answer again (with "
    "`idempotent-replayed: true`); the same key with another request is refused with 422.",
    # Surrounding blanks are not part of a key: a blank key is refused (400 BAD_IDEMPOTENCY_KEY).
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^\\S(.*\\S)?$"},
}

BAD_IDEMPOTENCY_KEY = {
    "description": "BAD_IDEMPOTENCY_KEY: the Idempotency-Key is blank or longer than 200 characters",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
}

IDEMPOTENCY_KEY_IN_FLIGHT = {
    "description": "IDEMPOTENCY_KEY_IN_FLIGHT: a request with this Idempotency-Key is still running; retry shortly",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
}

IDEMPOTENCY_KEY_REUSED = {
    "description": "IDEMPOTENCY_KEY_REUSED: this caller used the Idempotency-Key for another request",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
}

RATE_LIMITED = {
    "description": "RATE_LIMITED: the caller spent its rate budget; retry after `Retry-After` seconds",
    "headers": {
        "Retry-After": {"description": "Seconds until the caller may try again", "schema": {"type": "integer"}}
    },
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
}


def complete_openapi(
    app: FastAPI, routers: list[APIRouter], *, needs_token: Callable[[Dependant], bool], public_url: str = ""
) -> None:
    """Wraps `app.openapi` so the document it serves has what the module docstring lists."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        every = [*app.routes, *(r for router in routers for r in router.routes)]
        routes = [r for r in every if isinstance(r, APIRoute) and r.include_in_schema]
        _complete(schema, routes, needs_token, public_url)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(
    schema: dict[str, Any], routes: list[APIRoute], needs_token: Callable[[Dependant], bool], public_url: str
) -> None:
    schema.setdefault("components", {}).setdefault("securitySchemes", {})[SCHEME] = BEARER
    schema["servers"] = [
        {"url": public_url.rstrip("/"), "description": "this service"}
        if public_url
        else {"url": "/", "description": "the host that served this document"}
    ]
    schema["info"].setdefault(
        "description",
        "Every call but the public ones needs `Authorization: Bearer <JWT>`. Errors answer "
        '`{"error": {"code", "message", "details"}}` with a stable UPPER_SNAKE code; the message follows '
        "Accept-Language. A caller beyond its role's rate budget gets 429 with Retry-After.",
    )
    used_tags: set[str] = set()
    for route in routes:
        protected = needs_token(route.dependant)
        runs_command = _depends_on(route.dependant, command_runner)
        for method in sorted(route.methods or ()):
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            used_tags.update(operation.get("tags", []))
            operation["security"] = [{SCHEME: []}] if protected else []
            responses = operation.setdefault("responses", {})
            if protected:
                responses.setdefault("429", RATE_LIMITED)
                operation["responses"] = dict(sorted(responses.items()))
            if runs_command and method == "POST":  # the runner keys POSTs only
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name", "").lower() == "idempotency-key" for p in parameters):
                    parameters.append(IDEMPOTENCY_KEY)
                responses.setdefault("400", BAD_IDEMPOTENCY_KEY)
                responses.setdefault("409", IDEMPOTENCY_KEY_IN_FLIGHT)
                responses.setdefault("422", IDEMPOTENCY_KEY_REUSED)
                operation["responses"] = dict(sorted(responses.items()))
            if not operation.get("description"):
                operation["description"] = _describe(operation, protected, runs_command and method == "POST")
    schema["tags"] = [
        {"name": tag, "description": TAG_DESCRIPTIONS.get(tag, f"Operations on {tag.replace('-', ' ')}.")}
        for tag in sorted(used_tags)
    ]


def _depends_on(dependant: Dependant, call: object) -> bool:
    return dependant.call is call or any(_depends_on(d, call) for d in dependant.dependencies)


def _describe(operation: Mapping[str, Any], protected: bool, runs_command: bool) -> str:
    """A description from what the shared layer knows, for a route that has no docstring of its own."""
    sentences = [operation.get("summary", "This operation") + "."]
    sentences.append("Needs a bearer token." if protected else "Public: no token needed.")
    parameter_names = {p.get("name") for p in operation.get("parameters", [])}
    if runs_command:
        sentences.append("Runs as one transaction; an `Idempotency-Key` makes a retry answer the first answer again.")
    if {"limit", "cursor"} <= parameter_names:
        sentences.append("A page of at most `limit` items; pass `next_cursor` back as `cursor` for the next one.")
    errors = sorted(code for code in operation.get("responses", {}) if code[:1] in {"4", "5"})
    if errors:
        sentences.append(f"Errors ({', '.join(errors)}) carry the error body with a stable code.")
    return " ".join(sentences)

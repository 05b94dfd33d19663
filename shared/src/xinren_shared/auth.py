"""JWT bearer authentication: the principal, its role and scope claims, and the dev token minting command."""

from __future__ import annotations

import argparse
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from .errors import Forbidden, Unauthorized

ALGORITHM = "HS256"


class Role(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    HOST = "host"
    WAREHOUSE = "warehouse"
    INSPECTOR = "inspector"
    PARTNER = "partner"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role
    shop_id: str | None = None
    warehouse_id: str | None = None
    # A partner's grants: the shops whose orders and events it may see, the carriers whose parcels it reports.
    shops: frozenset[str] = frozenset()
    carriers: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def actor(self) -> str:
        """Who did it, as timelines and events record it: `buyer:u1`, `admin:ops1`."""
        return f"{self.role.value}:{self.sub}"

    def serves_shop(self, shop_id: str) -> bool:
        """A partner acts for the shops it is granted (`shops` claim, or its `shop_id`); an admin for every shop."""
        return self.is_admin or shop_id in self.shops or shop_id == self.shop_id

    def serves_carrier(self, carrier: str) -> bool:
        """A logistics partner reports deliveries of its own carriers only (`carriers` claim, case-insensitive)."""
        return self.is_admin or carrier.strip().lower() in self.carriers

    def require(self, *roles: Role) -> Principal:
        if self.role not in roles:
            raise Forbidden(f"role {self.role} may not do this", details={"allowed_roles": [str(r) for r in roles]})
        return self


def mint_token(secret: str, sub: str, role: str, *, ttl_seconds: int = 86_400, **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {"sub": sub, "role": role, "iat": now, "exp": now + ttl_seconds}
    payload.update({k: v for k, v in claims.items() if v is not None})
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


# Tokens already verified, with their expiry: an app's requests carry the same token for hours, and checking its
# signature again costs more than the rest of a light request. Only valid tokens are kept; one past its expiry is
# decoded again (and refused as expired). Keyed by the secret too, so a rotated secret verifies afresh.
_VERIFIED: OrderedDict[tuple[str, str], tuple[float, Principal]] = OrderedDict()
_VERIFIED_MAX = 10_000


def decode_token(secret: str, token: str) -> Principal:
    cached = _VERIFIED.get((secret, token))
    if cached is not None and time.time() < cached[0]:
        _VERIFIED.move_to_end((secret, token))
        return cached[1]
    principal, expires = _verify(secret, token)
    _VERIFIED[(secret, token)] = (expires, principal)
    if len(_VERIFIED) > _VERIFIED_MAX:
        _VERIFIED.popitem(last=False)
    return principal


def _verify(secret: str, token: str) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "role", "exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the token has expired", code="TOKEN_EXPIRED") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("the token is not valid", code="INVALID_TOKEN") from exc
    try:
        role = Role(claims["role"])
    except ValueError as exc:
        raise Unauthorized("the token names an unknown role", code="INVALID_TOKEN") from exc
    principal = Principal(
        str(claims["sub"]),
        role,
        claims.get("shop_id"),
        claims.get("warehouse_id"),
        shops=_names(claims.get("shops")),
        carriers=frozenset(c.lower() for c in _names(claims.get("carriers"))),
    )
    if role is Role.SELLER and not principal.shop_id:
        raise Unauthorized("a seller token needs a shop_id claim", code="INVALID_TOKEN")
    if role in (Role.WAREHOUSE, Role.INSPECTOR) and not principal.warehouse_id:
        raise Unauthorized("a warehouse token needs a warehouse_id claim", code="INVALID_TOKEN")
    return principal, float(claims["exp"])


def _names(claim: Any) -> frozenset[str]:
    """A list claim of ids (a malformed one grants nothing)."""
    if not isinstance(claim, list):
        return frozenset()
    return frozenset(str(item).strip() for item in claim if isinstance(item, str) and item.strip())


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


_SCOPE_KEY = "xinren.principal"


def principal_from_request(request: Request) -> Principal:
    # Cached on this request's own scope: request.state is shared lifespan state on some servers.
    cached: Principal | None = request.scope.get(_SCOPE_KEY)
    if cached is not None:
        return cached
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("a bearer token is required", code="UNAUTHENTICATED")
    principal = decode_token(request.app.state.settings.jwt_secret, token)
    request.scope[_SCOPE_KEY] = principal
    return principal


async def current_principal(request: Request) -> Principal:
    """The dependency: a coroutine, so FastAPI calls it on the event loop rather than in its thread pool."""
    return principal_from_request(request)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def token_cli(argv: list[str] | None = None) -> None:
    """`xinren-token --role buyer --sub u1 [--shop-id s1] [--warehouse-id w1] [--shops a,b] [--carriers sf,yto]`
    prints a signed dev token."""
    parser = argparse.ArgumentParser(description="Print a signed Xinren JWT for development.")
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--sub", required=True)
    parser.add_argument("--shop-id")
    parser.add_argument("--warehouse-id")
    parser.add_argument("--shops", help="partner: comma-separated shop ids it is granted")
    parser.add_argument("--carriers", help="partner: comma-separated carriers whose deliveries it reports")
    parser.add_argument("--ttl", type=int, default=86_400, help="seconds the token is valid")
    parser.add_argument("--secret", default=os.environ.get("XINREN_JWT_SECRET"))
    args = parser.parse_args(argv)
    if not args.secret:
        from .settings import DEV_JWT_SECRET

        args.secret = DEV_JWT_SECRET
    print(
        mint_token(
            args.secret,
            args.sub,
            args.role,
            ttl_seconds=args.ttl,
            shop_id=args.shop_id,
            warehouse_id=args.warehouse_id,
            shops=_split(args.shops),
            carriers=_split(args.carriers),
        )
    )


def _split(value: str | None) -> list[str] | None:
    return [part.strip() for part in value.split(",") if part.strip()] if value else None

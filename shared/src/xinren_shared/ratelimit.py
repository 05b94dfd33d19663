"""Rate limits per caller: a budget per role, spent per token (a partner's by all its tokens together).

`rate_limits` (settings) gives each role its budget in the `limits` notation (`"6000/minute"`, `"50/second"`); a
role missing or empty there is not limited. A request with a valid bearer token spends one unit of its caller's
budget: a partner's budget is keyed by the partner (`sub`), so minting more tokens buys nothing; everyone else's
by the token itself. A request beyond the budget is answered at once with 429 RATE_LIMITED and `Retry-After`
(seconds until a unit is free again), counted in `xinren_http_rate_limited_total{service, role}`. Requests without
a valid token pass untouched (the route answers 401 where a token is needed); health, readiness and metrics are
never limited.

The counters live in each process's memory (the `limits` library's sliding-window counter): N replicas, or N
worker processes, let a caller spend up to N times its budget. Set the budgets with that in mind. Counters past
their window are dropped when next read, and swept from memory every `SWEEP_SECONDS` (`PacedMemoryStorage`).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from .admission import ALWAYS_ADMITTED
from .auth import _SCOPE_KEY, Principal, Role, decode_token
from .errors import DomainError, error_response
from .metrics import RATE_LIMITED


def parse_rate_limits(rate_limits: Mapping[str, str]) -> dict[Role, RateLimitItem]:
    """Role name -> budget; refuses an unknown role or an unreadable budget (at start-up, not at the first call)."""
    parsed: dict[Role, RateLimitItem] = {}
    for role, budget in rate_limits.items():
        try:
            known = Role(role)
        except ValueError as exc:
            raise ValueError(f"rate_limits names an unknown role {role!r}") from exc
        if budget.strip():
            try:
                parsed[known] = parse(budget)
            except ValueError as exc:
                raise ValueError(f"rate_limits[{role!r}] is not a rate such as '600/minute': {budget!r}") from exc
    return parsed


def caller_key(principal: Principal, token: str) -> str:
    """Whose budget a request spends: the partner's, or the token's (a digest: the token itself is a secret)."""
    if principal.role is Role.PARTNER:
        return f"partner:{principal.sub}"
    return "token:" + hashlib.blake2b(token.encode(), digest_size=16).hexdigest()


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


# How often the counters past their window are swept from memory.
SWEEP_SECONDS = 5.0


class PacedMemoryStorage(MemoryStorage):
    """`limits`' in-memory storage, its expired counters swept at most every `sweep_seconds`.

    The library sweeps on a timer thread 10 ms after any hit, and each sweep walks every counter, held or expired.
    A flash sale's tens of thousands of buyers, each a caller of its own, made that walk a thread holding the GIL
    most of the time: every await of the service's event loop then waited for the interpreter (a `POST /v1/orders`
    with the database idle took 10 ms instead of 3, and 300 buyers at once waited seconds). Counters are checked
    for expiry when read anyway; the sweep only gives back the memory of callers gone quiet."""

    def __init__(self, sweep_seconds: float = SWEEP_SECONDS):
        super().__init__()
        self.sweep_seconds = sweep_seconds
        self.sweeps = 0
        self._next_sweep = time.monotonic() + sweep_seconds

    def _MemoryStorage__schedule_expiry(self) -> None:  # the library's hook, called on every hit
        now = time.monotonic()
        if now < self._next_sweep or self.timer.is_alive():
            return
        self._next_sweep = now + self.sweep_seconds
        self.timer = threading.Timer(0, self._sweep)
        self.timer.daemon = True
        self.timer.start()

    def _sweep(self) -> None:
        self.sweeps += 1
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class RateLimitMiddleware:
    """Answers 429 RATE_LIMITED with Retry-After to a caller beyond its role's budget (see the module docstring).

    The token is decoded here once and the principal left on the request's scope, where the route's
    `CurrentPrincipal` finds it: a limited service decodes each token once, as an unlimited one does."""

    def __init__(self, app: ASGIApp, *, service: str, jwt_secret: str, rate_limits: Mapping[str, str]):
        self.app = app
        self.service = service
        self.jwt_secret = jwt_secret
        self.budgets = parse_rate_limits(rate_limits)
        self.storage = PacedMemoryStorage()
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.budgets or scope["path"] in ALWAYS_ADMITTED:
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        if token is None:
            await self.app(scope, receive, send)
            return
        try:
            principal = decode_token(self.jwt_secret, token)
        except DomainError:
            await self.app(scope, receive, send)  # the route answers 401 in the usual words
            return
        scope[_SCOPE_KEY] = principal
        budget = self.budgets.get(principal.role)
        if budget is None or self.limiter.hit(budget, caller_key(principal, token)):
            await self.app(scope, receive, send)
            return
        reset_at, _ = self.limiter.get_window_stats(budget, caller_key(principal, token))
        retry_after = max(1, math.ceil(reset_at - time.time()))
        RATE_LIMITED.labels(self.service, principal.role.value).inc()
        refusal = error_response(
            429,
            "RATE_LIMITED",
            f"too many requests: the budget of a {principal.role.value} is {budget}; retry in {retry_after} s",
            details={"limit": str(budget), "retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
        await refusal(scope, receive, send)

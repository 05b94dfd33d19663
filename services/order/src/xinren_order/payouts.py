"""Payout providers: the interface the order service sends sellers' and hosts' money through, and a sandbox provider.

SandboxPayoutProvider is a SANDBOX: it moves no real money. It "pays" any amount at once and answers with a
deterministic reference per payout id (a retried send is the same send). So that clients can exercise the failure
paths, it declines payees whose id ends in `_decline` (a permanent failure: the money returns to the balance at once)
and fails the first send of each payout to a payee whose id ends in `_flaky` (a temporary failure: retried). A real
provider (Alipay, WeChat Pay, a bank) implements the same protocol, is idempotent by payout id, and is passed to
create_app.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol
from weakref import WeakKeyDictionary


class PayoutDeclined(Exception):
    """The provider refused the payout for good (closed account, bad payee): the money goes back to the balance."""


class PayoutUnavailable(Exception):
    """The provider could not be reached or answered an error that may pass: the payout is sent again later."""


@dataclass(frozen=True)
class PayoutReceipt:
    reference: str


class PayoutProvider(Protocol):
    name: str

    async def send(self, *, payout_id: str, party_kind: str, party_id: str, amount_fen: int) -> PayoutReceipt:
        """Pays `amount_fen` to the party; the same payout_id never pays twice. Raises PayoutDeclined or
        PayoutUnavailable."""
        ...


class SandboxPayoutProvider:
    """A sandbox: pays without moving real money (see the module docstring)."""

    name = "sandbox"

    def __init__(self) -> None:
        self._tried: set[str] = set()

    async def send(self, *, payout_id: str, party_kind: str, party_id: str, amount_fen: int) -> PayoutReceipt:
        if party_id.endswith("_decline"):
            raise PayoutDeclined(f"the sandbox declines payee {party_id}")
        if party_id.endswith("_flaky") and payout_id not in self._tried:
            self._tried.add(payout_id)
            raise PayoutUnavailable("the sandbox is unavailable for this payee's first attempt")
        return PayoutReceipt("sbxpo_" + hashlib.sha256(payout_id.encode()).hexdigest()[:24])


# The provider each running service uses (set by create_app; the sandbox when none was given).
_PROVIDERS: WeakKeyDictionary[Any, PayoutProvider] = WeakKeyDictionary()


def use_provider(runtime: Any, provider: PayoutProvider) -> None:
    _PROVIDERS[runtime] = provider


def provider_of(runtime: Any) -> PayoutProvider:
    provider = _PROVIDERS.get(runtime)
    if provider is None:
        provider = _PROVIDERS[runtime] = SandboxPayoutProvider()
    return provider

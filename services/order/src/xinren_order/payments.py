"""Payment providers: the interface the order service captures payments through, and a sandbox provider.

SandboxPaymentProvider is a SANDBOX: it moves no real money. It "captures" any amount at once and answers with a
deterministic reference per idempotency key (a retried capture is the same capture), and it declines the method
`SANDBOX_DECLINE` so that clients can exercise the declined path. A void gives a capture back; the sandbox only notes
it (`voided`). A real provider (Alipay, WeChat Pay, ...) would implement the same protocol and be passed to
create_app.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from xinren_shared.errors import Unprocessable
from xinren_shared.ids import utcnow


class PaymentDeclined(Unprocessable):
    code = "PAYMENT_DECLINED"


@dataclass(frozen=True)
class PaymentCapture:
    reference: str
    amount_fen: int
    method: str
    captured_at: datetime


class PaymentProvider(Protocol):
    name: str

    async def capture(self, *, idempotency_key: str, amount_fen: int, method: str) -> PaymentCapture:
        """Captures `amount_fen`; the same idempotency_key never captures twice. Raises PaymentDeclined."""
        ...

    async def void(self, capture: PaymentCapture, *, idempotency_key: str) -> None:
        """Gives a capture back to the payer whole (an order that could not take it); the same idempotency_key
        voids once."""
        ...


class SandboxPaymentProvider:
    """A sandbox: captures without moving real money (see the module docstring)."""

    name = "sandbox"
    DECLINE_METHOD = "SANDBOX_DECLINE"

    def __init__(self) -> None:
        self.voided: dict[str, int] = {}  # capture reference -> amount given back (no money moves here)

    async def capture(self, *, idempotency_key: str, amount_fen: int, method: str) -> PaymentCapture:
        if method.upper() == self.DECLINE_METHOD:
            raise PaymentDeclined("the sandbox declined this payment", details={"method": method})
        if amount_fen <= 0:
            raise PaymentDeclined("nothing to capture", details={"amount_fen": amount_fen})
        reference = "sbx_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        return PaymentCapture(reference, amount_fen, method, utcnow())

    async def void(self, capture: PaymentCapture, *, idempotency_key: str) -> None:
        self.voided.setdefault(capture.reference, capture.amount_fen)

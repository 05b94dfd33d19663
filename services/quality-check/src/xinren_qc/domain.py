"""Pure rules of quality check: the case state machine, routing, verdicts, certificates, strikes. No I/O."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from xinren_shared.contracts.vocabulary import DispatchTarget, QcFailureReason
from xinren_shared.errors import Conflict
from xinren_shared.statemachine import StateMachine


class CaseStatus(StrEnum):
    # No warehouse inspects the order's category yet: the case waits, visible, until one is created.
    AWAITING_ROUTING = "AWAITING_ROUTING"
    AWAITING_INBOUND = "AWAITING_INBOUND"
    IN_TRANSIT = "IN_TRANSIT"
    IN_INSPECTION = "IN_INSPECTION"
    PASSED = "PASSED"
    FAILED = "FAILED"
    # The seller appealed a failure within the window: another inspector of the warehouse reviews the item.
    APPEALED = "APPEALED"
    DISPATCHED = "DISPATCHED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


S = CaseStatus

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.AWAITING_ROUTING: frozenset({S.AWAITING_INBOUND, S.CANCELLED}),
    # Arrival may be recorded before order.shipped reaches us: the item in the warehouse is what counts.
    S.AWAITING_INBOUND: frozenset({S.IN_TRANSIT, S.IN_INSPECTION, S.EXPIRED, S.CANCELLED}),
    # The inbound deadline runs until arrival, so an item still on its way can expire.
    S.IN_TRANSIT: frozenset({S.IN_INSPECTION, S.EXPIRED, S.CANCELLED}),
    S.IN_INSPECTION: frozenset({S.PASSED, S.FAILED}),
    S.PASSED: frozenset({S.DISPATCHED}),
    # A failure is final (and may leave) after the appeal window or a review; an appeal is reviewed to either result.
    S.FAILED: frozenset({S.DISPATCHED, S.APPEALED}),
    S.APPEALED: frozenset({S.PASSED, S.FAILED}),
    S.DISPATCHED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
}

CASE = StateMachine("qc case", CaseStatus, TRANSITIONS)

# Cases a warehouse still has work for (its load, for routing).
OPEN = frozenset({S.AWAITING_INBOUND, S.IN_TRANSIT, S.IN_INSPECTION, S.PASSED, S.FAILED, S.APPEALED})


class VerdictResult(StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"


def verdict_status(result: VerdictResult) -> CaseStatus:
    return S.PASSED if result is VerdictResult.PASSED else S.FAILED


def dispatch_target(status: CaseStatus) -> DispatchTarget:
    """A passed item goes on to the buyer; a failed one back to the seller; nothing else leaves the warehouse
    (IllegalTransition, as the table says)."""
    CASE.require(status, S.DISPATCHED)
    return DispatchTarget.BUYER if status is S.PASSED else DispatchTarget.SELLER


Address = dict[str, Any]


def dispatch_address(
    to: DispatchTarget, *, shipping: Address | None, returns: Address | None, given: Address | None
) -> Address:
    """Where a dispatched item goes: the buyer's shipping address after a pass, the shop's return address after a
    failure, both as the order told us. An address in the request only fills a gap (a shop without a return
    address, a case opened before orders carried addresses); it never redirects an item whose address is known."""
    known = shipping if to is DispatchTarget.BUYER else returns
    if known is not None:
        if given is not None and _plain(given) != _plain(known):
            raise Conflict(
                f"the item goes to the {_whose(to)} the order gave; a dispatch cannot redirect it",
                code="DISPATCH_ADDRESS_CONFLICT",
                details={"to": str(to)},
            )
        return known
    if given is not None:
        return given
    if to is DispatchTarget.BUYER:
        raise Conflict(
            "the order gave no shipping address for the buyer: name one in the dispatch's `address`",
            code="SHIPPING_ADDRESS_MISSING",
            details={"to": str(to)},
        )
    raise Conflict(
        "the shop has no return address for this order: name the address to send the item back to in the "
        "dispatch's `address`, or ask the shop for one",
        code="RETURN_ADDRESS_MISSING",
        details={"to": str(to)},
    )


def _plain(address: Address) -> dict[str, str]:
    return {k: " ".join(str(v).split()) for k, v in address.items() if v is not None}


def _whose(to: DispatchTarget) -> str:
    return "buyer's shipping address" if to is DispatchTarget.BUYER else "shop's return address"


def same_tracking_no(a: str, b: str) -> bool:
    """Carriers print tracking numbers in either case and people add spaces: compare what identifies the parcel."""
    return "".join(a.split()).upper() == "".join(b.split()).upper()


def normalize_category(category: str) -> str:
    return category.strip().lower()


# A warehouse listing this inspects any category, but only when no warehouse lists the category itself
# (e.g. a high-value item of a category without specialists, sent to QC by the order service's value threshold).
ANY_CATEGORY = "*"


@dataclass(frozen=True)
class Candidate:
    warehouse_id: str
    open_cases: int
    capacity: int | None = None  # None: no limit

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.open_cases >= self.capacity


def pick_warehouse(candidates: Iterable[Candidate], hint: str | None = None) -> str | None:
    """The hinted warehouse when it is a candidate with room, else the least loaded of those with room, ties broken
    by id; when every one is full, the least loaded all the same (a paid order is never left without a warehouse);
    None when none."""
    pool = list(candidates)
    if not pool:
        return None
    room = [c for c in pool if not c.full] or pool
    if hint is not None and any(c.warehouse_id == hint for c in room):
        return hint
    return min(room, key=lambda c: (c.open_cases, c.warehouse_id)).warehouse_id


CERTIFICATE_PREFIX = "XR-"


class CertificateStatus(StrEnum):
    VALID = "VALID"
    # A counterfeit claim on the certified item was upheld after sale: the certificate no longer vouches for it.
    REVOKED = "REVOKED"


CERTIFICATE = StateMachine(
    "certificate",
    CertificateStatus,
    {CertificateStatus.VALID: {CertificateStatus.REVOKED}, CertificateStatus.REVOKED: set()},
)


def normalize_certificate_no(number: str) -> str:
    """Numbers are issued in upper case; a buyer may type them in any case, with spaces around."""
    return number.strip().upper()


# Why a certificate was revoked, as the public verification shows it (no party, no amount).
COUNTERFEIT_UPHELD = "a counterfeit claim on the certified item was upheld after sale"


class AppealStatus(StrEnum):
    OPEN = "OPEN"  # awaiting the review of another inspector
    UPHELD = "UPHELD"  # the review failed the item too
    OVERTURNED = "OVERTURNED"  # the review passed it


class ReturnStatus(StrEnum):
    """A certified item on its way back through the warehouse, and what the check found."""

    EXPECTED = "EXPECTED"
    VERIFIED = "VERIFIED"  # seal intact, measurements as certified: the refund may be released
    SEAL_BROKEN = "SEAL_BROKEN"  # the tag is missing, torn or not the certificate's: evidence for the seller
    MISMATCH = "MISMATCH"  # the seal holds but the item does not measure as certified


def return_outcome(
    certified_seal: str | None, found_seal: str | None, intact: bool, mismatches: list[str]
) -> ReturnStatus:
    """The seal first (a broken or swapped tag says the item may not be the one certified), then the measurements."""
    swapped = certified_seal is not None and (found_seal is None or found_seal.upper() != certified_seal.upper())
    if not intact or swapped:
        return ReturnStatus.SEAL_BROKEN
    if mismatches:
        return ReturnStatus.MISMATCH
    return ReturnStatus.VERIFIED


def certificate_qr(certificate_no: str) -> str:
    """The path the tag's QR code opens: the public verification of the certificate."""
    return f"/v1/certificates/{certificate_no}"


class InspectionErrorKind(StrEnum):
    # The inspector certified an item later ruled counterfeit: the warehouse's liability, never the shop's strike.
    COUNTERFEIT_CERTIFIED = "COUNTERFEIT_CERTIFIED"


def new_certificate_no() -> str:
    """`XR-` and 24 base32 characters from 120 random bits: unique in practice and not guessable."""
    return CERTIFICATE_PREFIX + base64.b32encode(secrets.token_bytes(15)).decode()


class StrikeReason(StrEnum):
    COUNTERFEIT = "COUNTERFEIT"
    EXPIRED = "EXPIRED"


def strike_reason_for_failure(reason: QcFailureReason | None) -> StrikeReason | None:
    """Only counterfeits cost the seller a strike; damage and mismatches are refunded without one."""
    return StrikeReason.COUNTERFEIT if reason is QcFailureReason.COUNTERFEIT else None


class ShopStatus(StrEnum):
    """Deprecated: only in the strikes read's `status`, which is always null now (the trust service owns standing)."""

    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


def counts_at(struck_at: datetime, now: datetime, window: timedelta) -> bool:
    """Whether a strike made at `struck_at` still counts at `now` (it is within the window)."""
    return now - window < struck_at <= now


def strikes_in_window(struck_at: Sequence[datetime], now: datetime, window: timedelta) -> int:
    return sum(1 for at in struck_at if counts_at(at, now, window))

"""Who may see which qc case: one table gives both the check of one case and the filter of a case list."""

from __future__ import annotations

from xinren_shared.access import RowAccess
from xinren_shared.auth import Principal, Role
from xinren_shared.contracts.vocabulary import DispatchTarget

from .models import InspectionError, QcCase

CASES: RowAccess[QcCase] = RowAccess(
    QcCase,
    {
        Role.ADMIN: True,
        Role.WAREHOUSE: lambda p: {"warehouse_id": p.warehouse_id},
        Role.INSPECTOR: lambda p: {"warehouse_id": p.warehouse_id},
        Role.BUYER: lambda p: {"buyer_id": p.sub},
        Role.SELLER: lambda p: {"shop_id": p.shop_id},
    },
)

# Roles that may read cases at all (the others are a 403), each narrowed to its own rows by the table above.
CASE_READERS = tuple(CASES.rules)

# Within a case a reader may see, who sees which address: the warehouse needs both (to dispatch after a pass, to
# send a failed item back), the buyer only its own, the seller only the shop's. Roles not listed see neither.
_STAFF = frozenset({Role.ADMIN, Role.WAREHOUSE, Role.INSPECTOR})
ADDRESS_READERS: dict[str, frozenset[Role]] = {
    "shipping_address": _STAFF | {Role.BUYER},
    "return_address": _STAFF | {Role.SELLER},
}
# A dispatch's address is the buyer's (to BUYER) or the shop's (to SELLER): it is read as that field is.
DISPATCH_ADDRESS_FIELD = {DispatchTarget.BUYER: "shipping_address", DispatchTarget.SELLER: "return_address"}


def sees(principal: Principal, field: str) -> bool:
    return principal.role in ADDRESS_READERS[field]


# An inspection error is the warehouse's record: its staff and the platform read it (other warehouses: 403).
INSPECTION_ERRORS: RowAccess[InspectionError] = RowAccess(
    InspectionError,
    {Role.ADMIN: True, Role.WAREHOUSE: lambda p: {"warehouse_id": p.warehouse_id}},
)
INSPECTION_ERROR_READERS = tuple(INSPECTION_ERRORS.rules)

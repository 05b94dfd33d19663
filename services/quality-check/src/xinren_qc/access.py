"""Who may see which qc case: one table gives both the check of one case and the filter of a case list."""

from __future__ import annotations

from xinren_shared.access import RowAccess
from xinren_shared.auth import Role

from .models import QcCase

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

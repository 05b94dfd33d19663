"""Who sees which rows: a buyer their own, a seller their shop's, an admin all; no other role has after-sales."""

from __future__ import annotations

from collections.abc import Mapping

from xinren_shared.access import RowAccess, Rule
from xinren_shared.auth import Role
from xinren_shared.errors import NotFound

from .models import AfterSaleCase, Compensation, OrderView

# The roles the refund service answers at all (the api layer refuses the others before any lookup).
READERS = (Role.BUYER, Role.SELLER, Role.ADMIN)

_PARTIES: Mapping[Role, Rule] = {
    Role.BUYER: lambda p: {"buyer_id": p.sub},
    Role.SELLER: lambda p: {"shop_id": p.shop_id},
    Role.ADMIN: True,
}

CASES = RowAccess(AfterSaleCase, _PARTIES)
COMPENSATIONS = RowAccess(Compensation, _PARTIES)
ORDERS = RowAccess(OrderView, _PARTIES)


def case_not_found(case_id: str) -> NotFound:
    return NotFound(f"after-sale case {case_id} not found", code="CASE_NOT_FOUND")


def order_not_found(order_id: str) -> NotFound:
    return NotFound(f"order {order_id} not found", code="ORDER_NOT_FOUND")

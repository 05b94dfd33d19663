"""Who may see or manage which rows: one RowAccess table per entity, the check of one row and the filter of a list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from xinren_shared.access import RowAccess
from xinren_shared.auth import Role

from .models import SalesOrder, Shop


class OfShop(Protocol):
    """A row that belongs to a shop (the shop itself, a product), or just a shop's id."""

    @property
    def shop_id(self) -> str: ...


@dataclass(frozen=True)
class ShopRef:
    shop_id: str


# A buyer sees its own orders, a seller its shop's, a host those attributed to it; partners (delivery updates) and
# admins any. Other tenants' orders are private: a 404, never a 403.
ORDERS = RowAccess(
    SalesOrder,
    {
        Role.BUYER: lambda p: {"buyer_id": p.sub},
        Role.SELLER: lambda p: {"shop_id": p.shop_id},
        Role.HOST: lambda p: {"host_id": p.sub},
        Role.PARTNER: True,
        Role.ADMIN: True,
    },
)

# Who manages a shop, its products and its money (and sees that money): the shop's own seller and admins.
SHOP_STAFF: RowAccess[OfShop] = RowAccess(Shop, {Role.SELLER: lambda p: {"shop_id": p.shop_id}, Role.ADMIN: True})

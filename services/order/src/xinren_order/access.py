"""Who may see or manage which rows: one RowAccess table per entity, the check of one row and the filter of a list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from xinren_shared.access import RowAccess
from xinren_shared.auth import Principal, Role

from .models import Cooperation, SalesOrder, Shop


class OfShop(Protocol):
    """A row that belongs to a shop (the shop itself, a product), or just a shop's id."""

    @property
    def shop_id(self) -> str: ...


@dataclass(frozen=True)
class ShopRef:
    shop_id: str


def _granted_shops(p: Principal) -> frozenset[str]:
    """The shops a partner's token grants (`shops` claim, or its `shop_id`), as Principal.serves_shop counts them."""
    return p.shops | {p.shop_id} if p.shop_id else p.shops


# A buyer sees its own orders, a seller its shop's, a host those attributed to it, a partner those of the shops it is
# granted, admins any. Other tenants' orders are private: a 404, never a 403.
ORDERS = RowAccess(
    SalesOrder,
    {
        Role.BUYER: lambda p: {"buyer_id": p.sub},
        Role.SELLER: lambda p: {"shop_id": p.shop_id},
        Role.HOST: lambda p: {"host_id": p.sub},
        Role.PARTNER: lambda p: {"shop_id": _granted_shops(p)},
        Role.ADMIN: True,
    },
)


def reports_delivery(principal: Principal, order: SalesOrder) -> bool:
    """Who may record the delivery of an order's parcel: a logistics partner of the parcel's carrier, a partner of the
    order's shop, or an admin. To anyone else the order does not exist."""
    if principal.role not in (Role.PARTNER, Role.ADMIN):
        return False
    by_carrier = order.carrier is not None and principal.serves_carrier(order.carrier)
    return by_carrier or principal.serves_shop(order.shop_id)


# Who manages a shop, its products and its money (and sees that money): the shop's own seller and admins.
SHOP_STAFF: RowAccess[OfShop] = RowAccess(Shop, {Role.SELLER: lambda p: {"shop_id": p.shop_id}, Role.ADMIN: True})

# A shop's cooperations: its seller sees them all, a host those it is bound by, admins any.
COOPERATIONS = RowAccess(
    Cooperation,
    {Role.SELLER: lambda p: {"shop_id": p.shop_id}, Role.HOST: lambda p: {"host_id": p.sub}, Role.ADMIN: True},
)

"""Who sees which rows: a seller its shop's actions and appeals, a host its own, an admin all; others none."""

from __future__ import annotations

from collections.abc import Mapping

from xinren_shared.access import RowAccess, Rule
from xinren_shared.auth import Principal, Role
from xinren_shared.contracts.trust import TrustSubject
from xinren_shared.errors import NotFound

from .models import Appeal, EnforcementAction

_CONCERNED: Mapping[Role, Rule] = {
    Role.SELLER: lambda p: {"subject_kind": TrustSubject.SHOP.value, "shop_id": p.shop_id},
    Role.HOST: lambda p: {"subject_kind": TrustSubject.HOST.value, "host_id": p.sub},
    Role.ADMIN: True,
}

ACTIONS = RowAccess(EnforcementAction, _CONCERNED)
APPEALS = RowAccess(Appeal, _CONCERNED)

# The roles that have enforcement actions at all (the api layer refuses the others before any lookup).
CONCERNED = (Role.SELLER, Role.HOST, Role.ADMIN)


def sees_details(principal: Principal, kind: TrustSubject, subject_id: str, shop_id: str | None) -> bool:
    """Indicators and actions are for the subject itself (a product's: its shop's seller) and admins; everyone
    else sees the score and band only."""
    if principal.is_admin:
        return True
    if kind is TrustSubject.HOST:
        return principal.role is Role.HOST and principal.sub == subject_id
    return principal.role is Role.SELLER and principal.shop_id is not None and principal.shop_id == shop_id


def action_not_found(action_id: str) -> NotFound:
    return NotFound(f"enforcement action {action_id} not found", code="ACTION_NOT_FOUND")


def appeal_not_found(appeal_id: str) -> NotFound:
    return NotFound(f"appeal {appeal_id} not found", code="APPEAL_NOT_FOUND")

"""Who may see which rows: one table per entity gives both the check for one row and the SQL filter for lists,
so a visibility rule is written once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import ColumnElement, and_, false, true

from .auth import Principal, Role

M = TypeVar("M")

# A rule gives the column values a principal's rows must have (all of them; a set: any one of its values), or True
# (every row) / False (none).
Rule = Callable[[Principal], Mapping[str, Any]] | bool


class RowAccess(Generic[M]):
    """`RowAccess(SalesOrder, {Role.BUYER: lambda p: {"buyer_id": p.sub}, Role.ADMIN: True})`: a role that is
    not listed sees nothing."""

    def __init__(self, model: type[M], rules: Mapping[Role, Rule]):
        self.model = model
        self.rules = dict(rules)

    def _conditions(self, principal: Principal) -> Mapping[str, Any] | bool:
        rule = self.rules.get(principal.role, False)
        if isinstance(rule, bool):
            return rule
        conditions = rule(principal)
        # A scope claim the token lacks matches nothing (never "any shop").
        return False if any(v is None for v in conditions.values()) else conditions

    def allows(self, principal: Principal, row: M) -> bool:
        conditions = self._conditions(principal)
        if isinstance(conditions, bool):
            return conditions
        return all(_matches(getattr(row, name), value) for name, value in conditions.items())

    def where(self, principal: Principal) -> ColumnElement[bool]:
        """The SQL condition selecting exactly the rows `allows` would let through."""
        conditions = self._conditions(principal)
        if isinstance(conditions, bool):
            return true() if conditions else false()
        return and_(true(), *(_condition(getattr(self.model, name), value) for name, value in conditions.items()))


def _matches(actual: Any, wanted: Any) -> bool:
    # A set of values (e.g. a partner's granted shops) matches any one of them; an empty set matches nothing.
    return actual in wanted if isinstance(wanted, frozenset | set) else bool(actual == wanted)


def _condition(column: Any, wanted: Any) -> ColumnElement[bool]:
    if isinstance(wanted, frozenset | set):
        return column.in_(sorted(wanted)) if wanted else false()
    return cast(ColumnElement[bool], column == wanted)

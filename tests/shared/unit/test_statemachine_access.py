from enum import StrEnum

import pytest

from xinren_shared.access import RowAccess
from xinren_shared.auth import Principal, Role
from xinren_shared.errors import IllegalTransition
from xinren_shared.ids import new_id, utcnow
from xinren_shared.statemachine import StateMachine


class Light(StrEnum):
    RED = "RED"
    GREEN = "GREEN"
    BLINKING = "BLINKING"
    OFF = "OFF"


MACHINE = StateMachine(
    "light",
    Light,
    {
        Light.RED: {Light.GREEN, Light.OFF},
        Light.GREEN: {Light.RED, Light.OFF},
        Light.BLINKING: {Light.BLINKING, Light.OFF},
        Light.OFF: set(),
    },
)


@pytest.mark.parametrize("current,target", MACHINE.pairs())
def test_move_is_a_noop_in_place_true_when_allowed_and_409_otherwise(current, target):
    if current == target:
        assert MACHINE.move(current, target) is False
    elif target in MACHINE.transitions[current]:
        assert MACHINE.move(current, target) is True
    else:
        with pytest.raises(IllegalTransition) as info:
            MACHINE.move(current, target)
        assert info.value.status == 409
        assert info.value.details == {"current_status": current.value, "requested_status": target.value}


def test_require_refuses_staying_put_unless_listed():
    assert MACHINE.require("RED", "GREEN") is Light.GREEN
    assert MACHINE.require(Light.BLINKING, Light.BLINKING) is Light.BLINKING
    with pytest.raises(IllegalTransition):
        MACHINE.require(Light.RED, Light.RED)
    assert MACHINE.terminal == {Light.OFF}


def test_a_table_missing_a_status_is_refused():
    with pytest.raises(ValueError, match="OFF"):
        StateMachine("light", Light, {Light.RED: set(), Light.GREEN: set(), Light.BLINKING: set()})


class Row:
    def __init__(self, buyer_id: str, shop_id: str):
        self.buyer_id, self.shop_id = buyer_id, shop_id


ACCESS = RowAccess(
    Row,
    {
        Role.BUYER: lambda p: {"buyer_id": p.sub},
        Role.SELLER: lambda p: {"shop_id": p.shop_id},
        Role.PARTNER: lambda p: {"shop_id": p.shops},
        Role.ADMIN: True,
    },
)


@pytest.mark.parametrize(
    "principal,allowed",
    [
        (Principal("u1", Role.BUYER), True),
        (Principal("u2", Role.BUYER), False),
        (Principal("s", Role.SELLER, shop_id="shop1"), True),
        (Principal("s", Role.SELLER, shop_id="shop2"), False),
        (Principal("a", Role.ADMIN), True),
        (Principal("h", Role.HOST), False),
        (Principal("s", Role.SELLER), False),  # no scope claim: nothing, never everything
        (Principal("p", Role.PARTNER, shops=frozenset({"shop1", "shop3"})), True),  # a set: any of its values
        (Principal("p", Role.PARTNER, shops=frozenset({"shop2"})), False),
        (Principal("p", Role.PARTNER), False),
    ],
)
def test_row_access_check(principal, allowed):  # the SQL form: tests/shared/integration/test_keyset_and_access.py
    assert ACCESS.allows(principal, Row("u1", "shop1")) is allowed


def test_actor_ids_and_clock():
    assert Principal("ops1", Role.ADMIN).actor == "admin:ops1"
    assert new_id("ord").startswith("ord_") and len(new_id("ord")) == 36 and new_id("x") != new_id("x")
    assert utcnow().tzinfo is not None

"""Pure rules of this round: where a dispatched item goes, which parcel arrival accepts, the certificate's status."""

import pytest

from xinren_qc.domain import (
    CERTIFICATE,
    CertificateStatus,
    dispatch_address,
    normalize_certificate_no,
    same_tracking_no,
)
from xinren_shared.contracts.vocabulary import DispatchTarget
from xinren_shared.errors import Conflict, IllegalTransition

from ..support import BUYER_ADDRESS, RETURN_ADDRESS

BUYER, SHOP = BUYER_ADDRESS.model_dump(), RETURN_ADDRESS.model_dump()
OTHER = {**SHOP, "line1": "另一条街 1 号"}


@pytest.mark.parametrize(
    "to,expected", [(DispatchTarget.BUYER, BUYER), (DispatchTarget.SELLER, SHOP)], ids=["pass", "fail"]
)
def test_a_dispatch_goes_to_the_address_the_order_gave_for_its_target(to, expected):
    assert dispatch_address(to, shipping=BUYER, returns=SHOP, given=None) == expected
    # Repeating the known address (spacing aside) is fine; another one is a redirect and refused.
    spaced = {k: f" {v} " for k, v in expected.items()}
    assert dispatch_address(to, shipping=BUYER, returns=SHOP, given=spaced) == expected
    with pytest.raises(Conflict) as refused:
        dispatch_address(to, shipping=BUYER, returns=SHOP, given=OTHER)
    assert refused.value.code == "DISPATCH_ADDRESS_CONFLICT"


def test_a_shop_without_a_return_address_needs_one_named_in_the_dispatch():
    with pytest.raises(Conflict) as refused:
        dispatch_address(DispatchTarget.SELLER, shipping=BUYER, returns=None, given=None)
    assert refused.value.code == "RETURN_ADDRESS_MISSING" and "return address" in refused.value.message
    assert dispatch_address(DispatchTarget.SELLER, shipping=BUYER, returns=None, given=OTHER) == OTHER
    # The buyer's address is never used for a failed item, and the shop's never for a passed one.
    with pytest.raises(Conflict) as no_buyer:
        dispatch_address(DispatchTarget.BUYER, shipping=None, returns=SHOP, given=None)
    assert no_buyer.value.code == "SHIPPING_ADDRESS_MISSING"


@pytest.mark.parametrize(
    "a,b,same",
    [("SF100", "SF100", True), ("sf100", "SF100", True), ("SF 100", "SF100", True), ("SF100", "SF101", False)],
)
def test_tracking_numbers_match_whatever_the_case_and_spacing(a, b, same):
    assert same_tracking_no(a, b) is same


PAIRS = CERTIFICATE.pairs()


@pytest.mark.parametrize("current,target", PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_a_certificate_is_revoked_once_and_never_restored(current, target):
    legal = (current, target) == (CertificateStatus.VALID, CertificateStatus.REVOKED)
    assert CERTIFICATE.can(current, target) is legal
    if legal:
        assert CERTIFICATE.move(current, target) is True
    elif current == target:
        assert CERTIFICATE.move(current, target) is False  # a redelivered revocation is a no-op
    else:
        with pytest.raises(IllegalTransition):
            CERTIFICATE.move(current, target)


def test_certificate_numbers_are_looked_up_in_any_case():
    assert normalize_certificate_no("  xr-abcd2345  ") == "XR-ABCD2345"

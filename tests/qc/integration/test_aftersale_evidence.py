"""Evidence on after-sales messages: the refund service's aftersale.message_posted (over the real Kafka) makes the
photos readable by both parties of that after-sales case, and by nobody else."""

from __future__ import annotations

from xinren_shared.contracts.aftersales import AfterSaleMessagePosted
from xinren_shared.contracts.vocabulary import AfterSaleReason, AfterSaleStatus, AfterSaleType

from ..support import REFUND_SOURCE, rid
from .test_warehouse_operations import image, upload


def message(case_id: str, buyer_id: str, shop_id: str, evidence_ids: list[str]) -> AfterSaleMessagePosted:
    return AfterSaleMessagePosted(
        order_id=rid("ord"),
        case_id=case_id,
        type=AfterSaleType.REFUND_ONLY,
        reason=AfterSaleReason.NOT_AS_DESCRIBED,
        amount_fen=12_000,
        status=AfterSaleStatus.REQUESTED,
        buyer_id=buyer_id,
        shop_id=shop_id,
        message_id=rid("msg"),
        author="BUYER",
        text="the clasp is broken, see the photos",
        evidence_ids=evidence_ids,
    )


async def test_the_other_party_of_the_aftersale_case_reads_the_evidence_of_its_messages(qc):
    buyer_id, shop_id, stranger_shop = rid("u"), rid("shop"), rid("shop")
    buyer = qc.buyer(buyer_id)
    uploaded = await upload(qc, buyer, image("#3c7a5e", "PNG"))
    assert uploaded.status_code == 201, uploaded.text
    evidence_id = uploaded.json()["evidence_id"]
    path = f"/v1/evidence/{evidence_id}"
    # Before the message names it, only its uploader reads it.
    assert (await qc.client.get(path, headers=qc.seller(shop_id))).status_code == 404

    posted = message(rid("as"), buyer_id, shop_id, [evidence_id, "ev_not_ours"])
    await qc.await_handled(await qc.publish(posted, source=REFUND_SOURCE))
    # Redelivered as a new record (the refund service re-sending): no second grant, no error.
    again = message(posted.case_id, buyer_id, shop_id, [evidence_id])
    await qc.await_handled(await qc.publish(again, source=REFUND_SOURCE))

    seller = await qc.client.get(path, headers=qc.seller(shop_id))
    assert seller.status_code == 200 and seller.headers["content-type"] == "image/png"
    assert (await qc.client.get(path, headers=buyer)).status_code == 200
    assert (await qc.client.get(path, headers=qc.admin())).status_code == 200
    # Another shop, another buyer, no token: 404 as if it did not exist.
    assert (await qc.client.get(path, headers=qc.seller(stranger_shop))).status_code == 404
    assert (await qc.client.get(path, headers=qc.buyer(rid("u")))).status_code == 404
    assert (await qc.client.get(path)).status_code == 404


async def test_a_message_without_our_evidence_grants_nothing(qc):
    shop_id = rid("shop")
    other_buyer = qc.buyer(rid("u"))
    uploaded = await upload(qc, other_buyer, image("#123abc", "PNG"))
    evidence_id = uploaded.json()["evidence_id"]
    # A case of another buyer and shop that does not name this evidence opens nothing to its shop.
    await qc.await_handled(await qc.publish(message(rid("as"), rid("u"), shop_id, []), source=REFUND_SOURCE))
    unknown = message(rid("as"), rid("u"), shop_id, ["ev_unknown"])
    await qc.await_handled(await qc.publish(unknown, source=REFUND_SOURCE))
    assert (await qc.client.get(f"/v1/evidence/{evidence_id}", headers=qc.seller(shop_id))).status_code == 404

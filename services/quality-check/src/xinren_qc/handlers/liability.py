"""A quality-check pass protects the seller: a certified item later ruled counterfeit is the warehouse's error. The
certificate is revoked and the error recorded against the warehouse and its inspector; the shop gets no strike."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.consumer import EventContext
from xinren_shared.contracts.aftersales import AfterSaleCounterfeitUpheld
from xinren_shared.ids import new_id, utcnow

from .. import domain, events_out
from ..domain import CERTIFICATE, CertificateStatus, InspectionErrorKind
from ..models import InspectionError, QcCase, QcCaseEvent
from ..settings import QcSettings

log = logging.getLogger("xinren.qc")

REFUND_SERVICE = "refund-service"


async def on_counterfeit_upheld(
    session: AsyncSession, event: AfterSaleCounterfeitUpheld, ctx: EventContext[QcSettings]
) -> None:
    """Revokes the certificate, records the inspection error, publishes qc.certificate_revoked — once, whatever the
    redeliveries: a revoked certificate is not revoked again (and a case has at most one error)."""
    number = domain.normalize_certificate_no(event.certificate_no)
    case = (
        await session.scalars(select(QcCase).where(col(QcCase.certificate_no) == number).with_for_update())
    ).one_or_none()
    if case is None or case.order_id != event.order_id:
        # Not a certificate we issued for this order: nothing of ours to revoke. Logged loudly, since the refund
        # service only names certificates it learnt from qc.passed.
        log.error(
            "counterfeit upheld on order %s names certificate %s, which is not that order's: ignored",
            event.order_id,
            event.certificate_no,
        )
        return
    if not CERTIFICATE.move(case.certificate_status or CertificateStatus.VALID, CertificateStatus.REVOKED):
        log.info("certificate %s is already revoked; after-sales case %s changes nothing", number, event.case_id)
        return
    now = utcnow()
    case.certificate_status = CertificateStatus.REVOKED
    case.certificate_revoked_at = now
    case.certificate_revocation_reason = domain.COUNTERFEIT_UPHELD
    case.certificate_revoked_for = event.case_id
    case.updated_at = now
    # The case's status does not move (the item left long ago); its timeline tells why its certificate is void.
    session.add(
        QcCaseEvent(
            case_id=case.case_id,
            at=now,
            status=case.status,
            actor=REFUND_SERVICE,
            reason=f"certificate {number} revoked: {domain.COUNTERFEIT_UPHELD} (after-sales case {event.case_id})",
        )
    )
    assert case.warehouse_id is not None  # a certificate is issued only at a warehouse
    await session.execute(
        insert(InspectionError)
        .values(
            error_id=new_id("ie"),
            warehouse_id=case.warehouse_id,
            inspector_id=case.inspector_id,
            case_id=case.case_id,
            order_id=case.order_id,
            shop_id=case.shop_id,
            certificate_no=number,
            aftersale_case_id=event.case_id,
            kind=InspectionErrorKind.COUNTERFEIT_CERTIFIED,
            reason=domain.COUNTERFEIT_UPHELD,
            recorded_at=now,
        )
        .on_conflict_do_nothing(index_elements=["case_id"])
    )
    # Deliberately no strike (enforcement.strike): the shop sold what the warehouse certified.
    await ctx.runtime.outbox.add(session, events_out.certificate_revoked(case))
    log.warning(
        "certificate %s revoked (order %s, warehouse %s, inspector %s)",
        number,
        case.order_id,
        case.warehouse_id,
        case.inspector_id,
    )

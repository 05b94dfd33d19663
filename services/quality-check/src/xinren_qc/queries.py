"""Reads of quality check: cases with their timelines, warehouses with their load, certificates, a shop's strikes."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from xinren_shared.auth import Principal, Role
from xinren_shared.errors import Forbidden, NotFound, Unprocessable
from xinren_shared.ids import utcnow
from xinren_shared.pagination import Page, keyset_page
from xinren_shared.runtime import ServiceRuntime

from . import domain
from .access import CASES, INSPECTION_ERRORS
from .domain import CaseStatus, CertificateStatus
from .models import InspectionError, QcCase, Strike, Warehouse
from .schemas import (
    CasePublic,
    CertificateInspector,
    CertificateItem,
    CertificatePublic,
    CertificateWarehouse,
    InspectionErrorPublic,
    ShopStrikes,
    StrikePublic,
    WarehousePublic,
)
from .settings import QcSettings
from .views import case_public, case_view, extras, open_counts, warehouse_public

QcRuntime = ServiceRuntime[QcSettings]


async def get_case(runtime: QcRuntime, principal: Principal, case_id: str) -> CasePublic:
    async with runtime.snapshot() as session:
        case = await session.get(QcCase, case_id)
        # Another's case is answered as missing: its existence is not the reader's to learn.
        if case is None or not CASES.allows(principal, case):
            raise NotFound(f"qc case {case_id} not found", code="CASE_NOT_FOUND")
        return await case_public(session, principal, case)


async def list_cases(
    runtime: QcRuntime,
    principal: Principal,
    *,
    order_id: str | None,
    status: CaseStatus | None,
    warehouse_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[CasePublic]:
    """Newest first, each reader's own cases; buyers and sellers name the order."""
    if principal.role in (Role.WAREHOUSE, Role.INSPECTOR) and warehouse_id not in (None, principal.warehouse_id):
        raise Forbidden("you may list only your own warehouse's cases", code="OTHER_WAREHOUSE")
    if principal.role in (Role.BUYER, Role.SELLER) and order_id is None:
        raise Unprocessable("buyers and sellers list cases by order_id", code="ORDER_ID_REQUIRED")
    stmt = select(QcCase).where(CASES.where(principal))
    if order_id is not None:
        stmt = stmt.where(col(QcCase.order_id) == order_id)
    if status is not None:
        stmt = stmt.where(col(QcCase.status) == status)
    if warehouse_id is not None:
        stmt = stmt.where(col(QcCase.warehouse_id) == warehouse_id)
    async with runtime.snapshot() as session:
        page, next_cursor = await keyset_page(
            session, stmt, [QcCase.created_at, QcCase.case_id], cursor, limit, descending=True
        )
        more = await extras(session, [c.case_id for c in page])
    return Page[CasePublic](items=[case_view(principal, c, more[c.case_id]) for c in page], next_cursor=next_cursor)


async def get_certificate(runtime: QcRuntime, certificate_no: str) -> CertificatePublic:
    """What a buyer (or a later buyer) needs to trust the item, and nothing private; whether it still holds."""
    number = domain.normalize_certificate_no(certificate_no)
    async with runtime.snapshot() as session:
        row = (
            await session.execute(
                select(QcCase, Warehouse)
                .join(Warehouse, col(Warehouse.warehouse_id) == col(QcCase.warehouse_id))
                .where(col(QcCase.certificate_no) == number)
            )
        ).first()
    if row is None:
        raise NotFound("no certificate with this number", code="CERTIFICATE_NOT_FOUND")
    c, w = row
    return CertificatePublic(
        certificate_no=c.certificate_no,
        order_id=c.order_id,
        case_id=c.case_id,
        verdict=c.verdict_result,
        items=[CertificateItem(title=i["title"], category=i["category"]) for i in c.items],
        category=c.category,
        findings=c.findings or "",
        photos=[*(c.photos or []), *(evidence_path(e) for e in c.photo_ids or [])],
        warehouse=CertificateWarehouse(warehouse_id=w.warehouse_id, name=w.name),
        inspector=CertificateInspector(inspector_id=c.inspector_id),
        issued_at=c.verdict_at,
        dispatched=c.dispatched_at is not None,
        status=c.certificate_status or CertificateStatus.VALID,
        revoked_at=c.certificate_revoked_at,
        revocation_reason=c.certificate_revocation_reason,
        seal_id=c.seal_id,
        measurements=c.measurements or {},
        inspected_at=c.verdict_at,
        qr=domain.certificate_qr(number),
    )


def evidence_path(evidence_id: str) -> str:
    """Where a photo is served (public for a certificate's photos)."""
    return f"/v1/evidence/{evidence_id}"


async def list_inspection_errors(
    runtime: QcRuntime,
    principal: Principal,
    warehouse_id: str,
    *,
    inspector_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[InspectionErrorPublic]:
    """A warehouse's inspection errors, newest first: its own staff and the platform read them."""
    if principal.role is Role.WAREHOUSE and principal.warehouse_id != warehouse_id:
        raise Forbidden("you may read only your own warehouse's inspection errors", code="OTHER_WAREHOUSE")
    stmt = select(InspectionError).where(
        INSPECTION_ERRORS.where(principal), col(InspectionError.warehouse_id) == warehouse_id
    )
    if inspector_id is not None:
        stmt = stmt.where(col(InspectionError.inspector_id) == inspector_id)
    async with runtime.snapshot() as session:
        if await session.get(Warehouse, warehouse_id) is None:
            raise NotFound(f"warehouse {warehouse_id} not found", code="WAREHOUSE_NOT_FOUND")
        page, next_cursor = await keyset_page(
            session, stmt, [InspectionError.recorded_at, InspectionError.error_id], cursor, limit, descending=True
        )
    return Page[InspectionErrorPublic](
        items=[InspectionErrorPublic.model_validate(e, from_attributes=True) for e in page], next_cursor=next_cursor
    )


async def list_warehouses(
    runtime: QcRuntime, *, category: str | None, limit: int, cursor: str | None
) -> Page[WarehousePublic]:
    stmt = select(Warehouse)
    if category:
        stmt = stmt.where(col(Warehouse.categories).contains([domain.normalize_category(category)]))
    async with runtime.snapshot() as session:
        page, next_cursor = await keyset_page(session, stmt, [Warehouse.warehouse_id], cursor, limit)
        counts = await open_counts(session, [w.warehouse_id for w in page])
    return Page[WarehousePublic](
        items=[warehouse_public(w, counts[w.warehouse_id]) for w in page], next_cursor=next_cursor
    )


async def get_warehouse(runtime: QcRuntime, warehouse_id: str) -> WarehousePublic:
    async with runtime.snapshot() as session:
        warehouse = await session.get(Warehouse, warehouse_id)
        if warehouse is None:
            raise NotFound(f"warehouse {warehouse_id} not found", code="WAREHOUSE_NOT_FOUND")
        return warehouse_public(warehouse, (await open_counts(session, [warehouse_id]))[warehouse_id])


async def shop_strikes(runtime: QcRuntime, principal: Principal, shop_id: str) -> ShopStrikes:
    """The strikes recorded against a shop; its standing (suspension) is the trust service's, not read here."""
    if principal.role is Role.SELLER and principal.shop_id != shop_id:
        raise Forbidden("sellers see only their own shop's strikes", code="OTHER_SHOP")
    settings, now = runtime.settings, utcnow()
    async with runtime.snapshot() as session:
        strikes = (
            await session.scalars(
                select(Strike)
                .where(col(Strike.shop_id) == shop_id)
                .order_by(col(Strike.struck_at).desc(), col(Strike.strike_id))
            )
        ).all()
    active = {s.strike_id for s in strikes if domain.counts_at(s.struck_at, now, settings.strike_window)}
    return ShopStrikes(
        shop_id=shop_id,
        active_strikes=len(active),
        window_days=settings.strike_window_seconds / 86_400,
        strikes=[
            StrikePublic(
                strike_id=s.strike_id,
                case_id=s.case_id,
                order_id=s.order_id,
                reason=s.reason,
                struck_at=s.struck_at,
                active=s.strike_id in active,
            )
            for s in strikes
        ],
    )

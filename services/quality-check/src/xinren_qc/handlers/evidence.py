"""Evidence: photos uploaded by inspectors, warehouse staff and the parties, stored once by their SHA-256, and
the links that say which case uses them (and so who may see them)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import String, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.auth import Principal
from xinren_shared.consumer import EventContext
from xinren_shared.contracts.aftersales import AfterSaleMessagePosted
from xinren_shared.errors import Unprocessable
from xinren_shared.ids import new_id

from ..imaging import image_type
from ..models import Evidence, EvidenceAftersale, EvidenceLink
from ..schemas_ops import EvidencePublic
from ..settings import QcSettings
from ..storage import EvidenceStore, sha256_of
from .cases import QcUnit

log = logging.getLogger("xinren.qc")


def evidence_public(e: Evidence) -> EvidencePublic:
    return EvidencePublic(evidence_id=e.evidence_id, sha256=e.sha256, content_type=e.content_type, size=e.size)


async def upload_evidence(uow: QcUnit, principal: Principal, data: bytes, store: EvidenceStore) -> EvidencePublic:
    """Checks the bytes are a JPEG, PNG or WebP image (by content), stores them once, and records the upload; the
    same bytes from the same uploader are the same evidence."""
    content_type = image_type(data)
    if content_type is None:
        raise Unprocessable("the file is not a JPEG, PNG or WebP image", code="NOT_AN_IMAGE")
    sha256 = sha256_of(data)
    # Content-addressed and written atomically: a rollback after this leaves at most bytes nobody refers to.
    await store.put(sha256, data, content_type)
    await uow.session.execute(
        insert(Evidence)
        .values(
            evidence_id=new_id("ev"),
            sha256=sha256,
            content_type=content_type,
            size=len(data),
            uploaded_by=principal.actor,
            uploaded_at=uow.now,
        )
        .on_conflict_do_nothing(index_elements=["sha256", "uploaded_by"])
    )
    row = (
        await uow.session.scalars(
            select(Evidence).where(col(Evidence.sha256) == sha256, col(Evidence.uploaded_by) == principal.actor)
        )
    ).one()
    return evidence_public(row)


async def attach(session: AsyncSession, evidence_ids: Sequence[str], case_id: str, purpose: str) -> list[str]:
    """Links existing evidence to a case (its parties may then read it); an unknown id is a 422 naming it."""
    ids = list(dict.fromkeys(evidence_ids))
    if not ids:
        return []
    found = set(
        (await session.scalars(select(col(Evidence.evidence_id)).where(col(Evidence.evidence_id).in_(ids)))).all()
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise Unprocessable(
            f"unknown evidence: {', '.join(missing)} (upload photos with POST /v1/evidence first)",
            code="UNKNOWN_EVIDENCE",
            details={"evidence_ids": missing},
        )
    await session.execute(
        insert(EvidenceLink)
        .values([{"evidence_id": i, "case_id": case_id, "purpose": purpose} for i in ids])
        .on_conflict_do_nothing()
    )
    return ids


async def on_aftersale_message(
    session: AsyncSession, event: AfterSaleMessagePosted, ctx: EventContext[QcSettings]
) -> None:
    """Evidence on an after-sales message becomes readable by that case's buyer and shop (the other party too, not
    only its uploader). Ids we never stored are skipped; the same grant again adds nothing."""
    ids = list(dict.fromkeys(event.evidence_ids))
    if not ids:
        return
    grant = select(
        col(Evidence.evidence_id),
        literal(event.case_id),
        literal(event.buyer_id, String),
        literal(event.shop_id, String),
    ).where(col(Evidence.evidence_id).in_(ids))
    granted = await session.execute(
        insert(EvidenceAftersale)
        .from_select(["evidence_id", "aftersale_case_id", "buyer_id", "shop_id"], grant)
        .on_conflict_do_nothing()
        .returning(col(EvidenceAftersale.evidence_id))
    )
    unknown = set(ids) - set(granted.scalars().all())
    if unknown:
        log.info("after-sales case %s names evidence %s that is not ours or already granted", event.case_id, unknown)

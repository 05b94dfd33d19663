"""The trust service's reads: a subject's score with its explanation and actions, action, appeal and band lists."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from xinren_shared.auth import Principal
from xinren_shared.contracts.trust import ShopStanding, TrustSubject
from xinren_shared.pagination import Page, keyset_page
from xinren_shared.runtime import ServiceRuntime

from . import domain
from .access import ACTIONS, APPEALS, sees_details
from .domain import ActionStatus, AppealStatus
from .handlers.scoring import explained
from .models import Appeal, EnforcementAction, Standing, TrustScore
from .schemas import ActionPublic, AppealPublic, IndicatorPublic, ScorePublic, ScoreSummary
from .settings import TrustSettings
from .views import action_public, appeal_public

Runtime = ServiceRuntime[TrustSettings]
ACTIONS_SHOWN = 50  # the newest actions a score view lists (GET /v1/trust/actions pages through all)


async def _actions_of(session: AsyncSession, kind: TrustSubject, subject_id: str) -> list[ActionPublic]:
    rows = await session.scalars(
        select(EnforcementAction)
        .where(col(EnforcementAction.subject_kind) == kind.value, col(EnforcementAction.subject_id) == subject_id)
        .order_by(col(EnforcementAction.at).desc(), col(EnforcementAction.action_id).desc())
        .limit(ACTIONS_SHOWN)
    )
    return [action_public(a) for a in rows.all()]


async def score_of(runtime: Runtime, principal: Principal, kind: TrustSubject, subject_id: str) -> ScorePublic:
    """Anyone sees the score and band (a subject nothing is known of yet has full marks); the subject itself and
    admins also see each indicator and the actions."""
    settings = runtime.settings
    async with runtime.snapshot() as session:
        row = await session.get(TrustScore, (kind.value, subject_id))
        standing = await session.get(Standing, (kind.value, subject_id)) if kind is not TrustSubject.PRODUCT else None
        shop_id = subject_id if kind is TrustSubject.SHOP else (row.shop_id if row else None)
        details = sees_details(principal, kind, subject_id, shop_id)
        actions = await _actions_of(session, kind, subject_id) if details and kind is not TrustSubject.PRODUCT else []
    if row is None:
        score, band, indicators = explained(settings, kind, {})
    else:
        score, band, indicators = row.score, row.band, row.indicators
    status = None
    if kind is not TrustSubject.PRODUCT:
        status = ShopStanding(standing.status) if standing else ShopStanding.ACTIVE
    return ScorePublic(
        subject_kind=kind,
        subject_id=subject_id,
        score=score,
        band=band,
        status=status,
        rights=domain.rights_of(band, settings.band_rights) if kind is TrustSubject.SHOP else [],
        indicators=[IndicatorPublic.model_validate(i) for i in indicators] if details else [],
        actions=actions,
        updated_at=row.updated_at if row else None,
    )


async def list_actions(
    runtime: Runtime,
    principal: Principal,
    *,
    shop_id: str | None,
    host_id: str | None,
    status: ActionStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[ActionPublic]:
    stmt = select(EnforcementAction).where(ACTIONS.where(principal))
    if shop_id is not None:
        stmt = stmt.where(col(EnforcementAction.shop_id) == shop_id)
    if host_id is not None:
        stmt = stmt.where(col(EnforcementAction.host_id) == host_id)
    if status is not None:
        stmt = stmt.where(col(EnforcementAction.status) == status.value)
    columns = [EnforcementAction.at, EnforcementAction.action_id]
    async with runtime.snapshot() as session:
        rows, next_cursor = await keyset_page(session, stmt, columns, cursor, limit, descending=True)
    return Page[ActionPublic](items=[action_public(a) for a in rows], next_cursor=next_cursor)


async def list_appeals(
    runtime: Runtime, principal: Principal, *, status: AppealStatus | None, limit: int, cursor: str | None
) -> Page[AppealPublic]:
    stmt = select(Appeal).where(APPEALS.where(principal))
    if status is not None:
        stmt = stmt.where(col(Appeal.status) == status.value)
    columns = [Appeal.created_at, Appeal.appeal_id]
    async with runtime.snapshot() as session:
        rows, next_cursor = await keyset_page(session, stmt, columns, cursor, limit, descending=True)
        actions = {
            a.action_id: a
            for a in (
                await session.scalars(
                    select(EnforcementAction).where(col(EnforcementAction.action_id).in_([r.action_id for r in rows]))
                )
            ).all()
        }
    return Page[AppealPublic](items=[appeal_public(r, actions[r.action_id]) for r in rows], next_cursor=next_cursor)


async def list_scores(
    runtime: Runtime, kind: TrustSubject, *, band: str | None, limit: int, cursor: str | None
) -> Page[ScoreSummary]:
    """Admins: the scored shops (or hosts, products), lowest score first, optionally of one band."""
    stmt = select(TrustScore).where(col(TrustScore.subject_kind) == kind.value)
    if band is not None:
        stmt = stmt.where(col(TrustScore.band) == band)
    columns = [TrustScore.score, TrustScore.subject_id]
    async with runtime.snapshot() as session:
        rows, next_cursor = await keyset_page(session, stmt, columns, cursor, limit)
    return Page[ScoreSummary](
        items=[ScoreSummary.model_validate(r, from_attributes=True) for r in rows], next_cursor=next_cursor
    )

"""Observations and scores: a subject's score is recomputed from its own observations in each indicator's window
(one aggregate query over this service's table, never another service's), and a band crossing is published."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.contracts.trust import TrustSubject
from xinren_shared.runtime import ServiceRuntime

from .. import domain, events_out
from ..domain import IndicatorSetting, Sums
from ..models import Observation, TrustScore
from ..settings import TrustSettings

Runtime = ServiceRuntime[TrustSettings]


def indicator_settings(settings: TrustSettings, kind: TrustSubject) -> dict[str, IndicatorSetting]:
    return {
        TrustSubject.SHOP: settings.shop_indicators,
        TrustSubject.HOST: settings.host_indicators,
        TrustSubject.PRODUCT: settings.product_indicators,
    }[kind]


async def observe(
    session: AsyncSession,
    kind: TrustSubject,
    subject_id: str,
    indicator: str,
    *,
    at: datetime,
    source: str,
    num: float = 0.0,
    den: float = 0.0,
    order_id: str | None = None,
) -> bool:
    """Records one observation once per `source`; False when it was recorded before."""
    inserted = await session.execute(
        insert(Observation)
        .values(
            subject_kind=kind.value,
            subject_id=subject_id,
            indicator=indicator,
            at=at,
            num=num,
            den=den,
            order_id=order_id,
            source=source,
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["source"])
        .returning(col(Observation.id))
    )
    return inserted.first() is not None


async def window_sums(
    session: AsyncSession, kind: TrustSubject, subject_id: str, settings: Mapping[str, IndicatorSetting], now: datetime
) -> dict[str, Sums]:
    """Each indicator's sums over its own window, in one query."""
    windows = [
        and_(col(Observation.indicator) == name, col(Observation.at) > now - timedelta(seconds=s.window_seconds))
        for name, s in settings.items()
    ]
    rows = await session.execute(
        select(
            col(Observation.indicator),
            func.sum(col(Observation.num)),
            func.sum(col(Observation.den)),
            func.count(),
        )
        .where(
            col(Observation.subject_kind) == kind.value,
            col(Observation.subject_id) == subject_id,
            col(Observation.voided).is_(False),
            or_(false(), *windows),
        )
        .group_by(col(Observation.indicator))
    )
    return {name: Sums(float(num or 0), float(den or 0), int(n)) for name, num, den, n in rows.all()}


def explained(settings: TrustSettings, kind: TrustSubject, sums: Mapping[str, Sums]) -> tuple[float, str, list[Any]]:
    score, rows = domain.explain(indicator_settings(settings, kind), sums)
    indicators = [{"name": r.name, "value": r.value, "weight": r.weight, "contribution": r.contribution} for r in rows]
    return score, domain.band_of(score, settings.bands), indicators


async def recompute(
    session: AsyncSession,
    runtime: Runtime,
    kind: TrustSubject,
    subject_id: str,
    *,
    now: datetime,
    shop_id: str | None = None,
) -> None:
    """Recomputes one subject's score under its row's lock; a band crossing publishes trust.score_changed."""
    settings = runtime.settings
    await session.execute(
        insert(TrustScore)
        .values(
            subject_kind=kind.value,
            subject_id=subject_id,
            shop_id=shop_id,
            score=domain.MAX_SCORE,
            band=domain.band_of(domain.MAX_SCORE, settings.bands),
            indicators=[],
            updated_at=now,
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["subject_kind", "subject_id"])
    )
    row = (
        await session.scalars(
            select(TrustScore)
            .where(col(TrustScore.subject_kind) == kind.value, col(TrustScore.subject_id) == subject_id)
            .with_for_update()
        )
    ).one()
    sums = await window_sums(session, kind, subject_id, indicator_settings(settings, kind), now)
    score, band, indicators = explained(settings, kind, sums)
    previous_band, previous_score = row.band, row.score
    row.score, row.band, row.indicators, row.updated_at = score, band, indicators, now
    if shop_id and not row.shop_id:
        row.shop_id = shop_id
    if band != previous_band:
        await runtime.outbox.add(
            session,
            events_out.score_changed(
                kind,
                subject_id,
                shop_id=subject_id if kind is TrustSubject.SHOP else row.shop_id,
                score=score,
                band=band,
                previous_band=previous_band,
                previous_score=previous_score,
                rights=domain.rights_of(band, settings.band_rights),
            ),
        )

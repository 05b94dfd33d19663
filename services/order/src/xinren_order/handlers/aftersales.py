"""Which after-sales cases of an order are open: an open case pauses auto-confirm (shipped or delivered), the last
one ending resumes it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.consumer import EventContext
from xinren_shared.contracts import aftersales as ae
from xinren_shared.contracts.vocabulary import AfterSaleStatus
from xinren_shared.ids import utcnow

from ..models import AfterSaleCase
from ..repository import case_open, load_order
from ..settings import OrderSettings
from .lifecycle import pause_auto_confirm, resume_auto_confirm

_TERMINAL_CASE = {AfterSaleStatus.REFUNDED, AfterSaleStatus.CLOSED, AfterSaleStatus.CANCELLED}


async def on_aftersale_event(session: AsyncSession, event: ae.AfterSaleEvent, ctx: EventContext[OrderSettings]) -> None:
    order = await load_order(session, event.order_id, lock=True)  # serialises with confirm and auto-confirm
    if order is None:
        return
    now = utcnow()
    ends = event.TYPE in (ae.AfterSaleRefunded.TYPE, ae.AfterSaleClosed.TYPE) or event.status in _TERMINAL_CASE
    case = await session.get(AfterSaleCase, event.case_id, with_for_update=True)
    if case is None:
        case = AfterSaleCase(
            case_id=event.case_id, order_id=order.order_id, status=event.status.value, open=not ends, updated_at=now
        )
        session.add(case)
    elif not case.open:
        return  # a case that ended stays ended
    else:
        case.status, case.open, case.updated_at = event.status.value, not ends, now
    await session.flush()
    if not ends:
        await pause_auto_confirm(session, ctx.runtime, order, now)
    elif not await case_open(session, order.order_id):
        await resume_auto_confirm(session, ctx.runtime, order, now)

"""The payout job: once per period each available balance of at least the minimum is paid out with a statement of
what it pays (a shop first repays what it owes the platform guarantee); a failed send is retried, and a payout that
fails for good returns its money to the balance."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.auth import Principal
from xinren_shared.commands import UnitOfWork
from xinren_shared.ids import utcnow
from xinren_shared.runtime import ServiceRuntime
from xinren_shared.timers import DueTimer

from .. import domain, ledger, settlement_checks
from .. import settlement_schemas as schemas
from ..models import Payout, Statement, metadata
from ..payouts import PayoutDeclined, provider_of
from ..repository import load_shop
from ..settings import OrderSettings
from ..statement_rules import Party, period_of
from .settlement import repay_guarantee
from .statements import cut

log = logging.getLogger("xinren.order.payouts")

TIMER_PAYOUT_RUN = "settlement.payout_run"
TIMER_PAYOUT_RETRY = "settlement.payout_retry"
TIMER_RECONCILE = "settlement.reconcile"
SCHEDULE_KEY = "schedule"

_entry = metadata.tables["ledger_entry"]
_stamp = metadata.tables["statement_entry"]
_host = metadata.tables["host"]


def payout_id_for(party: Party, period: str) -> str:
    """One id per party and period: a run repeated, or a send retried, is the same payout to the provider."""
    return "po_" + hashlib.sha256(f"{party.kind}:{party.party_id}:{period}".encode()).hexdigest()[:24]


async def run_payouts(
    session: AsyncSession, runtime: ServiceRuntime[OrderSettings], now: datetime
) -> list[schemas.PayoutPublic]:
    """Pays each party with a positive available balance once for the period `now` is in."""
    settings = runtime.settings
    period, _ = period_of(now, settings.payout_period_seconds)
    accounts = await session.execute(
        select(_entry.c.account)
        .where(func.split_part(_entry.c.account, ":", 1).in_(["seller", "host"]))
        .group_by(_entry.c.account)
        .having(func.sum(_entry.c.amount_fen) > 0)
        .order_by(_entry.c.account)
    )
    made: list[schemas.PayoutPublic] = []
    for (account,) in accounts.all():
        prefix, _, party_id = account.partition(":")
        party = Party("SHOP" if prefix == "seller" else "HOST", party_id)
        payout = await _pay(session, runtime, party, period, now)
        if payout is not None:
            made.append(payout_public(payout))
    return made


async def _pay(
    session: AsyncSession, runtime: ServiceRuntime[OrderSettings], party: Party, period: str, now: datetime
) -> Payout | None:
    settings = runtime.settings
    if party.kind == "SHOP":  # the shop's row lock serialises this with refunds and repayments
        if await load_shop(session, party.party_id, lock=True) is None:
            return None
        await repay_guarantee(session, party.party_id, key=f"repay:payout:{period}:{party.party_id}", order_id=None)
    else:  # the host's row lock serialises this with clawbacks from its balance
        await session.execute(select(_host.c.host_id).where(_host.c.host_id == party.party_id).with_for_update())
    payout_id = payout_id_for(party, period)
    if await session.get(Payout, payout_id) is not None:
        return None  # paid this period already
    statement = await cut(session, party, settings.platform_commission_bps)
    if statement.amount_fen < settings.payout_minimum_fen:
        return None
    txn_id = await ledger.post(
        session,
        key=f"payout:{payout_id}",
        kind="PAYOUT",
        entries=[(party.available, -statement.amount_fen), (domain.payout_account(payout_id), statement.amount_fen)],
        shop_id=party.party_id if party.kind == "SHOP" else None,
        memo=f"payout for {period}",
    )
    if txn_id is None:
        return None
    own_debit = await session.execute(
        select(_entry.c.id).where(_entry.c.transaction_id == txn_id, _entry.c.account == party.available)
    )
    statement_id = "st_" + payout_id[3:]
    stamps = [*statement.entry_ids, *own_debit.scalars().all()]
    await session.execute(_stamp.insert(), [{"ledger_entry_id": e, "statement_id": statement_id} for e in stamps])
    session.add(
        Statement(
            statement_id=statement_id,
            party_kind=party.kind,
            party_id=party.party_id,
            period=period,
            payout_id=payout_id,
            payout_fen=statement.amount_fen,
            lines=[line.as_dict(party.kind) for line in statement.lines],
            created_at=now,
        )
    )
    payout = Payout(
        payout_id=payout_id,
        party_kind=party.kind,
        party_id=party.party_id,
        period=period,
        amount_fen=statement.amount_fen,
        status="SENDING",
        statement_id=statement_id,
        created_at=now,
        updated_at=now,
    )
    session.add(payout)
    await session.flush()
    await send(session, runtime, payout)
    return payout


async def send(session: AsyncSession, runtime: ServiceRuntime[OrderSettings], payout: Payout) -> None:
    """One attempt to send a payout: paid, retried later, or (declined, or out of attempts) returned."""
    settings, now = runtime.settings, utcnow()
    payout.attempts += 1
    payout.updated_at = now
    party = Party(payout.party_kind, payout.party_id)
    in_flight = domain.payout_account(payout.payout_id)
    try:
        receipt = await provider_of(runtime).send(
            payout_id=payout.payout_id,
            party_kind=payout.party_kind,
            party_id=payout.party_id,
            amount_fen=payout.amount_fen,
        )
    except PayoutDeclined as exc:
        await _fail(session, payout, party, f"declined: {exc}")
        return
    except Exception as exc:  # anything else may pass: retried until out of attempts
        payout.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if payout.attempts >= settings.payout_max_attempts:
            await _fail(session, payout, party, payout.last_error)
            return
        log.warning("payout %s failed (attempt %d): %s", payout.payout_id, payout.attempts, payout.last_error)
        delay = settings.payout_retry_seconds * 2 ** (payout.attempts - 1)
        await runtime.timers.schedule(session, TIMER_PAYOUT_RETRY, payout.payout_id, now + timedelta(seconds=delay))
        return
    await ledger.post(
        session,
        key=f"payout_paid:{payout.payout_id}",
        kind="PAYOUT_PAID",
        entries=[(in_flight, -payout.amount_fen), (domain.EXTERNAL_SETTLEMENTS, payout.amount_fen)],
        shop_id=payout.party_id if payout.party_kind == "SHOP" else None,
        memo=f"paid by {provider_of(runtime).name}: {receipt.reference}",
    )
    payout.status, payout.provider_ref, payout.paid_at = "PAID", receipt.reference, now


async def _fail(session: AsyncSession, payout: Payout, party: Party, error: str) -> None:
    """The payout failed for good: its money returns to the available balance (the next statement lists it)."""
    await ledger.post(
        session,
        key=f"payout_return:{payout.payout_id}",
        kind="PAYOUT_RETURN",
        entries=[(domain.payout_account(payout.payout_id), -payout.amount_fen), (party.available, payout.amount_fen)],
        shop_id=payout.party_id if payout.party_kind == "SHOP" else None,
        memo=f"payout failed: {error}"[:500],
    )
    payout.status, payout.last_error = "FAILED", error[:2000]


async def run_now(uow: UnitOfWork[OrderSettings], principal: Principal) -> schemas.PayoutRun:
    """POST /v1/payouts/run: the job of the current period, now (paying nobody twice in a period)."""
    return schemas.PayoutRun(payouts=await run_payouts(uow.session, uow.runtime, uow.now))


async def on_payout_run(session: AsyncSession, timer: DueTimer, runtime: ServiceRuntime[OrderSettings]) -> None:
    """The scheduled run; it schedules the next one at the start of the next period."""
    now = utcnow()
    await run_payouts(session, runtime, now)
    _, next_start = period_of(now, runtime.settings.payout_period_seconds)
    await runtime.timers.schedule(session, TIMER_PAYOUT_RUN, SCHEDULE_KEY, next_start)


async def on_payout_retry(session: AsyncSession, timer: DueTimer, runtime: ServiceRuntime[OrderSettings]) -> None:
    payout = await session.get(Payout, timer.key, with_for_update=True)
    if payout is not None and payout.status == "SENDING":
        await send(session, runtime, payout)


async def on_reconcile(session: AsyncSession, timer: DueTimer, runtime: ServiceRuntime[OrderSettings]) -> None:
    """Compares the statements with the ledger (the difference gauge), then schedules the next comparison."""
    result = await settlement_checks.reconcile(session)
    if result["difference_fen"]:
        log.error("settlement statements disagree with the ledger by %d fen", result["difference_fen"])
    due = utcnow() + timedelta(seconds=runtime.settings.reconciliation_interval_seconds)
    await runtime.timers.schedule(session, TIMER_RECONCILE, SCHEDULE_KEY, due)


async def schedule_jobs(runtime: ServiceRuntime[OrderSettings]) -> None:
    """At start-up: the payout run and the reconciliation get their durable timers, unless they have one."""
    async with runtime.transaction() as session:
        now = utcnow()
        if await runtime.timers.pending(session, TIMER_PAYOUT_RUN, SCHEDULE_KEY) is None:
            _, next_start = period_of(now, runtime.settings.payout_period_seconds)
            await runtime.timers.schedule(session, TIMER_PAYOUT_RUN, SCHEDULE_KEY, next_start)
        if await runtime.timers.pending(session, TIMER_RECONCILE, SCHEDULE_KEY) is None:
            await runtime.timers.schedule(session, TIMER_RECONCILE, SCHEDULE_KEY, now)


def payout_public(p: Payout) -> schemas.PayoutPublic:
    return schemas.PayoutPublic(
        payout_id=p.payout_id, party_kind=p.party_kind, party_id=p.party_id, period=p.period,
        amount_fen=p.amount_fen, status=p.status, attempts=p.attempts, statement_id=p.statement_id,
        provider_ref=p.provider_ref, last_error=p.last_error, created_at=p.created_at, paid_at=p.paid_at,
    )  # fmt: skip

"""Negotiation on a case (协商): messages between the parties, the seller's counter-offer and the buyer's answer, the
seller's request for more evidence. Each step is on the case's timeline and leaves as one event."""

from __future__ import annotations

from xinren_shared.auth import Principal, Role
from xinren_shared.commands import UnitOfWork
from xinren_shared.contracts.vocabulary import AfterSaleType
from xinren_shared.errors import Conflict, IllegalTransition, Unprocessable
from xinren_shared.ids import new_id

from .. import domain, events_out, repository
from ..domain import CASES, S
from ..models import AfterSaleCase, CaseMessage, OrderView
from ..schemas import CasePublic, MessageCreate, MessagePublic, OfferCreate
from ..settings import RefundSettings
from ..views import case_public, message_public
from . import cases
from .cases import CaseContext

Uow = UnitOfWork[RefundSettings]

AUTHORS = {Role.BUYER: "BUYER", Role.SELLER: "SELLER", Role.ADMIN: "PLATFORM"}


class CaseEnded(Conflict):
    code = "CASE_ENDED"


class EvidenceAlreadyRequested(Conflict):
    code = "EVIDENCE_ALREADY_REQUESTED"


async def post_message(uow: Uow, principal: Principal, case_id: str, body: MessageCreate) -> MessagePublic:
    """A message from one party to the other. The buyer's message with evidence answers a request for more
    evidence: the case goes back to the seller's review."""
    cx = CaseContext(uow, principal.actor)
    case, _ = await repository.case_for_command(uow.session, principal, case_id)
    if case.status in domain.TERMINAL:
        raise CaseEnded(f"case {case_id} has ended ({case.status}): no more messages", details={"status": case.status})
    msg = CaseMessage(
        message_id=new_id("msg"),
        case_id=case.case_id,
        at=uow.now,
        author=AUTHORS[principal.role],
        actor=principal.actor,
        text=body.text,
        evidence_ids=list(body.evidence_ids),
    )
    uow.session.add(msg)
    note = f"message: {body.text[:200]}" + (f" (evidence {', '.join(body.evidence_ids)})" if body.evidence_ids else "")
    if case.status == S.AWAITING_EVIDENCE and principal.role is Role.BUYER and body.evidence_ids:
        await cases.move(cx, case, S.REQUESTED, f"evidence given: {', '.join(body.evidence_ids)}", announce=False)
        case.evidence = [*case.evidence, *body.evidence_ids]
    else:
        cx.note(case, note)
    case.updated_at = uow.now
    await cx.publish(events_out.message_posted(case, msg))
    return message_public(msg)


def _offer_terms(case: AfterSaleCase, view: OrderView, facts: domain.OrderFacts, body: OfferCreate) -> tuple[int, str]:
    """The amount and handling way a counter-offer proposes, checked against what the order allows."""
    target = AfterSaleType(body.type or case.type)
    if target in domain.NEEDS_DELIVERY and facts.delivered_at is None:
        raise domain.NotDelivered(f"{target} needs the goods delivered")
    if target in domain.NO_MONEY:
        if body.amount_fen is not None:
            raise Unprocessable(f"{target} moves no money: it takes no amount", code="VALIDATION_ERROR")
        return 0, target.value
    amount = body.amount_fen if body.amount_fen is not None else case.amount_fen
    if amount <= 0:
        raise Unprocessable("a money counter-offer needs an amount_fen", code="VALIDATION_ERROR")
    if target.value == case.type and amount >= case.amount_fen:
        raise Unprocessable(
            "a counter-offer of the same handling way offers less than asked",
            code="OFFER_NOT_LOWER",
            details={"asked_fen": case.amount_fen, "offered_fen": amount},
        )
    lines = _case_lines(case, facts)
    domain.allocate(facts, lines, amount)  # raises when the lines or the order cannot refund it
    return amount, target.value


def _case_lines(case: AfterSaleCase, facts: domain.OrderFacts) -> list[tuple[domain.Line, int]]:
    by_sku = {line.sku_id: line for line in facts.lines}
    return [(by_sku[i["sku_id"]], int(i["quantity"])) for i in case.items or [] if i["sku_id"] in by_sku]


async def make_offer(uow: Uow, principal: Principal, case_id: str, body: OfferCreate) -> CasePublic:
    cx = CaseContext(uow, principal.actor)
    s = uow.session
    case, view = await repository.case_for_command(s, principal, case_id)
    domain.require_seller_may_decide(case.certificate_no)
    CASES.require(case.status, S.OFFERED)
    if case.offer is not None:
        raise IllegalTransition(CASES.entity, case.status, S.OFFERED)  # one counter-offer per case
    facts = await repository.facts(s, view, exclude_case_id=case.case_id)
    amount, type_ = _offer_terms(case, view, facts, body)
    case.offer = {
        "amount_fen": amount,
        "type": type_,
        "reason": body.reason,
        "status": "PENDING",
        "made_at": uow.now.isoformat(),
        "answered_at": None,
    }
    await cases.move(cx, case, S.OFFERED, f"counter-offer: {type_} {amount} fen. {body.reason}", announce=False)
    await cx.publish(events_out.offer_made(case))
    return await case_public(s, case)


async def accept_offer(uow: Uow, principal: Principal, case_id: str) -> CasePublic:
    """The buyer takes the counter-offer: the case goes on under its terms (amount, handling way, lines)."""
    cx = CaseContext(uow, principal.actor)
    s = uow.session
    case, view = await repository.case_for_command(s, principal, case_id)
    _require_offered(case, S.APPROVED)
    offer = dict(case.offer or {})
    facts = await repository.facts(s, view, exclude_case_id=case.case_id)
    type_ = AfterSaleType(offer["type"])
    lines = _case_lines(case, facts)
    if type_ in domain.NO_MONEY:
        amount, items = 0, tuple(domain.CaseItem(line.sku_id, line.title, q, 0) for line, q in lines)
    else:
        amount, items = domain.allocate(facts, lines, int(offer["amount_fen"]))
    case.type, case.amount_fen = type_.value, amount
    case.items = [i.as_json() for i in items]
    case.return_required = type_ in domain.RETURNS and "REFUND_WITHOUT_RETURN" not in case.rules_applied
    case.offer = {**offer, "status": "ACCEPTED", "answered_at": uow.now.isoformat()}
    await cases.move(cx, case, S.APPROVED, f"counter-offer accepted: {type_} {amount} fen", announce=False)
    case.decision_reason = f"counter-offer accepted: {offer.get('reason')}"
    await cases.proceed(cx, case, events_out.offer_accepted)
    return await case_public(s, case)


async def decline_offer(uow: Uow, principal: Principal, case_id: str) -> CasePublic:
    """No agreement: the case is rejected, and the buyer may ask the platform within the escalation window."""
    cx = CaseContext(uow, principal.actor)
    case, _ = await repository.case_for_command(uow.session, principal, case_id)
    _require_offered(case, S.REJECTED)
    case.offer = {**(case.offer or {}), "status": "DECLINED", "answered_at": uow.now.isoformat()}
    await cases.move(cx, case, S.REJECTED, "counter-offer declined by the buyer", announce=False)
    case.decision_reason = "counter-offer declined"
    await cx.publish(events_out.offer_declined(case))
    return await case_public(uow.session, case)


async def request_evidence(uow: Uow, principal: Principal, case_id: str, reason: str) -> CasePublic:
    """The seller asks for more evidence (once per case); the buyer answers with a message carrying evidence."""
    cx = CaseContext(uow, principal.actor)
    case, _ = await repository.case_for_command(uow.session, principal, case_id)
    domain.require_seller_may_decide(case.certificate_no)
    CASES.require(case.status, S.AWAITING_EVIDENCE)
    if case.evidence_requested_at is not None:
        raise EvidenceAlreadyRequested("more evidence was asked for once on this case already")
    case.evidence_requested_at = uow.now
    await cases.move(cx, case, S.AWAITING_EVIDENCE, f"more evidence asked for: {reason}", announce=False)
    await cx.publish(events_out.evidence_requested(case, reason))
    return await case_public(uow.session, case)


def _require_offered(case: AfterSaleCase, target: S) -> None:
    if case.status != S.OFFERED:
        raise IllegalTransition(CASES.entity, case.status, target)


async def offer_lapsed(cx: CaseContext, case: AfterSaleCase) -> None:
    case.offer = {**(case.offer or {}), "status": "LAPSED"}
    await cases.close(cx, case, S.CLOSED, domain.CloseCode.OFFER_NOT_ANSWERED, "the counter-offer was not answered")

"""Response models of settlement: balances, earnings, payouts, statements and the platform's money."""

from datetime import datetime

from pydantic import BaseModel


class ShopBalances(BaseModel):
    shop_id: str
    pending_fen: int  # shares of completed orders still in their after-sales hold
    available_fen: int  # paid out at the next run (less any guarantee debt, repaid first)
    in_payout_fen: int  # sent, not yet confirmed paid or failed
    paid_out_fen: int
    guarantee_debt_fen: int


class Earnings(BaseModel):
    pending_fen: int
    available_fen: int
    in_payout_fen: int
    paid_out_fen: int


class OrderEarnings(Earnings):
    order_id: str
    live_room_id: str | None


class RoomEarnings(Earnings):
    live_room_id: str | None


class HostEarnings(BaseModel):
    host_id: str
    totals: Earnings
    live_rooms: list[RoomEarnings]
    orders: list[OrderEarnings]


class PayoutPublic(BaseModel):
    payout_id: str
    party_kind: str  # SHOP | HOST
    party_id: str
    period: str
    amount_fen: int
    status: str  # SENDING | PAID | FAILED
    attempts: int
    statement_id: str
    provider_ref: str | None
    last_error: str | None
    created_at: datetime
    paid_at: datetime | None


class PayoutRun(BaseModel):
    payouts: list[PayoutPublic]


class StatementLine(BaseModel):
    kind: str  # ORDER_LINE | DEBT_REPAYMENT | PAYOUT_RETURNED | FINE | ADJUSTMENT
    order_id: str | None
    sku_id: str | None
    live_room_id: str | None
    gross_fen: int
    platform_commission_fen: int
    host_commission_fen: int
    refunds_fen: int
    compensations_fen: int
    fines_fen: int
    adjustments_fen: int
    payout_fen: int


class StatementSummary(BaseModel):
    statement_id: str
    party_kind: str
    party_id: str
    period: str
    payout_id: str
    payout_fen: int
    payout_status: str
    created_at: datetime


class StatementPublic(StatementSummary):
    lines: list[StatementLine]
    totals: dict[str, int]


class GuaranteeFund(BaseModel):
    balance_fen: int  # what the fund holds (negative: it paid out more than shops repaid)
    owed_by_shops_fen: int  # what shops still owe it for refunds and compensations it fronted
    position_fen: int  # balance plus what is owed


class PlatformFinance(BaseModel):
    commission_income_fen: int
    fines_income_fen: int
    subsidy_spent_fen: int
    guarantee_fund: GuaranteeFund
    pending_fen: int
    available_fen: int
    in_payout_fen: int
    paid_out_fen: int

"""HTTP routes of the order service: parse, authorize, call a handler, shape the response."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field

from xinren_shared.auth import CurrentPrincipal, Principal, Role
from xinren_shared.commands import Commands, runtime_of
from xinren_shared.errors import Forbidden, Unprocessable, error_responses
from xinren_shared.fields import IsoDatetime
from xinren_shared.ids import new_id
from xinren_shared.pagination import Cursor, Limit, Page
from xinren_shared.runtime import ServiceRuntime

from . import queries, schemas
from .access import SHOP_STAFF, ShopRef
from .domain import ID_PATTERN, OrderStatus
from .handlers import catalog, orders, receipt, shipment
from .payments import PaymentProvider
from .settings import OrderSettings

router = APIRouter(prefix="/v1", tags=["order"])


async def _provider(request: Request) -> PaymentProvider:
    provider: PaymentProvider = request.app.state.payment_provider
    return provider


RuntimeDep = Annotated[ServiceRuntime[OrderSettings], Depends(runtime_of)]
ProviderDep = Annotated[PaymentProvider, Depends(_provider)]
ShopId = Annotated[str, Path(pattern=rf"^{ID_PATTERN}$")]
SkuId = Annotated[str, Path(pattern=rf"^{ID_PATTERN}$")]
OrderId = Annotated[str, Path(pattern=rf"^{ID_PATTERN}$")]
Account = Annotated[str, Path(pattern=rf"^[a-z]+(_[a-z]+)?:{ID_PATTERN}$")]  # e.g. seller_pending:shop_1
FilterId = Annotated[str | None, Query(pattern=r"^[^\x00]{1,200}$")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def _require_shop_staff(principal: Principal, shop_id: str) -> None:
    if not SHOP_STAFF.allows(principal, ShopRef(shop_id)):
        raise Forbidden("a seller manages only its own shop")


# --- shops and catalog ------------------------------------------------------------------------------------


@router.post("/shops", status_code=201, response_model=schemas.ShopPublic, responses=error_responses(403, 409))
async def create_shop(body: schemas.ShopCreate, principal: CurrentPrincipal, commands: Commands) -> schemas.ShopPublic:
    principal.require(Role.ADMIN)
    return await commands.run(catalog.create_shop, principal, body)


@router.get("/shops/{shop_id}", response_model=schemas.ShopPublic, responses=error_responses(404))
async def get_shop(shop_id: ShopId, principal: CurrentPrincipal, runtime: RuntimeDep) -> schemas.ShopPublic:
    return await queries.get_shop(runtime, principal, shop_id)


@router.patch("/shops/{shop_id}", response_model=schemas.ShopPublic, responses=error_responses(403, 404))
async def update_shop(
    shop_id: ShopId, body: schemas.ShopUpdate, principal: CurrentPrincipal, commands: Commands
) -> schemas.ShopPublic:
    """Changes the shop's name or return address (its seller, or admins)."""
    principal.require(Role.ADMIN, Role.SELLER)
    _require_shop_staff(principal, shop_id)
    return await commands.run(catalog.update_shop, principal, shop_id, body)


class DepositTopUp(BaseModel):
    amount_fen: int = Field(gt=0, le=10**12, strict=True)


@router.post("/shops/{shop_id}/deposit", response_model=schemas.ShopPublic, responses=error_responses(403, 404, 409))
async def top_up_deposit(
    shop_id: ShopId, body: DepositTopUp, principal: CurrentPrincipal, commands: Commands, key: IdempotencyKey = None
) -> schemas.ShopPublic:
    """Adds to the shop's deposit (保证金). Send an Idempotency-Key: the same key never credits twice."""
    principal.require(Role.ADMIN, Role.SELLER)
    _require_shop_staff(principal, shop_id)
    return await commands.run(catalog.top_up_deposit, principal, shop_id, body.amount_fen, key or new_id("topup"))


@router.post(
    "/shops/{shop_id}/reinstate",
    response_model=schemas.ShopPublic,
    responses=error_responses(403, 404, 409),
    deprecated=True,
)
async def reinstate_shop(shop_id: ShopId, principal: CurrentPrincipal, commands: Commands) -> schemas.ShopPublic:
    """Deprecated: always 409 REINSTATE_VIA_TRUST. The trust service lifts suspensions
    (POST /v1/trust/shops/{shop_id}/reinstate) and this shop follows its trust.shop_reinstated."""
    principal.require(Role.ADMIN)
    return await commands.run(catalog.reinstate_shop, principal, shop_id)


@router.post(
    "/shops/{shop_id}/products",
    status_code=201,
    response_model=schemas.ProductPublic,
    responses=error_responses(403, 404, 409),
)
async def add_product(
    shop_id: ShopId, body: schemas.ProductCreate, principal: CurrentPrincipal, commands: Commands
) -> schemas.ProductPublic:
    principal.require(Role.SELLER)
    _require_shop_staff(principal, shop_id)
    return await commands.run(catalog.add_product, principal, shop_id, body)


@router.get("/shops/{shop_id}/products", response_model=Page[schemas.ProductPublic], responses=error_responses(404))
async def list_products(
    shop_id: ShopId, principal: CurrentPrincipal, runtime: RuntimeDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[schemas.ProductPublic]:
    items, nxt = await queries.list_products(runtime, shop_id, limit, cursor)
    return Page(items=items, next_cursor=nxt)


@router.get("/products/{sku_id}", response_model=schemas.ProductPublic, responses=error_responses(404))
async def get_product(sku_id: SkuId, principal: CurrentPrincipal, runtime: RuntimeDep) -> schemas.ProductPublic:
    return await queries.get_product(runtime, sku_id)


@router.post("/products/{sku_id}/stock", response_model=schemas.ProductPublic, responses=error_responses(403, 404))
async def add_stock(
    sku_id: SkuId, body: schemas.StockAdd, principal: CurrentPrincipal, commands: Commands
) -> schemas.ProductPublic:
    """Restocks a product (seller of its shop)."""
    principal.require(Role.SELLER)
    return await commands.run(catalog.add_stock, principal, sku_id, body.quantity)


# --- orders -----------------------------------------------------------------------------------------------


@router.post("/orders", status_code=201, response_model=schemas.OrderPublic, responses=error_responses(403, 409))
async def create_order(body: schemas.OrderCreate, principal: CurrentPrincipal, commands: Commands) -> Response:
    principal.require(Role.BUYER)
    return await commands.run_in_one_statement(orders.create_order, principal, body)


ORDER_FILTERS = frozenset({"status", "shop_id", "buyer_id", "created_after", "created_before", "q", "limit", "cursor"})


async def _known_filters(request: Request) -> None:
    unknown = sorted(set(request.query_params) - ORDER_FILTERS)
    if unknown:
        raise Unprocessable(
            f"unknown filter: {', '.join(unknown)}",
            code="UNKNOWN_FILTER",
            details={"unknown": unknown, "known": sorted(ORDER_FILTERS)},
        )


def _statuses(status: str | None) -> list[OrderStatus] | None:
    if status is None:
        return None
    names = [name.strip() for name in status.split(",") if name.strip()]
    wrong = [name for name in names if name not in OrderStatus.__members__]
    if wrong or not names:
        raise Unprocessable(
            "status takes order statuses separated by commas",
            code="VALIDATION_ERROR",
            details={"status": wrong, "allowed": [s.value for s in OrderStatus]},
        )
    return [OrderStatus(name) for name in names]


@router.get(
    "/orders",
    response_model=Page[schemas.OrderPublic],
    responses=error_responses(403, 422),
    dependencies=[Depends(_known_filters)],
)
async def list_orders(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(max_length=400, description="one status, or several: PAID,SHIPPED")] = None,
    shop_id: FilterId = None,
    buyer_id: FilterId = None,
    created_after: IsoDatetime | None = None,
    created_before: IsoDatetime | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="words of an item title")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[schemas.OrderPublic]:
    """Buyers see their own orders, sellers their shop's, hosts the orders attributed to them, partners those of the
    shops they are granted, admins all. An unknown filter is a 422."""
    principal.require(Role.BUYER, Role.SELLER, Role.HOST, Role.PARTNER, Role.ADMIN)
    filters = queries.OrderFilters(_statuses(status), shop_id, buyer_id, created_after, created_before, q)
    items, nxt = await queries.list_orders(runtime, principal, filters, limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=nxt)


@router.get("/orders/{order_id}", response_model=schemas.OrderPublic, responses=error_responses(403, 404))
async def get_order(order_id: OrderId, principal: CurrentPrincipal, runtime: RuntimeDep) -> schemas.OrderPublic:
    principal.require(Role.BUYER, Role.SELLER, Role.HOST, Role.PARTNER, Role.ADMIN)
    return await queries.get_order(runtime, principal, order_id)


@router.post("/orders/{order_id}/pay", response_model=schemas.OrderPublic, responses=error_responses(403, 404, 409))
async def pay_order(
    order_id: OrderId, body: schemas.PayRequest, principal: CurrentPrincipal, commands: Commands, provider: ProviderDep
) -> Response:
    principal.require(Role.BUYER)
    return await commands.run_in_one_statement(orders.pay_order, provider, principal, order_id, body)


@router.post("/orders/{order_id}/cancel", response_model=schemas.OrderPublic, responses=error_responses(403, 404, 409))
async def cancel_order(
    order_id: OrderId, principal: CurrentPrincipal, commands: Commands, body: schemas.CancelRequest | None = None
) -> schemas.OrderPublic:
    principal.require(Role.BUYER, Role.SELLER)
    return await commands.run(orders.cancel_order, principal, order_id, body.reason if body else None)


@router.post(
    "/orders/{order_id}/shipments",
    status_code=201,
    response_model=schemas.ShipmentPublic,
    responses=error_responses(403, 404, 409),
)
async def ship_order(
    order_id: OrderId, body: schemas.ShipmentCreate, principal: CurrentPrincipal, commands: Commands
) -> schemas.ShipmentPublic:
    principal.require(Role.SELLER)
    return await commands.run(orders.ship_order, principal, order_id, body)


@router.put(
    "/orders/{order_id}/shipment", response_model=schemas.ShipmentPublic, responses=error_responses(403, 404, 409)
)
async def correct_shipment(
    order_id: OrderId, body: schemas.ShipmentCreate, principal: CurrentPrincipal, commands: Commands
) -> schemas.ShipmentPublic:
    """Corrects the carrier and tracking number of the seller's parcel before it is delivered (to the buyer) or
    received (at the QC warehouse). The same values again change nothing."""
    principal.require(Role.SELLER)
    return await commands.run(shipment.correct_shipment, principal, order_id, body)


@router.post(
    "/orders/{order_id}/delivery", response_model=schemas.OrderPublic, responses=error_responses(403, 404, 409)
)
async def record_delivery(
    order_id: OrderId, body: schemas.DeliveryCreate, principal: CurrentPrincipal, commands: Commands
) -> schemas.OrderPublic:
    """A partner reports deliveries of its carriers' parcels (`carriers` claim) or of its shops' orders (`shops`
    claim); any other order is a 404 to it."""
    principal.require(Role.PARTNER, Role.ADMIN)
    return await commands.run(orders.record_delivery, principal, order_id, body)


@router.post(
    "/orders/{order_id}/confirm-receipt", response_model=schemas.OrderPublic, responses=error_responses(403, 404, 409)
)
async def confirm_receipt(order_id: OrderId, principal: CurrentPrincipal, commands: Commands) -> schemas.OrderPublic:
    principal.require(Role.BUYER)
    return await commands.run(orders.confirm_receipt, principal, order_id)


@router.post(
    "/orders/{order_id}/extend-receipt", response_model=schemas.OrderPublic, responses=error_responses(403, 404, 409)
)
async def extend_receipt(order_id: OrderId, principal: CurrentPrincipal, commands: Commands) -> schemas.OrderPublic:
    """Extends the time to confirm receipt (auto-confirm) once, by receipt_extension_seconds."""
    principal.require(Role.BUYER)
    return await commands.run(receipt.extend_receipt, principal, order_id)


# --- ledger -----------------------------------------------------------------------------------------------


@router.get(
    "/orders/{order_id}/ledger",
    response_model=Page[schemas.LedgerTransactionPublic],
    responses=error_responses(403, 404),
)
async def order_ledger(
    order_id: OrderId, principal: CurrentPrincipal, runtime: RuntimeDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[schemas.LedgerTransactionPublic]:
    principal.require(Role.SELLER, Role.ADMIN)
    items, nxt = await queries.order_ledger(runtime, principal, order_id, limit, cursor)
    return Page(items=items, next_cursor=nxt)


@router.get("/ledger/balances/{account}", response_model=schemas.BalancePublic, responses=error_responses(403))
async def account_balance(account: Account, principal: CurrentPrincipal, runtime: RuntimeDep) -> schemas.BalancePublic:
    """Admins read any account; a seller its shop's (`seller:`, `deposit:`, `receivable:`, its orders' `escrow:`);
    a host its own `host:` account. `receivable:{shop}` is what the shop owes the platform guarantee."""
    principal.require(Role.ADMIN, Role.SELLER, Role.HOST)
    return await queries.account_balance(runtime, principal, account)


@router.get("/ledger/check", response_model=schemas.LedgerCheckPublic, responses=error_responses(403))
async def ledger_check(principal: CurrentPrincipal, runtime: RuntimeDep) -> schemas.LedgerCheckPublic:
    principal.require(Role.ADMIN)
    return await queries.check_ledger(runtime)

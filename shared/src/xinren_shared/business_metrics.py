"""Business counters, counted from the events a service publishes: what happened is what left through the outbox.

The relay counts an event once Kafka acknowledged it, so a rolled-back transaction counts nothing; a relay that
crashes between the acknowledgement and marking the row published publishes (and counts) it again, as rarely as
consumers see a duplicate. Only the replica holding the relay's lock publishes: sum the counters over replicas.
These are counters for dashboards and alerts; the ledger stays the record of money.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import Counter

from .contracts import aftersales, orders, qc
from .events import Envelope

ORDERS = Counter("xinren_orders_total", "Orders reaching a lifecycle step", ["step"])
GMV_FEN = Counter("xinren_gmv_fen_total", "Gross merchandise value paid by buyers, in fen")
REFUNDS = Counter("xinren_refunds_total", "Refunds paid back to buyers")
REFUNDED_FEN = Counter("xinren_refunded_fen_total", "Money refunded to buyers, in fen")
COMPENSATED_FEN = Counter("xinren_compensations_fen_total", "Compensations paid to buyers, in fen")
AFTERSALES = Counter("xinren_aftersales_requested_total", "After-sales cases opened by buyers", ["type"])
QC_VERDICTS = Counter("xinren_qc_verdicts_total", "Quality-check verdicts", ["verdict"])


def _fen(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    return value if isinstance(value, int) and value > 0 else 0


def _paid(data: Mapping[str, Any]) -> None:
    ORDERS.labels("paid").inc()
    GMV_FEN.inc(_fen(data, "paid_fen"))


def _refunded(data: Mapping[str, Any]) -> None:
    REFUNDS.inc()
    REFUNDED_FEN.inc(_fen(data, "amount_fen"))


# Event type -> what it counts. Types not listed count nothing here (every type is in xinren_outbox_published_total).
COUNTED: dict[str, Callable[[Mapping[str, Any]], None]] = {
    orders.OrderCreated.TYPE: lambda _: ORDERS.labels("created").inc(),
    orders.OrderPaid.TYPE: _paid,
    orders.OrderCancelled.TYPE: lambda _: ORDERS.labels("cancelled").inc(),
    orders.OrderCompleted.TYPE: lambda _: ORDERS.labels("completed").inc(),
    orders.OrderRefunded.TYPE: _refunded,
    orders.OrderCompensationPaid.TYPE: lambda d: COMPENSATED_FEN.inc(_fen(d, "amount_fen")),
    aftersales.AfterSaleRequested.TYPE: lambda d: AFTERSALES.labels(str(d.get("type") or "unknown")).inc(),
    qc.QcPassed.TYPE: lambda _: QC_VERDICTS.labels("passed").inc(),
    qc.QcFailed.TYPE: lambda _: QC_VERDICTS.labels("failed").inc(),
}


def count_business_event(envelope: Envelope) -> None:
    counted = COUNTED.get(envelope.type)
    if counted is not None:
        counted(envelope.data)

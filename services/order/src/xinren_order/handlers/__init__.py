"""One module per aggregate or use case; each command, event or timer handler runs in one transaction.

Commands get a UnitOfWork (the runner opens and commits the transaction); event and timer handlers get the
consumer's or the timer worker's session. Every real status transition appends to the timeline and adds exactly
one event to the outbox (QC-driven transitions are the exception: their event is the QC service's own).
"""

from . import aftersales, catalog, hosts, money, orders, qc_reactions, receipt, shipment, timeouts

__all__ = ["aftersales", "catalog", "hosts", "money", "orders", "qc_reactions", "receipt", "shipment", "timeouts"]

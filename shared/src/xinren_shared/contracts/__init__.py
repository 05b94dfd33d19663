"""The event catalog: the versioned contract between the services and with partners (ARCHITECTURE.md).

Importing this package registers every event type. Within a `.v1` topic only optional fields may be added.
"""

from . import aftersales, orders, qc, trust
from .vocabulary import *  # noqa: F403

ORDERS_TOPIC = orders.TOPIC
QC_TOPIC = qc.TOPIC
AFTERSALES_TOPIC = aftersales.TOPIC
TRUST_TOPIC = trust.TOPIC

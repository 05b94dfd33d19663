"""Tables of the notify service's own database."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from xinren_shared.tables import define_infra_tables


class NotifyTable(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, apart from the other services'."""


metadata = NotifyTable.metadata
infra = define_infra_tables(metadata)

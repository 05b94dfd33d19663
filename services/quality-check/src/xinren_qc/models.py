"""Tables of the quality-check service's own database."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from xinren_shared.tables import define_infra_tables


class QcTable(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, apart from the other services'."""


metadata = QcTable.metadata
infra = define_infra_tables(metadata)

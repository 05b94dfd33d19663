"""A statement can refuse: `xinren_refuse(refusal json)` raises SQLSTATE XR409 with `refusal` ({code, message,
details}) as its message, which the service answers as that 409 (`xinren_shared.errors.refusal_of`), as it does the
stock trigger's. A command written as one statement (`xinren_shared.commands.OneStatement`) calls it when what it
was made from changed meanwhile (an order paid while it was being cancelled): the whole statement, and everything it
wrote, is undone.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

REFUSE = """
CREATE FUNCTION xinren_refuse(refusal json) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'XR409', MESSAGE = refusal::text;
END
$$
"""


def upgrade() -> None:
    op.execute(REFUSE)


def downgrade() -> None:
    op.execute("DROP FUNCTION xinren_refuse(json)")

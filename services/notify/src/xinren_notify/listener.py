"""LISTEN/NOTIFY for this replica (xinren_shared.listen): wakes the live streams and the webhook workers, whichever
replica committed the change."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.listen import PgListener, Waiters

__all__ = ["INBOX_CHANNEL", "InboxHub", "PgListener", "announce"]

INBOX_CHANNEL = "xinren_notify_inbox"


async def announce(session: AsyncSession, channel: str, payload: str = "") -> None:
    """NOTIFY inside the caller's transaction: every replica's listener hears it at commit, never on a rollback."""
    await session.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": payload})


class InboxHub(Waiters):
    """The live streams waiting for their recipient's notifications, keyed by recipient ("buyer:u1")."""

    @property
    def open_streams(self) -> int:
        return self.count

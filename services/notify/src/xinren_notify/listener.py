"""LISTEN/NOTIFY for this replica (xinren_shared.listen): wakes the live streams and the webhook workers, whichever
replica committed the change (it notifies with `notify_after_commit`)."""

from __future__ import annotations

from xinren_shared.listen import PgListener, Waiters

__all__ = ["INBOX_CHANNEL", "InboxHub", "PgListener"]

INBOX_CHANNEL = "xinren_notify_inbox"


class InboxHub(Waiters):
    """The live streams waiting for their recipient's notifications, keyed by recipient ("buyer:u1")."""

    @property
    def open_streams(self) -> int:
        return self.count

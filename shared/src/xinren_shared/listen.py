"""PostgreSQL LISTEN/NOTIFY for one process: one connection that hears the channels it is given and calls each
channel's callback with the payload, and an in-process fan-out to the tasks waiting on a key. On every (re)connect
each callback is called with None ("look again"), since notifications sent while the connection was down are lost.

The sending side: `notify_after_commit` has a notification sent once the session's transaction has committed, by the
process's `Announcer`, from outside that transaction. A NOTIFY inside a transaction makes its commit take a lock
that is one for the whole PostgreSQL server (so that notifications queue in commit order) and hold it until the
commit is on disk: every notifying commit of every database of the server then waits for the one before it to be
flushed, and commits that could have shared one flush (group commit) each wait for their own. The announcer's
notifications commit without waiting for the disk (a lost notification costs a wait: every listener also polls),
so the lock is held for microseconds. A notification is a hint that something may have changed, never the change:
a listener always reads the database."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable

import asyncpg
from sqlalchemy import Engine, text
from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from . import sql
from .db import database_unavailable
from .metrics import NOTIFICATIONS_DROPPED
from .settings import to_plain_url

log = logging.getLogger("xinren.listen")

Note = tuple[str, str]  # (channel, payload)

_NOTES = "xinren.notify_after_commit"
# Every note in one statement: sent by the announcer on its connection, or by a session inside its transaction.
_NOTIFY = text("SELECT pg_notify(c, p) FROM unnest(CAST(:c AS text[]), CAST(:p AS text[])) AS n(c, p)")
_NOTIFY_EACH = sql.Statement(_NOTIFY)


def notify_after_commit(session: AsyncSession | Session, channel: str, payload: str = "") -> None:
    """Has every listener of `channel` told `payload` once the session's transaction commits; nothing is sent for a
    transaction rolled back. Costs no round trip: the process's announcer sends the notifications of many commits
    at once. A savepoint rolled back keeps what was noted inside it (a listener woken for nothing looks again)."""
    notes: dict[Note, None] = session.info.setdefault(_NOTES, {})
    notes[(channel, payload)] = None


class Announcer:
    """Sends the notifications of this process's committed transactions (`notify_after_commit` with a session of a
    bound engine), on a connection of its own whose commits do not wait for the disk. Those noted while one is being
    sent go together in the next. Each send is a transaction of its own; sends are at least `min_interval_seconds`
    (10 ms) apart, the pace at which the relay drains anyway, so a busy process sends no more than 100 a second.
    Should the database be unreachable, they are sent again once it answers; at most `max_pending` are kept, the rest
    counted in `dropped` and `xinren_notifications_dropped_total`, as are those it refuses."""

    def __init__(
        self,
        database_url: str,
        *,
        service: str = "",
        min_interval_seconds: float = 0.01,
        reconnect_seconds: float = 1.0,
        max_pending: int = 10_000,
    ):
        self.database_url = to_plain_url(database_url)
        self.service = service
        self.min_interval_seconds = min_interval_seconds
        self.reconnect_seconds = reconnect_seconds
        self.max_pending = max_pending
        self.dropped = 0
        self._pending: dict[Note, None] = {}
        self._ready = asyncio.Event()
        self._conn: asyncpg.Connection | None = None

    def bind(self, engine: AsyncEngine) -> None:
        """Sends what the sessions of `engine` note, from now on."""
        _ANNOUNCERS[engine.sync_engine] = self

    def unbind(self, engine: AsyncEngine) -> None:
        """The sessions of `engine` notify inside their transactions again (if this announcer was the one bound)."""
        if _ANNOUNCERS.get(engine.sync_engine) is self:
            del _ANNOUNCERS[engine.sync_engine]

    def send(self, notes: Iterable[Note]) -> None:
        for note in notes:
            if note not in self._pending and len(self._pending) >= self.max_pending:
                if not self.dropped:
                    log.warning("more than %d notifications waiting to be sent: dropping the rest", self.max_pending)
                self._drop(1)
                continue
            self._pending[note] = None
        if self._pending:
            self._ready.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            notes, self._pending = list(self._pending), {}
            try:
                conn = await self._connection()
                await _NOTIFY_EACH.execute(conn, {"c": [c for c, _ in notes], "p": [p for _, p in notes]})
            except asyncio.CancelledError:
                self.send(notes)
                raise
            except Exception as exc:
                if _refused(exc):  # by the server (a payload too long, say): sending again would not help
                    log.error("NOTIFY refused; %d notification(s) dropped", len(notes), exc_info=True)
                    self._drop(len(notes))
                    continue
                log.warning("NOTIFY failed; sending again in %.1fs", self.reconnect_seconds, exc_info=True)
                self.send(notes)
                await self.close()
                await asyncio.sleep(self.reconnect_seconds)
                continue
            await asyncio.sleep(self.min_interval_seconds)

    def _drop(self, n: int) -> None:
        self.dropped += n
        NOTIFICATIONS_DROPPED.labels(self.service).inc(n)

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self.database_url,
                server_settings={"synchronous_commit": "off", "application_name": "xinren-announcer"},
            )
        return self._conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 5)
            except (TimeoutError, OSError, asyncpg.PostgresError):
                conn.terminate()


def _refused(exc: BaseException) -> bool:
    """The server refused the NOTIFY itself. Anything else failed on the way: the server gone or going, or the
    connection left unusable by it (a connection ended by the server while idle can still be mid-way through
    reading its last error, and asyncpg then refuses the next statement on it with an InternalClientError): the
    notes go again on a new connection."""
    return isinstance(exc, asyncpg.PostgresError) and not database_unavailable(exc)


_ANNOUNCERS: weakref.WeakKeyDictionary[Engine, Announcer] = weakref.WeakKeyDictionary()


def _announcer(session: Session) -> Announcer | None:
    bind = session.bind
    return _ANNOUNCERS.get(bind) if isinstance(bind, Engine) else None


@orm_event.listens_for(Session, "before_commit")
def _notify_inside(session: Session) -> None:
    """A session of an engine no announcer is bound to (a script's, a test's own) notifies inside its transaction."""
    notes = session.info.get(_NOTES)
    if notes and not session.in_nested_transaction() and _announcer(session) is None:
        del session.info[_NOTES]
        session.execute(_NOTIFY, {"c": [c for c, _ in notes], "p": [p for _, p in notes]})


@orm_event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its notes wait for the transaction's own commit
    notes = session.info.pop(_NOTES, None)
    announcer = _announcer(session)
    if notes and announcer is not None:
        announcer.send(notes)


@orm_event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back or closed: what was noted is not sent
        session.info.pop(_NOTES, None)


class Waiters:
    """In-process fan-out: one asyncio.Event per waiting task, keyed (e.g. by recipient or order id)."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)

    def subscribe(self, key: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters[key].add(event)
        return event

    def unsubscribe(self, key: str, event: asyncio.Event) -> None:
        waiters = self._waiters.get(key)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[key]

    def publish(self, key: str | None) -> None:
        """Wakes the waiters of one key, or all of them (key None)."""
        groups = self._waiters.values() if key is None else [self._waiters.get(key, set())]
        for waiters in groups:
            for event in waiters:
                event.set()

    @property
    def count(self) -> int:
        return sum(len(w) for w in self._waiters.values())


class PgListener:
    def __init__(
        self, database_url: str, channels: dict[str, Callable[[str | None], None]], *, reconnect_seconds: float = 1.0
    ):
        self.database_url = to_plain_url(database_url)
        self.channels = channels
        self.reconnect_seconds = reconnect_seconds
        self.connected = asyncio.Event()

    def _dispatch(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        callback = self.channels.get(channel)
        if callback is not None:
            callback(payload or None)

    def _wake_all(self) -> None:
        for callback in self.channels.values():
            callback(None)

    async def run(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.database_url)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                for channel in self.channels:
                    await conn.add_listener(channel, self._dispatch)
                self.connected.set()
                self._wake_all()
                while not lost.is_set():
                    try:
                        await asyncio.wait_for(lost.wait(), 30)
                    except TimeoutError:
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), 10)  # a silent network loss shows here
                log.warning("LISTEN connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("LISTEN connection failed; retrying in %.1fs", self.reconnect_seconds, exc_info=True)
            finally:
                self.connected.clear()
                if conn is not None and not conn.is_closed():
                    try:
                        await asyncio.wait_for(conn.close(), 5)
                    except (TimeoutError, OSError, asyncpg.PostgresError):
                        conn.terminate()
            await asyncio.sleep(self.reconnect_seconds)

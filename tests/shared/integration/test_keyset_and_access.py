"""keyset_page and RowAccess against the real PostgreSQL: pages that neither skip nor repeat rows (ties in the
first column included), refused forged cursors, and a list filter that selects exactly the rows the one-row check
lets through."""

from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from xinren_shared.access import RowAccess
from xinren_shared.auth import Principal, Role
from xinren_shared.db import make_engine, make_session_factory
from xinren_shared.pagination import InvalidCursor, keyset_page


class Base(DeclarativeBase):
    pass


class Parcel(Base):
    __tablename__ = "parcel"
    parcel_id: Mapped[str] = mapped_column(String, primary_key=True)
    buyer_id: Mapped[str] = mapped_column(String)
    shop_id: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


PARCELS = RowAccess(
    Parcel,
    {
        Role.BUYER: lambda p: {"buyer_id": p.sub},
        Role.SELLER: lambda p: {"shop_id": p.shop_id},
        Role.PARTNER: lambda p: {"shop_id": p.shops},
        Role.ADMIN: True,
    },
)
T0 = datetime(2026, 11, 30, 8, tzinfo=UTC)


@pytest_asyncio.fixture
async def sessions(make_database):
    engine = make_engine(await make_database("keyset"))
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    factory = make_session_factory(engine)
    async with factory() as s, s.begin():
        # 25 parcels, five at each instant: the id breaks the ties.
        s.add_all(
            Parcel(
                parcel_id=f"p{i:02d}",
                buyer_id=f"b{i % 3}",
                shop_id=f"s{i % 2}",
                created_at=T0 + timedelta(minutes=i // 5),
            )
            for i in range(25)
        )
    yield factory
    await engine.dispose()


@pytest.mark.parametrize("descending", [False, True])
async def test_pages_cover_every_row_once_in_order(sessions, descending):
    columns = [Parcel.created_at, Parcel.parcel_id]
    seen, cursor = [], None
    async with sessions() as s:
        while True:
            page, cursor = await keyset_page(s, select(Parcel), columns, cursor, 4, descending=descending)
            seen += [p.parcel_id for p in page]
            if cursor is None:
                break
    assert seen == sorted((f"p{i:02d}" for i in range(25)), reverse=descending)


async def test_a_forged_cursor_is_refused_not_paged(sessions):
    async with sessions() as s:
        _, cursor = await keyset_page(s, select(Parcel), [Parcel.parcel_id], None, 3)
        assert cursor is not None
        body, _, mac = cursor.partition(".")
        with pytest.raises(InvalidCursor):
            await keyset_page(s, select(Parcel), [Parcel.parcel_id], f"{body}.{mac[::-1]}", 3)


@pytest.mark.parametrize(
    "principal,count",
    [
        (Principal("b1", Role.BUYER), 8),
        (Principal("u", Role.SELLER, shop_id="s0"), 13),
        (Principal("a", Role.ADMIN), 25),
        (Principal("h", Role.HOST), 0),
        (Principal("nobody", Role.BUYER), 0),
        (Principal("p", Role.PARTNER, shops=frozenset({"s0", "s1"})), 25),
        (Principal("p", Role.PARTNER, shops=frozenset({"s1", "s9"})), 12),
        (Principal("p", Role.PARTNER), 0),
    ],
    ids=["buyer", "seller", "admin", "host", "stranger", "partner-both", "partner-one", "partner-none"],
)
async def test_the_list_filter_selects_exactly_what_the_check_allows(sessions, principal, count):
    async with sessions() as s:
        every = list((await s.execute(select(Parcel))).scalars())
        filtered = {p.parcel_id for p in (await s.execute(select(Parcel).where(PARCELS.where(principal)))).scalars()}
    assert filtered == {p.parcel_id for p in every if PARCELS.allows(principal, p)}
    assert len(filtered) == count

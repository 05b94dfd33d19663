"""Tokens and settings: what is refused, and why."""

import time

import jwt
import pytest

from xinren_shared.auth import Role, decode_token, mint_token
from xinren_shared.errors import Unauthorized
from xinren_shared.settings import DEV_JWT_SECRET, ServiceSettings, to_async_url

SECRET = "s" * 40


def test_a_minted_token_decodes_to_its_principal():
    p = decode_token(SECRET, mint_token(SECRET, "u1", "seller", shop_id="shop1"))
    assert (p.sub, p.role, p.shop_id) == ("u1", Role.SELLER, "shop1")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: mint_token(SECRET, "u1", "buyer", ttl_seconds=-10), id="expired"),
        pytest.param(lambda: mint_token("another-secret-" * 3, "u1", "buyer"), id="wrong-signature"),
        pytest.param(
            lambda: jwt.encode({"sub": "u1", "role": "admin", "exp": time.time() + 60}, None, algorithm="none"),
            id="alg-none",
        ),
        pytest.param(lambda: jwt.encode({"sub": "u1", "role": "buyer"}, SECRET, algorithm="HS256"), id="no-expiry"),
        pytest.param(lambda: mint_token(SECRET, "u1", "emperor"), id="unknown-role"),
        pytest.param(lambda: mint_token(SECRET, "u1", "seller"), id="seller-without-shop"),
        pytest.param(lambda: mint_token(SECRET, "u1", "inspector"), id="inspector-without-warehouse"),
        pytest.param(lambda: "not.a.token", id="garbage"),
    ],
)
def test_bad_tokens_are_unauthorized(token):
    with pytest.raises(Unauthorized):
        decode_token(SECRET, token())


def test_a_partner_serves_only_the_shops_and_carriers_it_is_granted():
    token = mint_token(DEV_JWT_SECRET, "acme", "partner", shops=["s1", " s2 "], carriers=["SF", "yto"])
    partner = decode_token(DEV_JWT_SECRET, token)
    assert partner.shops == {"s1", "s2"} and partner.carriers == {"sf", "yto"}
    assert partner.serves_shop("s2") and not partner.serves_shop("s3")
    assert partner.serves_carrier(" Sf ") and not partner.serves_carrier("ZTO")
    # The older single-shop claim still grants that one shop; no claim grants nothing; an admin is granted all.
    legacy = decode_token(DEV_JWT_SECRET, mint_token(DEV_JWT_SECRET, "p2", "partner", shop_id="s9"))
    assert legacy.serves_shop("s9") and not legacy.serves_shop("s1") and not legacy.serves_carrier("SF")
    bare = decode_token(DEV_JWT_SECRET, mint_token(DEV_JWT_SECRET, "p3", "partner", shops="s1"))
    assert bare.shops == frozenset() and not bare.serves_shop("s1")
    admin = decode_token(DEV_JWT_SECRET, mint_token(DEV_JWT_SECRET, "ops", "admin"))
    assert admin.serves_shop("any") and admin.serves_carrier("any")


def test_production_refuses_the_dev_secret():
    with pytest.raises(ValueError, match="JWT secret"):
        ServiceSettings(env="production", jwt_secret=DEV_JWT_SECRET)
    with pytest.raises(ValueError):
        ServiceSettings(env="production", jwt_secret="short")
    assert ServiceSettings(env="production", jwt_secret="x" * 32).env == "production"
    assert ServiceSettings(env="dev").jwt_secret == DEV_JWT_SECRET


def test_database_urls_are_given_the_asyncpg_dialect():
    assert to_async_url("postgresql://u@h:1/db") == "postgresql+asyncpg://u@h:1/db"
    assert to_async_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    with pytest.raises(ValueError):
        to_async_url("mysql://h/db")

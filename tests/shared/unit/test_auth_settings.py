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

"""Credentials under attack: forged, re-signed, unsigned and expired JWTs; weak stored
password hashes; the demo seed's cost. Each test attacks first, then checks the refusal and
that nothing was issued or changed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from sqlalchemy import select, update

from callscope.identity import crypto, passwords
from callscope.identity.crypto import (
    InvalidJwt,
    hash_password,
    jwt_decode,
    jwt_encode,
    needs_rehash,
    verify_password,
)
from callscope.identity.model import IdentityError, OAuthError
from callscope.store.models import App, Device, Extension
from tests.conftest import Server
from tests.helpers.login import request
from tests.security.conftest import PASSWORD, Directory

KEY = b"k" * 32
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any]) -> str:
    """``alg: none``: a JWT anyone can write."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def hs512(claims: dict[str, Any], key: bytes) -> str:
    """Signed with the right key under another algorithm than the one pinned."""
    signing_input = f"{_b64({'alg': 'HS512', 'typ': 'JWT'})}.{_b64(claims)}"
    sig = hmac.new(key, signing_input.encode(), hashlib.sha512).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


def legacy_hash(password: str) -> str:
    """A hash as stored before the parameters were named: scrypt N=2^14, r=8, p=1."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "callscope", "aud": "/restapi/oauth/token", "sub": "42", "jti": "x"} | {
        "iat": now,
        "exp": now + 600,
        **extra,
    }


def decode(token: str) -> dict[str, Any]:
    return jwt_decode(
        token, KEY, audience="/restapi/oauth/token", issuer="callscope", require=("exp",)
    )


# -- JWTs, on the crypto functions -------------------------------------------------------


def _resigned_body(good: str) -> str:
    head, _, sig = good.split(".")
    return f"{head}.{_b64(claims(sub='1'))}.{sig}"  # someone else's extension, old signature


FORGERIES: dict[str, Callable[[], str]] = {
    "alg none": lambda: unsigned(claims()),
    "alg none, capitalised": lambda: f"{_b64({'alg': 'None', 'typ': 'JWT'})}.{_b64(claims())}.",
    "wrong key": lambda: jwt_encode(claims(), b"x" * 32),
    "claims changed after signing": lambda: _resigned_body(jwt_encode(claims(), KEY)),
    "HS512 with the right key": lambda: hs512(claims(), KEY),
    "expired": lambda: jwt_encode(claims(exp=int(time.time()) - 5), KEY),
    "no expiry": lambda: jwt_encode({k: v for k, v in claims().items() if k != "exp"}, KEY),
    "another audience": lambda: jwt_encode(claims(aud="/somewhere/else"), KEY),
    "another issuer": lambda: jwt_encode(claims(iss="evil"), KEY),
    "not a JWT": lambda: "a.b",
    "garbage": lambda: "!!.??.**",
}


@pytest.mark.parametrize("kind", FORGERIES)
def test_forged_jwts_are_refused(kind: str) -> None:
    token = FORGERIES[kind]()
    with pytest.raises(InvalidJwt) as refused:
        decode(token)
    assert refused.value.expired is (kind == "expired")
    assert decode(jwt_encode(claims(), KEY))["sub"] == "42"  # the genuine article passes


def test_a_jwt_with_an_audience_is_refused_where_none_is_expected() -> None:
    token = jwt_encode(claims(), KEY)
    with pytest.raises(InvalidJwt, match="audience"):
        jwt_decode(token, KEY)


def test_short_hmac_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        jwt_encode(claims(), b"short")


# -- password hashes, on the crypto functions --------------------------------------------


def test_new_hashes_name_their_parameters_and_old_ones_still_verify() -> None:
    new = hash_password(PASSWORD)
    assert new.startswith("scrypt$17$8$1$")
    assert verify_password(PASSWORD, new)
    assert not verify_password("wrong", new)
    assert not needs_rehash(new)
    old = legacy_hash(PASSWORD)
    assert verify_password(PASSWORD, old)
    assert not verify_password("wrong", old)
    assert needs_rehash(old)


def test_a_test_suites_lower_cost_is_named_in_its_hashes_and_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(crypto.TEST_LOG2_N_ENV, "10")
    cheap = hash_password(PASSWORD)
    assert cheap.startswith("scrypt$10$8$1$")
    assert verify_password(PASSWORD, cheap)
    assert not needs_rehash(cheap)
    monkeypatch.delenv(crypto.TEST_LOG2_N_ENV)
    assert verify_password(PASSWORD, cheap)  # the stored N is what a check uses
    assert needs_rehash(cheap)  # a production server stores a 2^17 hash at the next login
    for bad in ("9", "18", "ten"):
        monkeypatch.setenv(crypto.TEST_LOG2_N_ENV, bad)
        with pytest.raises(ValueError, match=crypto.TEST_LOG2_N_ENV):
            hash_password(PASSWORD)


@pytest.mark.parametrize(
    "stored",
    [
        "scrypt$30$8$1$00$00",  # 2^30 × 1 KiB: a stored row must not allocate a terabyte
        "scrypt$17$64$1$00$00",
        "scrypt$x$8$1$00$00",
        "scrypt$zz$00",
        "bcrypt$whatever",
        "",
    ],
)
def test_unreadable_stored_hashes_verify_nothing(stored: str) -> None:
    assert not verify_password(PASSWORD, stored)
    assert not needs_rehash(stored)


def test_a_missing_user_costs_one_full_strength_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = hashlib.scrypt

    def counting(password: bytes, **kw: Any) -> bytes:
        seen.append(kw["n"])
        return real(password, **kw)

    monkeypatch.setattr(crypto.hashlib, "scrypt", counting)
    assert not verify_password(PASSWORD, None)
    assert seen == [2**17]


# -- the identity service on a real database ---------------------------------------------


async def _stored_hash(d: Directory) -> str | None:
    async with d.sessions() as s:
        return (
            await s.execute(select(Extension.password_hash).where(Extension.id == d.ext.id))
        ).scalar_one()


async def test_a_login_upgrades_an_old_hash(directory: Directory) -> None:
    d = directory
    old = legacy_hash(PASSWORD)
    async with d.sessions.begin() as s:
        await s.execute(update(Extension).where(Extension.id == d.ext.id).values(password_hash=old))
    # a wrong password proves nothing: the old hash stays
    with pytest.raises(OAuthError):
        await d.identity.grant_password(d.app, "ann@acme.test", None, "wrong")
    assert await _stored_hash(d) == old
    ext = await d.identity.grant_password(d.app, "ann@acme.test", None, PASSWORD)
    assert ext.id == d.ext.id
    upgraded = await _stored_hash(d)
    assert upgraded is not None
    assert upgraded.startswith("scrypt$17$8$1$")
    assert verify_password(PASSWORD, upgraded)
    await d.identity.grant_password(d.app, "ann@acme.test", None, PASSWORD)
    assert await _stored_hash(d) == upgraded  # current hashes are left alone


async def test_a_password_set_during_the_login_is_not_overwritten(directory: Directory) -> None:
    d = directory
    old = legacy_hash(PASSWORD)
    async with d.sessions.begin() as s:
        await s.execute(update(Extension).where(Extension.id == d.ext.id).values(password_hash=old))
    await d.identity.set_password(d.ext.id, "a new one")
    await d.identity._rehash(d.ext.id, old, PASSWORD)  # the login that verified `old`
    stored = await _stored_hash(d)
    assert verify_password("a new one", stored)
    assert not verify_password(PASSWORD, stored)


async def _jwt_grant(d: Directory, assertion: str) -> OAuthError:
    with pytest.raises(OAuthError) as refused:
        await d.identity.grant_jwt(d.app, assertion)
    return refused.value


async def test_expired_and_unexpiring_jwt_credentials_are_refused(directory: Directory) -> None:
    d = directory
    genuine = await d.identity.create_jwt("100", d.ext.id, expires_in_s=3600)
    key = await d.identity.signing_key()
    real = pyjwt.decode(genuine, key, algorithms=["HS256"], audience="/restapi/oauth/token")
    assert real["exp"] == real["iat"] + 3600
    # the same credential (jti) re-signed with the server key but past its expiry
    expired = jwt_encode(real | {"exp": int(time.time()) - 1}, key)
    err = await _jwt_grant(d, expired)
    assert (err.status, err.error, err.code) == (400, "invalid_grant", "OAU-140")
    assert "expired" in err.message
    # a credential as issued before expiries existed: no exp claim
    err = await _jwt_grant(d, jwt_encode({k: v for k, v in real.items() if k != "exp"}, key))
    assert (err.status, err.error) == (400, "invalid_grant")
    assert "'exp'" in err.message
    err = await _jwt_grant(d, unsigned(real))
    assert (err.status, err.error) == (400, "invalid_grant")
    ext, credential_id = await d.identity.grant_jwt(d.app, genuine)
    assert ext.id == d.ext.id
    assert credential_id


@pytest.mark.parametrize("seconds", [0, -1, 11 * 365 * 86_400])
async def test_jwt_lifetimes_out_of_range_are_refused(directory: Directory, seconds: int) -> None:
    with pytest.raises(IdentityError, match="lasts"):
        await directory.identity.create_jwt("100", directory.ext.id, expires_in_s=seconds)


async def test_the_demo_seed_pays_one_hash_and_its_jwt_expires(
    directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = directory
    made: list[str] = []
    real = passwords.hash_password

    def counting(password: str) -> str:
        made.append(password)
        return real(password)

    monkeypatch.setattr(passwords, "hash_password", counting)
    creds = await d.identity.seed_demo()
    assert made == [creds["password"]]
    async with d.sessions() as s:
        hashes = (
            await s.execute(
                select(Extension.password_hash).where(Extension.account_id == creds["accountId"])
            )
        ).scalars()
        assert len(set(hashes)) == 1
    agent = creds["agents"][0]["extensionId"]
    key = await d.identity.signing_key()
    jwt = pyjwt.decode(
        creds["supervisor"]["jwt"], key, algorithms=["HS256"], audience="/restapi/oauth/token"
    )
    assert jwt["exp"] - jwt["iat"] == 30 * 86_400
    # each agent has a JWT of its own, as long-lived
    for a in creds["agents"]:
        claims = pyjwt.decode(a["jwt"], key, algorithms=["HS256"], audience="/restapi/oauth/token")
        assert (claims["sub"], claims["exp"] - claims["iat"]) == (a["extensionId"], 30 * 86_400)
    # the supervisor's web phone, Offline until one connects with its id
    async with d.sessions() as s:
        phone = await s.get(Device, int(creds["supervisor"]["deviceId"]))
    assert phone is not None
    assert (phone.type, phone.status) == ("WebPhone", "Offline")
    assert str(phone.extension_id) == creds["supervisor"]["extensionId"]
    async with d.sessions() as s:
        app = await s.get(App, creds["clientId"])
    assert app is not None
    ext = await d.identity.grant_password(app, "alex@demo.callscope.test", None, creds["password"])
    assert str(ext.id) == agent  # the shared hash logs each of them in


async def test_password_checks_leave_the_event_loop_free(directory: Directory) -> None:
    d = directory
    login = asyncio.ensure_future(d.identity.grant_password(d.app, "ann@acme.test", None, PASSWORD))
    seen = []
    while not login.done():  # this loop runs only while the login's scrypt does not block it
        seen.append(d.identity.passwords.in_flight)
        await asyncio.sleep(0.005)
    assert (await login).id == d.ext.id
    assert max(seen) == 1  # observed from the event loop while the check ran
    assert d.identity.passwords.in_flight == 0


# -- on a real server --------------------------------------------------------------------


def _server_key(server: Server) -> bytes:
    with sqlite3.connect(server.data_dir / "callscope.db") as db:
        (value,) = db.execute("SELECT value FROM server_keys WHERE name = 'jwt'").fetchone()
    return bytes.fromhex(value)


def _tokens(server: Server) -> int:
    with sqlite3.connect(server.data_dir / "callscope.db") as db:
        (n,) = db.execute("SELECT count(*) FROM tokens").fetchone()
    return int(n)


@pytest.mark.slow
async def test_the_token_endpoint_refuses_forged_jwts(server: Server) -> None:
    creds = server.credentials()
    basic = {
        "Authorization": "Basic "
        + base64.b64encode(f"{creds['clientId']}:{creds['clientSecret']}".encode()).decode()
    }
    genuine = creds["supervisor"]["jwt"]
    key = _server_key(server)
    real = pyjwt.decode(genuine, key, algorithms=["HS256"], audience="/restapi/oauth/token")
    admin_ext = creds["supervisor"]["extensionId"]
    forged = {
        "expired": jwt_encode(real | {"exp": int(time.time()) - 1}, key),
        "alg none": unsigned(real),
        "wrong key": jwt_encode(real, secrets.token_bytes(32)),
        "HS512": hs512(real, key),
        "no expiry": jwt_encode({k: v for k, v in real.items() if k != "exp"}, key),
        "other audience": jwt_encode(real | {"aud": "/elsewhere"}, key),
    }
    before = _tokens(server)
    answers = {}
    for kind, assertion in forged.items():
        status, body = await request(
            server,
            "POST",
            "/restapi/oauth/token",
            headers=basic,
            data={"grant_type": JWT_GRANT, "assertion": assertion},
        )
        answers[kind] = (status, body["error"], body["errorCode"])
        if kind == "expired":
            assert "expired" in body["message"]
    assert answers == dict.fromkeys(forged, (400, "invalid_grant", "OAU-140"))
    assert _tokens(server) == before  # nothing was issued
    status, body = await request(
        server,
        "POST",
        "/restapi/oauth/token",
        headers=basic,
        data={"grant_type": JWT_GRANT, "assertion": genuine},
    )
    assert (status, body["owner_id"]) == (200, admin_ext)  # the genuine one still works


def test_the_cli_refuses_nonsense_jwt_lifetimes(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "callscope",
            "admin",
            "jwt",
            "--account",
            "1",
            "--extension",
            "1",
            "--expires-in-days",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--expires-in-days 0" in result.stderr
    assert "1-3650 days" in result.stderr

"""Password guessing against the token endpoint: per-username lockouts, per-address limits,
the bound on password checks in progress, and an event loop that keeps serving meanwhile.

The throttle is driven with a fake clock (no waiting); the endpoint in-process on a real
SQLite database, counting every scrypt that runs; then a real server, from several loopback
source addresses (127.0.0.x are all this machine)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from callscope.api.oauth import OAuthApi
from callscope.identity import crypto
from callscope.identity.passwords import PasswordPool
from callscope.identity.throttle import (
    LoginThrottle,
    Outcome,
    Refusal,
    ThrottleLimits,
    username_key,
)
from callscope.metrics import Registry
from callscope.store.models import Token
from tests.conftest import Server, free_port
from tests.security.conftest import PASSWORD, Directory

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(t: LoginThrottle, ip: str, user: str | None) -> None:
    assert t.admit(ip, user) is None
    t.done(ip, user, Outcome.FAILURE)


# -- the throttle alone ------------------------------------------------------------------


def test_a_username_is_locked_for_growing_times_and_a_success_resets_it() -> None:
    clock = Clock()
    t = LoginThrottle(
        ThrottleLimits(max_failures_per_user=3, lockout_s=30, lockout_max_s=100), clock=clock
    )
    for _ in range(3):
        fail(t, "10.0.0.1", "ann")
    assert t.admit("10.0.0.9", "ann") == Refusal("user_locked", 30)  # from anywhere
    clock.now += 29.5
    assert t.admit("10.0.0.1", "ann") == Refusal("user_locked", 1)
    assert t.admit("10.0.0.1", "bob") is None  # others are not affected
    t.done("10.0.0.1", "bob", Outcome.OTHER)
    locks = []
    for _ in range(3):  # each lockout doubles, up to lockout_max_s
        clock.now += 1000 if not locks else locks[-1]
        for _ in range(3):
            fail(t, "10.0.0.1", "ann")
        refusal = t.admit("10.0.0.1", "ann")
        assert refusal is not None
        locks.append(refusal.retry_after_s)
    assert locks == [30, 60, 100]
    clock.now += 100
    assert t.admit("10.0.0.1", "ann") is None
    t.done("10.0.0.1", "ann", Outcome.SUCCESS)
    for _ in range(3):
        fail(t, "10.0.0.1", "ann")
    assert t.admit("10.0.0.1", "ann") == Refusal("user_locked", 30)  # back to the first step


def test_an_address_is_held_back_until_its_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    t = LoginThrottle(ThrottleLimits(max_failures_per_ip=4, ip_window_s=60), clock=clock)
    for i in range(4):
        fail(t, "10.0.0.1", f"user{i}")
        clock.now += 5
    assert t.admit("10.0.0.1", "someone-new") == Refusal("ip_limited", 40)
    assert t.admit("10.0.0.1", None) == Refusal("ip_limited", 40)  # JWT grants too
    assert t.admit("10.0.0.2", "someone-new") is None
    clock.now += 40
    assert t.admit("10.0.0.1", "someone-new") is None


def test_parallel_guesses_cannot_overshoot_the_limit() -> None:
    t = LoginThrottle(ThrottleLimits(max_failures_per_user=3), clock=Clock())
    fail(t, "a", "ann")
    fail(t, "a", "ann")
    assert t.admit("b", "ann") is None  # the third try is in progress...
    assert t.admit("c", "ann") == Refusal("pending", 1)  # ...so a fourth must wait
    t.done("b", "ann", Outcome.FAILURE)
    assert t.admit("c", "ann") == Refusal("user_locked", 30)
    # a user who has not failed may log in from several places at once
    assert all(t.admit(ip, "bob") is None for ip in "abcdefgh")


def test_sprayed_names_and_addresses_stay_bounded() -> None:
    t = LoginThrottle(ThrottleLimits(max_tracked=50), clock=Clock())
    for i in range(1000):
        fail(t, f"10.0.{i // 250}.{i % 250}", f"user{i}@x.test")
    users, ips = t.tracked
    assert users <= 50
    assert ips <= 50


def test_username_keys_fold_case_and_carry_the_extension() -> None:
    assert username_key(" Ann@Acme.test ") == username_key("ann@acme.test")
    assert username_key("70000001", "101") == username_key("70000001*101")
    assert len(username_key("x" * 10_000)) <= 320


# -- the token endpoint in-process, counting scrypt --------------------------------------


class Scrypts:
    """Counts hashlib.scrypt calls; ``gate`` (when cleared) holds them until set."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()
        self._real = hashlib.scrypt

    def __call__(self, password: bytes, **kw: Any) -> bytes:
        self.calls += 1
        self.gate.wait(30)
        return self._real(password, **kw)


@pytest.fixture
def scrypts(monkeypatch: pytest.MonkeyPatch) -> Iterator[Scrypts]:
    counter = Scrypts()
    monkeypatch.setattr(crypto.hashlib, "scrypt", counter)
    try:
        yield counter
    finally:
        counter.gate.set()


class Endpoint:
    """The token endpoint of an in-process app, with an app's client credentials."""

    def __init__(
        self, client: TestClient[Any, Any], d: Directory, clock: Clock, basic: str
    ) -> None:
        self.client, self.d, self.clock = client, d, clock
        self.headers = {"Authorization": f"Basic {basic}"}

    async def grant(self, **form: str) -> tuple[int, dict[str, Any], Any]:
        async with self.client.post("/restapi/oauth/token", data=form, headers=self.headers) as r:
            return r.status, await r.json(), r.headers

    async def password(self, username: str, password: str) -> tuple[int, dict[str, Any], Any]:
        return await self.grant(grant_type="password", username=username, password=password)

    async def tokens(self) -> int:
        async with self.d.sessions() as s:
            return int((await s.execute(select(func.count()).select_from(Token))).scalar_one())


LIMITS = ThrottleLimits(max_failures_per_user=5, lockout_s=30, max_failures_per_ip=100)


async def _endpoint(d: Directory, limits: ThrottleLimits, clock: Clock) -> AsyncIterator[Endpoint]:
    app = web.Application()
    app.add_routes(OAuthApi(d.identity, LoginThrottle(limits, clock=clock), Registry()).routes())
    async with TestClient(TestServer(app)) as client:
        target, secret = await d.identity.create_app("100", "guessing target")
        basic = base64.b64encode(f"{target.client_id}:{secret}".encode()).decode()
        yield Endpoint(client, d, clock, basic)


@pytest.fixture
async def endpoint(directory: Directory) -> AsyncIterator[Endpoint]:
    async for e in _endpoint(directory, LIMITS, Clock()):
        yield e


def assert_rate_limited(status: int, body: dict[str, Any], headers: Any) -> None:
    assert status == 429, body
    assert int(headers["Retry-After"]) >= 1
    assert body["errorCode"] == "CMN-301"
    assert body["message"] == "Request rate exceeded"
    assert body["errors"] == [{"errorCode": "CMN-301", "message": "Request rate exceeded"}]
    assert body["error"] == "temporarily_unavailable"
    assert body["error_description"] == "Request rate exceeded"


async def test_a_flood_of_guesses_locks_the_username_without_hashing(
    endpoint: Endpoint, scrypts: Scrypts
) -> None:
    answers = [(await endpoint.password("ann@acme.test", f"guess-{i}"))[:2] for i in range(12)]
    assert [status for status, _ in answers] == [400] * 5 + [429] * 7
    assert scrypts.calls == 5  # the seven refused guesses ran no scrypt
    status, body, headers = await endpoint.password("ANN@acme.test", f"guess-{99}")
    assert_rate_limited(status, body, headers)
    assert 1 <= int(headers["Retry-After"]) <= 30
    before = await endpoint.tokens()
    # the right password during the lockout is refused as well, and costs nothing
    status, body, headers = await endpoint.password("ann@acme.test", PASSWORD)
    assert_rate_limited(status, body, headers)
    assert scrypts.calls == 5
    assert await endpoint.tokens() == before
    endpoint.clock.now += 30
    status, body, _ = await endpoint.password("ann@acme.test", PASSWORD)
    assert status == 200, body
    assert scrypts.calls == 6
    # the success reset the count: a wrong guess is an ordinary 400 again
    assert (await endpoint.password("ann@acme.test", "wrong"))[0] == 400


async def test_an_address_guessing_many_names_is_held_back(
    directory: Directory, scrypts: Scrypts
) -> None:
    clock = Clock()
    limits = ThrottleLimits(max_failures_per_ip=4, ip_window_s=60)
    async for endpoint in _endpoint(directory, limits, clock):
        for i in range(4):
            assert (await endpoint.password(f"nobody{i}@acme.test", "guess"))[0] == 400
        assert scrypts.calls == 4  # unknown names cost a dummy hash each
        assert_rate_limited(*await endpoint.password("nobody-else@acme.test", "guess"))
        assert_rate_limited(*await endpoint.password("ann@acme.test", PASSWORD))
        assert scrypts.calls == 4
        clock.now += 60
        status, body, _ = await endpoint.password("ann@acme.test", PASSWORD)
        assert status == 200, body


async def test_jwt_guesses_count_against_the_address(
    directory: Directory, scrypts: Scrypts
) -> None:
    genuine = await directory.identity.create_jwt("100", directory.ext.id)
    head, body, sig = genuine.split(".")
    async for endpoint in _endpoint(directory, ThrottleLimits(max_failures_per_ip=3), Clock()):
        for i in range(3):
            forged = f"{head}.{body}.{sig[:-4]}{i:04d}"
            assert (await endpoint.grant(grant_type=JWT_GRANT, assertion=forged))[0] == 400
        assert_rate_limited(*await endpoint.grant(grant_type=JWT_GRANT, assertion=genuine))
        assert scrypts.calls == 0


async def test_checks_beyond_the_pool_and_its_backlog_are_refused_unhashed(
    directory: Directory, scrypts: Scrypts
) -> None:
    directory.identity.passwords.close()
    pool = directory.identity.passwords = PasswordPool(threads=1, max_queued=1)
    async for endpoint in _endpoint(directory, LIMITS, Clock()):
        scrypts.gate.clear()  # hashes start and wait
        running = asyncio.ensure_future(endpoint.password("nobody1@acme.test", "guess"))
        queued = asyncio.ensure_future(endpoint.password("nobody2@acme.test", "guess"))
        for _ in range(1000):
            if pool.in_flight == 2:
                break
            await asyncio.sleep(0.01)
        assert pool.in_flight == 2
        assert_rate_limited(*await endpoint.password("ann@acme.test", PASSWORD))
        assert scrypts.calls == 1  # one running, one queued, the third not even queued
        scrypts.gate.set()
        assert [(await running)[0], (await queued)[0]] == [400, 400]
        assert scrypts.calls == 2
        status, body, _ = await endpoint.password("ann@acme.test", PASSWORD)
        assert status == 200, body  # refused for being busy is not a failure


# -- a real server -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with a short lockout and a low per-address limit, hashing at the production
    cost: the guessers must find password checks in flight."""
    tmp = tmp_path_factory.mktemp("limits")
    args = ["--login-lockout-s", "3", "--login-max-failures-per-ip", "6"]
    server = Server(tmp / "data", port=free_port(), extra_args=args, production_scrypt=True)
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def post_token(
    server: Server, source: str, form: dict[str, str]
) -> tuple[int, dict[str, Any], Any]:
    """POST /restapi/oauth/token from ``source`` (a 127.0.0.x address) with the demo app."""
    creds = server.credentials()
    raw = f"{creds['clientId']}:{creds['clientSecret']}".encode()
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as s,
        s.post(
            server.http + "/restapi/oauth/token",
            data=form,
            headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
            timeout=aiohttp.ClientTimeout(total=60),
        ) as r,
    ):
        return r.status, await r.json(), r.headers


def login_form(username: str, password: str) -> dict[str, str]:
    return {"grant_type": "password", "username": username, "password": password}


async def metric(server: Server, name: str) -> float:
    async with aiohttp.ClientSession() as s, s.get(server.http + "/metrics") as r:
        text = await r.text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


@pytest.mark.slow
async def test_a_locked_username_waits_out_its_lockout(guarded: Server) -> None:
    server, src = guarded, "127.0.0.2"
    sam, password = server.credentials()["username"], server.credentials()["password"]
    checks = await metric(server, "callscope_password_checks_total")
    for i in range(5):
        assert (await post_token(server, src, login_form(sam, f"guess-{i}")))[0] == 400
    status, body, headers = await post_token(server, src, login_form(sam, password))
    assert_rate_limited(status, body, headers)  # the right password, during the lockout
    for i in range(6):
        assert_rate_limited(*await post_token(server, src, login_form(sam, f"more-{i}")))
    assert await metric(server, "callscope_password_checks_total") == checks + 5
    for _ in range(600):  # the lockout (3 s) ends; refused tries meanwhile do not extend it
        status, body, _ = await post_token(server, src, login_form(sam, password))
        if status != 429:
            break
        await asyncio.sleep(0.1)
    assert status == 200, body
    assert await metric(server, "callscope_password_checks_total") == checks + 6


@pytest.mark.slow
async def test_an_address_over_its_limit_is_held_back_and_others_are_not(
    guarded: Server,
) -> None:
    server = guarded
    alex, password = "alex@demo.callscope.test", server.credentials()["password"]
    for i in range(6):
        form = login_form(f"nobody{i}@demo.callscope.test", "guess")
        assert (await post_token(server, "127.0.0.3", form))[0] == 400
    checks = await metric(server, "callscope_password_checks_total")
    assert_rate_limited(*await post_token(server, "127.0.0.3", login_form("new@x.test", "g")))
    assert_rate_limited(*await post_token(server, "127.0.0.3", login_form(alex, password)))
    assert await metric(server, "callscope_password_checks_total") == checks
    status, body, _ = await post_token(server, "127.0.0.4", login_form(alex, password))
    assert status == 200, body


@pytest.mark.slow
async def test_health_answers_while_eight_guessers_hammer_the_token_endpoint(
    guarded: Server,
) -> None:
    server = guarded
    stop = asyncio.Event()
    answers: list[int] = []

    async def guesser(n: int) -> None:
        for i in range(40):
            if stop.is_set():
                return
            form = login_form(f"guesser{n}@demo.callscope.test", f"guess-{i}")
            answers.append((await post_token(server, f"127.0.1.{n}", form))[0])

    guessers = [asyncio.ensure_future(guesser(n)) for n in range(1, 9)]
    healthy, busy_seen = [], 0.0
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(400):
                async with s.get(server.http + "/health", timeout=aiohttp.ClientTimeout(30)) as r:
                    healthy.append(r.status)
                busy_seen = max(
                    busy_seen, await metric(server, "callscope_password_checks_in_flight")
                )
                if busy_seen and len(healthy) >= 5:
                    break
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.gather(*guessers)
    assert healthy
    assert set(healthy) == {200}
    # /health and /metrics were served while password checks were in progress: the
    # hashing does not hold the event loop
    assert busy_seen >= 1
    assert set(answers) <= {400, 429}

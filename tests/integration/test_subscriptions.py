"""Subscriptions API against a real server, with real WebHook receivers on 127.0.0.1:
the Validation-Token handshake, filter validation (and the filters callscope produces
nothing for, listed in disabledFilters), renewal reminders, the lifecycle, limits and
scoping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from callscope.api.subscriptions import HANDSHAKE_FAILED
from tests.conftest import Server, free_port, serve_local
from tests.helpers.login import Login, assert_rc_error, demo_login, other_account, request
from tests.helpers.wait import until_past

pytestmark = pytest.mark.slow

SUB = "/restapi/v1.0/subscription"
TEL = "/restapi/v1.0/account/~/telephony/sessions"
#: what RingCentral's webhook-notification.py sample subscribes: no events of callscope's
SMS = "/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("subs")
    server = Server(tmp / "data", port=free_port()).start()
    try:
        creds = server.credentials()
        demo = Login(
            server, creds["clientId"], creds["clientSecret"], creds["username"], creds["password"]
        )
        other, other_ext = other_account(server)
        yield {
            "server": server,
            "demo": demo,
            "alex": demo_login(server, "Alex"),
            "other": other,
            "other_ext": other_ext,
        }
    finally:
        server.kill()


class Receiver:
    """A WebHook target on 127.0.0.1 whose handshake answer a test chooses; notifications
    (requests without a Validation-Token) are kept and answered 200."""

    def __init__(self, mode: str = "echo") -> None:
        self.mode = mode
        self.handshakes: list[dict[str, str]] = []
        self.notifications: list[dict[str, Any]] = []
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.Response:
        if "Validation-Token" not in request.headers and self.handshakes:
            self.notifications.append(await request.json())
            return web.json_response({})
        self.handshakes.append(dict(request.headers))
        token = request.headers.get("Validation-Token", "")
        if self.mode == "slow":
            await asyncio.sleep(4)
        if self.mode == "status500":
            return web.Response(status=500)
        if self.mode == "silent":
            return web.json_response({})
        return web.json_response({}, headers={"Validation-Token": token})

    async def __aenter__(self) -> Receiver:
        self.runner = await serve_local(self.port, web.post("/hook", self.handle))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as r:
        yield r


def body(
    address: str, *filters: str, token: str | None = None, expires_in: int | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "eventFilters": list(filters or (TEL,)),
        "deliveryMode": {"transportType": "WebHook", "address": address},
    }
    if token is not None:
        out["deliveryMode"]["verificationToken"] = token
    if expires_in is not None:
        out["expiresIn"] = expires_in
    return out


async def test_a_webhook_subscription_passes_the_handshake_and_lives_its_life(
    world: dict[str, Any], receiver: Receiver
) -> None:
    server: Server = world["server"]
    headers = await world["demo"].headers()
    status, sub = await request(
        server,
        "POST",
        SUB,
        headers=headers,
        json=body(
            receiver.url,
            TEL,
            "/restapi/v1.0/account/~/extension/~/presence?detailedTelephonyState=true",
            token="vt-secret-1",
            expires_in=3600,
        ),
    )
    assert status == 200, sub
    _, me = await request(server, "GET", "/restapi/v1.0/account/~/extension/~", headers=headers)
    assert len(receiver.handshakes) == 1
    assert receiver.handshakes[0]["Validation-Token"]
    assert sub["status"] == "Active"
    assert sub["eventFilters"] == [
        "/restapi/v1.0/account/70000001/telephony/sessions",
        f"/restapi/v1.0/account/70000001/extension/{me['id']}/presence?detailedTelephonyState=true",
    ]
    assert sub["deliveryMode"] == {
        "transportType": "WebHook",
        "encryption": False,
        "address": receiver.url,
    }  # the verificationToken is never echoed
    assert 3590 <= sub["expiresIn"] <= 3600
    assert sub["uri"].endswith(f"{SUB}/{sub['id']}")
    assert len(sub["id"]) == 36

    status, listed = await request(server, "GET", SUB, headers=headers)
    assert status == 200
    assert sub["id"] in [s["id"] for s in listed["records"]]
    status, one = await request(server, "GET", f"{SUB}/{sub['id']}", headers=headers)
    assert (status, one["id"]) == (200, sub["id"])

    status, updated = await request(
        server,
        "PUT",
        f"{SUB}/{sub['id']}",
        headers=headers,
        json={"eventFilters": ["/ai/ringsense/v1/public/accounts/~/domains/pbx/insights"]},
    )
    assert status == 200, updated
    assert updated["eventFilters"] == [
        "/ai/ringsense/v1/public/accounts/70000001/domains/pbx/insights"
    ]
    status, renewed = await request(server, "POST", f"{SUB}/{sub['id']}/renew", headers=headers)
    assert status == 200
    assert renewed["expirationTime"] >= sub["expirationTime"]
    status, renewed = await request(server, "PUT", f"{SUB}/{sub['id']}", headers=headers)
    assert status == 200, renewed  # an empty PUT renews

    # another account cannot see it
    other_headers = await world["other"].headers()
    status, err = await request(server, "GET", f"{SUB}/{sub['id']}", headers=other_headers)
    assert_rc_error(err, 404, status, "CMN-102")
    status, err = await request(server, "DELETE", f"{SUB}/{sub['id']}", headers=other_headers)
    assert_rc_error(err, 404, status, "CMN-102")

    status, _ = await request(server, "DELETE", f"{SUB}/{sub['id']}", headers=headers)
    assert status == 204
    status, err = await request(server, "GET", f"{SUB}/{sub['id']}", headers=headers)
    assert_rc_error(err, 404, status, "CMN-102")


@pytest.mark.parametrize("mode", ["silent", "status500", "slow"])
async def test_a_target_that_fails_the_handshake_gets_no_subscription(
    world: dict[str, Any], mode: str
) -> None:
    server: Server = world["server"]
    headers = await world["demo"].headers()
    _, before = await request(server, "GET", SUB, headers=headers)
    async with Receiver(mode) as r:
        status, err = await request(server, "POST", SUB, headers=headers, json=body(r.url))
        assert len(r.handshakes) == 1
    assert_rc_error(err, 400, status, "SUB-525")
    _, after = await request(server, "GET", SUB, headers=headers)
    assert len(after["records"]) == len(before["records"])


async def test_an_unreachable_target_gets_no_subscription(world: dict[str, Any]) -> None:
    headers = await world["demo"].headers()
    status, err = await request(
        world["server"], "POST", SUB, headers=headers, json=body(f"http://127.0.0.1:{free_port()}/")
    )
    assert_rc_error(err, 400, status, "SUB-525")
    # one message whatever the cause: the caller must not learn which ports answer
    assert err["message"] == HANDSHAKE_FAILED


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"eventFilters": ["/restapi/v1.0/account/~/extension/~/presence?x=1"]}, 400, "SUB-508"),
        ({"eventFilters": ["restapi/v1.0/account/~/extension/~/message-store"]}, 400, "SUB-508"),
        ({"eventFilters": [SMS, "/restapi/v1.0/subscription/~"]}, 400, "SUB-508"),
        ({"eventFilters": []}, 400, "SUB-508"),
        ({"eventFilters": "nope"}, 400, "SUB-508"),
        ({"eventFilters": ["/restapi/v1.0/account/80000001/telephony/sessions"]}, 403, "SUB-406"),
        ({"eventFilters": [SMS.replace("~", "80000001", 1)]}, 403, "SUB-406"),
        # the guide's rule: threshold at most half the lifetime, interval half the threshold
        (
            {
                "eventFilters": ["/restapi/v1.0/subscription/~?threshold=60&interval=15"],
                "expiresIn": 100,
            },
            400,
            "SUB-508",
        ),
        (
            {
                "eventFilters": ["/restapi/v1.0/subscription/~?threshold=1000&interval=600"],
                "expiresIn": 3600,
            },
            400,
            "SUB-508",
        ),
        ({"deliveryMode": {"transportType": "PubNub"}}, 400, "CMN-101"),
        ({"deliveryMode": {"transportType": "WebHook", "address": "ftp://x"}}, 400, "CMN-101"),
        ({"deliveryMode": {"transportType": "WebSocket"}}, 400, "CMN-101"),
        ({"expiresIn": 0}, 400, "CMN-101"),
        ({"expiresIn": "3600"}, 400, "CMN-101"),
    ],
)
async def test_bad_requests_get_ringcentral_errors(
    world: dict[str, Any], receiver: Receiver, payload: dict[str, Any], status: int, code: str
) -> None:
    headers = await world["demo"].headers()
    got, err = await request(
        world["server"], "POST", SUB, headers=headers, json={**body(receiver.url), **payload}
    )
    assert_rc_error(err, status, got, code)
    assert receiver.handshakes == []  # refused before anything was sent to the target


async def test_another_accounts_extension_is_refused(
    world: dict[str, Any], receiver: Receiver
) -> None:
    headers = await world["demo"].headers()
    ext = world["other_ext"]["extensionId"]
    got, err = await request(
        world["server"],
        "POST",
        SUB,
        headers=headers,
        json=body(receiver.url, f"/restapi/v1.0/account/~/extension/{ext}/telephony/sessions"),
    )
    assert_rc_error(err, 403, got, "SUB-406")


async def test_malformed_json_and_no_token(world: dict[str, Any]) -> None:
    server: Server = world["server"]
    headers = await world["demo"].headers()
    got, err = await request(
        server, "POST", SUB, headers={**headers, "Content-Type": "application/json"}, data=b"{"
    )
    assert_rc_error(err, 400, got, "CMN-103")
    got, err = await request(server, "GET", SUB)
    assert_rc_error(err, 401, got, "OAU-123")


async def test_an_expired_subscription_is_gone(world: dict[str, Any], receiver: Receiver) -> None:
    server: Server = world["server"]
    headers = await world["demo"].headers()
    _, sub = await request(
        server, "POST", SUB, headers=headers, json=body(receiver.url, expires_in=1)
    )
    await until_past(sub["expirationTime"], "the expiry")
    got, err = await request(server, "GET", f"{SUB}/{sub['id']}", headers=headers)
    assert_rc_error(err, 404, got, "SUB-507")
    _, listed = await request(server, "GET", SUB, headers=headers)
    assert sub["id"] not in [s["id"] for s in listed["records"]]


async def test_thirty_per_user_and_app(tmp_path: Path, server_factory: type[Server]) -> None:
    server = server_factory(tmp_path / "data").start()
    creds = server.credentials()
    login = Login(
        server, creds["clientId"], creds["clientSecret"], creds["username"], creds["password"]
    )
    headers = await login.headers()
    async with Receiver() as r:
        for _ in range(29):
            got, sub = await request(server, "POST", SUB, headers=headers, json=body(r.url))
            assert got == 200, sub
        # the thirtieth made last, just before the refused one: its short life is not over
        # before that request however slow the twenty-nine before it were
        got, first = await request(
            server, "POST", SUB, headers=headers, json=body(r.url, expires_in=2)
        )
        assert got == 200, first
        got, err = await request(server, "POST", SUB, headers=headers, json=body(r.url))
        assert_rc_error(err, 403, got, "SUB-505")
        await until_past(first["expirationTime"], "the first one's expiry")  # no longer counts
        got, sub = await request(server, "POST", SUB, headers=headers, json=body(r.url))
        assert got == 200, sub
        got, err = await request(server, "POST", SUB, headers=headers, json=body(r.url))
        assert_rc_error(err, 403, got, "SUB-505")
        assert len(r.handshakes) == 31


async def test_filters_callscope_does_not_produce_are_disabled_and_the_rest_kept(
    world: dict[str, Any], receiver: Receiver
) -> None:
    server: Server = world["server"]
    headers = await world["demo"].headers()
    status, sub = await request(
        server, "POST", SUB, headers=headers, json=body(receiver.url, SMS, TEL)
    )
    assert status == 200, sub
    assert sub["eventFilters"] == ["/restapi/v1.0/account/70000001/telephony/sessions"]
    (disabled,) = sub["disabledFilters"]
    assert (disabled["filter"], disabled["reason"]) == (SMS, "NotSupported")
    assert "produces no events" in disabled["message"]
    _, again = await request(server, "GET", f"{SUB}/{sub['id']}", headers=headers)
    assert (again["eventFilters"], again["disabledFilters"]) == (
        sub["eventFilters"],
        sub["disabledFilters"],
    )

    # every filter unsupported: still created, with each listed as disabled
    status, only = await request(
        server,
        "POST",
        SUB,
        headers=headers,
        json=body(receiver.url, SMS, "/restapi/v1.0/account/~/extension/~/voicemail"),
    )
    assert status == 200, only
    assert only["eventFilters"] == []
    assert [d["filter"] for d in only["disabledFilters"]] == [
        SMS,
        "/restapi/v1.0/account/~/extension/~/voicemail",
    ]
    # and a PUT can give it one that delivers
    status, updated = await request(
        server, "PUT", f"{SUB}/{only['id']}", headers=headers, json={"eventFilters": [TEL]}
    )
    assert status == 200, updated
    assert updated["eventFilters"] == ["/restapi/v1.0/account/70000001/telephony/sessions"]
    assert "disabledFilters" not in updated
    for s in (sub, only):
        await request(server, "DELETE", f"{SUB}/{s['id']}", headers=headers)


async def test_a_renewal_reminder_reaches_the_subscriptions_own_target(
    world: dict[str, Any], receiver: Receiver
) -> None:
    server: Server = world["server"]
    headers = await world["demo"].headers()
    reminder = "/restapi/v1.0/subscription/~?threshold=4&interval=2"
    _, sub = await request(
        server,
        "POST",
        SUB,
        headers=headers,
        json=body(receiver.url, TEL, reminder, expires_in=8),
    )
    assert sub["eventFilters"] == ["/restapi/v1.0/account/70000001/telephony/sessions", reminder]
    async with Receiver() as bystander:  # another subscription of the same user: not its own
        _, other = await request(
            server, "POST", SUB, headers=headers, json=body(bystander.url, TEL, expires_in=600)
        )
        for _ in range(200):
            if receiver.notifications:
                break
            await asyncio.sleep(0.1)
        first = receiver.notifications[0]
        assert first["event"] == reminder  # as subscribed: the samples compare it so
        assert first["subscriptionId"] == sub["id"]
        assert 0 <= first["body"]["expiresIn"] <= 4
        assert first["body"]["expirationTime"] == sub["expirationTime"]
        assert bystander.notifications == []
        await request(server, "DELETE", f"{SUB}/{other['id']}", headers=headers)


async def test_presence_filters_need_the_permission_of_their_reads(
    world: dict[str, Any], receiver: Receiver
) -> None:
    server: Server = world["server"]
    alex = await world["alex"].headers()
    _, users = await request(server, "GET", "/restapi/v1.0/account/~/extension", headers=alex)
    blair = next(u["id"] for u in users["records"] if u["extensionNumber"] == "103")
    for f, permission in (
        ("/restapi/v1.0/account/~/presence", "ReadPresence"),
        ("/restapi/v1.0/account/~/telephony/sessions", "ReadCallLog"),
        (f"/restapi/v1.0/account/~/extension/{blair}/presence", "ReadPresence"),
        (f"/restapi/v1.0/account/~/extension/{blair}/presence/line/presence", "ReadPresence"),
    ):
        got, err = await request(server, "POST", SUB, headers=alex, json=body(receiver.url, f))
        assert_rc_error(err, 403, got, "CMN-408")
        assert err["errors"][0]["permissionName"] == permission
    # the lines it monitors itself, and a reminder, any extension may have
    got, sub = await request(
        server,
        "POST",
        SUB,
        headers=alex,
        json=body(
            receiver.url,
            "/restapi/v1.0/account/~/extension/~/presence/line/presence",
            "/restapi/v1.0/subscription/~?threshold=3600&interval=600",
            SMS,
        ),
    )
    assert got == 200, sub
    assert len(sub["eventFilters"]) == 2
    await request(server, "DELETE", f"{SUB}/{sub['id']}", headers=alex)
    # an admin may have both account presence and another extension's lines
    headers = await world["demo"].headers()
    got, sub = await request(
        server,
        "POST",
        SUB,
        headers=headers,
        json=body(
            receiver.url,
            "/restapi/v1.0/account/~/presence?detailedTelephonyState=true",
            f"/restapi/v1.0/account/~/extension/{blair}/presence/line/presence",
        ),
    )
    assert got == 200, sub
    assert sub["eventFilters"] == [
        "/restapi/v1.0/account/70000001/presence?detailedTelephonyState=true",
        f"/restapi/v1.0/account/70000001/extension/{blair}/presence/line/presence",
    ]
    await request(server, "DELETE", f"{SUB}/{sub['id']}", headers=headers)

"""Server-side request forgery through WebHook subscriptions, attacked through a real server.

Any token holder chooses a subscription's address. Each attack is made first, then the
refusal is checked, then that nothing was stored (the caller's list is unchanged) and
nothing was sent (receivers on 127.0.0.1 count every request they get). ``strict`` runs
with the default policy (public targets only); ``lab`` allows private targets, as
``callscope demo`` does, to show what stays refused even there and what a reachable target
can still not make the server do (follow a redirect, read an endless reply).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from callscope.api.subscriptions import HANDSHAKE_FAILED, NOT_PUBLIC, OWN_SERVER
from tests.conftest import Server, free_port, serve_local
from tests.helpers.login import assert_rc_error, request
from tests.helpers.runner import start_simulate
from tests.helpers.wait import until

pytestmark = pytest.mark.slow

SUB = "/restapi/v1.0/subscription"
TEL = "/restapi/v1.0/account/~/telephony/sessions"
FAST_RETRY = ["--events-retry-initial-s", "0.1", "--events-retry-max-s", "0.4"]
#: what a receiver offers to send in reply to one notification
HUGE_BYTES = 256 << 20


class Target:
    """A WebHook receiver on 127.0.0.1 that counts every request.

    ``mode``: ``echo`` passes the handshake and answers notifications 200; ``redirect``
    passes the handshake and answers notifications 302 to ``location``;
    ``redirect-handshake`` answers the handshake 302; ``status404``; ``silent`` answers
    200 without echoing; ``slow`` answers after the handshake timeout; ``huge`` passes the
    handshake and answers notifications 200 with a body of ``HUGE_BYTES``.
    """

    def __init__(self, mode: str = "echo", location: str = "") -> None:
        self.mode = mode
        self.location = location
        self.port = free_port()
        self.requests = 0
        self.notifications: list[dict[str, Any]] = []
        #: bytes of each huge reply written before the server stopped reading
        self.sent: list[int] = []
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        token = request.headers.get("Validation-Token")
        if token is None:  # a notification (or a redirect followed: any method counts)
            if request.can_read_body:
                self.notifications.append(await request.json())
            if self.mode == "redirect":
                return web.Response(status=302, headers={"Location": self.location})
            if self.mode == "huge":
                return await self._huge(request)
            return web.json_response({})
        if self.mode == "redirect-handshake":
            return web.Response(status=302, headers={"Location": self.location})
        if self.mode == "status404":
            return web.Response(status=404)
        if self.mode == "silent":
            return web.json_response({})
        if self.mode == "slow":
            await asyncio.sleep(4)  # the handshake waits 3 s
        return web.json_response({}, headers={"Validation-Token": token})

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = HUGE_BYTES
        await response.prepare(request)
        chunk = b"x" * (64 << 10)
        sent = 0
        try:
            while sent < HUGE_BYTES:
                await response.write(chunk)
                sent += len(chunk)
        except ConnectionError:
            pass  # the server closed the connection: what it did not read, it never will
        finally:
            self.sent.append(sent)
        return response

    async def __aenter__(self) -> Target:
        # every method: a followed 302 turns the POST into a GET
        self.runner = await serve_local(self.port, web.route("*", "/hook", self.handle))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def hook(address: str, token: str | None = None) -> dict[str, Any]:
    mode: dict[str, Any] = {"transportType": "WebHook", "address": address}
    if token is not None:
        mode["verificationToken"] = token
    return {"eventFilters": [TEL], "deliveryMode": mode}


async def subscriptions(server: Server) -> list[str]:
    status, listed = await request(server, "GET", SUB, headers=server.headers)
    assert status == 200, listed
    return [s["id"] for s in listed["records"]]


async def run_calls(server: Server) -> None:
    """One short simulated call: its telephony events go to the subscriptions."""
    proc = start_simulate(server, "--speed", "20", "--max-frames", "50")
    assert await proc.ended(60) == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("strict") / "data", webhook_private=False).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # DEBUG: the access log shows every request the server receives
    server = Server(
        tmp_path_factory.mktemp("lab") / "data",
        webhook_private=True,
        extra_args=[*FAST_RETRY, "--log-level", "DEBUG"],
    ).start()
    try:
        yield server
    finally:
        server.kill()


# -- non-public targets ------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "http://127.0.0.1:{port}/hook",
        "http://localhost:{port}/hook",
        "http://LOCALHOST:{port}/hook",
        "http://[::1]:{port}/hook",
        "http://127.1:{port}/hook",
        "http://2130706433:{port}/hook",  # decimal
        "http://0x7f000001:{port}/hook",  # hex: resolved by getaddrinfo, then refused
        "http://0x7f.0.0.1:{port}/hook",
        "http://0177.0.0.1:{port}/hook",  # octal
        "http://127.0.0.1.:{port}/hook",
        "http://①②⑦.0.0.1:{port}/hook",  # IDNA-normalized to 127.0.0.1
        "http://0.0.0.0:{port}/hook",  # reaches loopback on Linux
        "http://[::]:{port}/hook",
        "http://[::ffff:127.0.0.1]:{port}/hook",  # IPv4-mapped
        "http://[::ffff:7f00:1]:{port}/hook",
        "http://[::127.0.0.1]:{port}/hook",  # IPv4-compatible
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[fe80::1]/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://10.0.0.1/",
        "http://172.16.5.4:8080/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # CGNAT
        "http://[fd00::1]/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
    ],
)
async def test_non_public_targets_are_refused_and_nothing_is_sent(
    strict: Server, address: str
) -> None:
    async with Target() as target:
        status, err = await request(
            strict, "POST", SUB, headers=strict.headers, json=hook(address.format(port=target.port))
        )
        assert_rc_error(err, 400, status, "CMN-101")
        assert err["message"] == NOT_PUBLIC
        assert "events_webhook_allow_private" in err["message"]
        assert err["errors"][0]["parameterName"] == "deliveryMode.address"
        assert await subscriptions(strict) == []
        assert target.requests == 0


async def test_the_servers_own_port_is_refused_even_in_a_lab(lab: Server) -> None:
    before = await subscriptions(lab)
    for n, host in enumerate(["127.0.0.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"]):
        address = f"http://{host}:{lab.port}/ssrf-probe-{n}"
        status, err = await request(lab, "POST", SUB, headers=lab.headers, json=hook(address))
        assert_rc_error(err, 400, status, "CMN-101")
        assert err["message"] == OWN_SERVER
    assert await subscriptions(lab) == before
    # nothing was sent: the access log shows a request we make ourselves, and no probe
    await request(lab, "GET", "/ssrf-control")
    await until(lambda: "/ssrf-control" in lab.log(), 60, "the control request is logged")
    assert "/ssrf-probe" not in lab.log()


async def test_a_refused_stored_target_gets_nothing_at_delivery(
    server_factory: type[Server], tmp_path: Path
) -> None:
    """Checked at every delivery, not only at creation: a subscription made while private
    targets were allowed (or a name that pointed elsewhere then) receives nothing once its
    address is refused."""
    data = tmp_path / "data"
    async with Target() as target:
        first = server_factory(data).start()  # private targets allowed
        status, sub = await request(
            first, "POST", SUB, headers=first.headers, json=hook(target.url)
        )
        assert status == 200, sub
        assert target.requests == 1  # the handshake
        first.stop()
        second = server_factory(data, webhook_private=False).start()
        await run_calls(second)
        await until(
            lambda: f"subscription {sub['id']}: delivery failed (refused:" in second.log(),
            60,
            "a refused delivery",
        )
        assert target.requests == 1
        assert target.notifications == []


# -- what a reachable target can still not make the server do -----------------------------


async def test_the_handshake_does_not_follow_a_redirect(lab: Server) -> None:
    before = await subscriptions(lab)
    async with Target() as inside, Target("redirect-handshake", location=inside.url) as a:
        status, err = await request(lab, "POST", SUB, headers=lab.headers, json=hook(a.url))
        assert_rc_error(err, 400, status, "SUB-525")
        assert a.requests == 1
        assert inside.requests == 0
    assert await subscriptions(lab) == before


async def test_a_delivery_does_not_follow_a_redirect(lab: Server) -> None:
    async with Target() as inside, Target("redirect", location=inside.url) as a:
        status, sub = await request(lab, "POST", SUB, headers=lab.headers, json=hook(a.url))
        assert status == 200, sub
        try:
            await run_calls(lab)
            # the first notification is sent again: the 302 was a failed delivery
            await until(lambda: len(a.notifications) >= 2, 60, "a retried notification")
            assert a.notifications[1]["uuid"] == a.notifications[0]["uuid"]
            assert inside.requests == 0
        finally:
            await request(lab, "DELETE", f"{SUB}/{sub['id']}", headers=lab.headers)


async def test_a_huge_reply_is_not_read_to_its_end(lab: Server) -> None:
    async with Target("huge") as target:
        status, sub = await request(lab, "POST", SUB, headers=lab.headers, json=hook(target.url))
        assert status == 200, sub
        try:
            await run_calls(lab)
            # a call's four events, each answered with 256 MiB: all delivered, in order
            await until(lambda: len(target.sent) >= 4, 60, "four notifications answered")
            codes = [n["body"]["parties"][0]["status"]["code"] for n in target.notifications]
            assert codes[:4] == ["Setup", "Proceeding", "Answered", "Disconnected"]
            # the server read 64 KiB of each; what the receiver could write besides is what
            # the sockets' buffers hold
            assert max(target.sent) < 32 << 20, target.sent
            status, _ = await request(lab, "GET", "/health")
            assert status == 200
        finally:
            await request(lab, "DELETE", f"{SUB}/{sub['id']}", headers=lab.headers)


# -- what the API caller learns -----------------------------------------------------------


async def test_every_handshake_failure_gets_the_same_message(lab: Server) -> None:
    before = await subscriptions(lab)
    messages: set[str] = set()
    async with contextlib.AsyncExitStack() as stack:
        targets = [
            await stack.enter_async_context(Target(mode))
            for mode in ("status404", "silent", "slow")
        ]
        addresses = [
            f"http://127.0.0.1:{free_port()}/hook?secret=s3cr3t",  # nothing listens there
            "http://no-such-host.invalid/hook",  # the name does not resolve
            *(f"{t.url}?secret=s3cr3t" for t in targets),
        ]
        for address in addresses:
            status, err = await request(
                lab, "POST", SUB, headers=lab.headers, json=hook(address, token="vt-s3cr3t")
            )
            assert_rc_error(err, 400, status, "SUB-525")
            messages.add(err["message"])
        assert [t.requests for t in targets] == [1, 1, 1]
    assert messages == {HANDSHAKE_FAILED}
    assert await subscriptions(lab) == before
    # the server log says what happened, without the address's path or the token
    log = lab.log()
    for reason in (
        "the target could not be reached",
        "the target answered HTTP 404",
        "did not echo the Validation-Token",
        "did not answer within 3 s",
    ):
        assert reason in log
    assert "s3cr3t" not in log

"""Revocation that bites: a revoked token, a changed password, a disabled extension or a
revoked JWT credential ends the sockets those sessions opened (web phone, transcript,
``/ws``) within a second or so, and the latter two also stop the user's subscriptions.
Changes made with ``callscope admin`` beside the running server take effect too."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from callscope.api.revocation import CLOSE_REVOKED, OpenSockets, _Open
from callscope.identity.model import AuthContext
from tests.conftest import Server, make_stereo_fixture
from tests.helpers.login import admin_cli, demo_login, request
from tests.helpers.phone import Phone
from tests.helpers.receiver import Receiver
from tests.helpers.runner import start_simulate
from tests.helpers.wait import until
from tests.security.conftest import Directory


class Sockets:
    """A user's open sockets: a web phone and a ``/ws`` gateway connection (and, when a call
    is live, its transcript socket), all opened with one access token."""

    def __init__(self, server: Server, token: str) -> None:
        self.server = server
        self.token = token
        self.http = aiohttp.ClientSession()
        self.phone = Phone(server, token)
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.transcript: aiohttp.ClientWebSocketResponse | None = None

    async def open(self, call_id: str | None = None) -> Sockets:
        await self.phone.connect()
        _, wst = await request(
            self.server,
            "POST",
            "/restapi/oauth/wstoken",
            headers={"Authorization": f"Bearer {self.token}"},
            json={},
        )
        self.ws = await self.http.ws_connect(f"{wst['uri']}?access_token={wst['ws_access_token']}")
        await self.ws.receive(timeout=10)  # ConnectionDetails
        if call_id is not None:
            self.transcript = await self.http.ws_connect(
                f"ws://127.0.0.1:{self.server.port}/calls/{call_id}/transcript/ws",
                params={"access_token": self.token},
            )
            await self.transcript.receive(timeout=10)  # the snapshot
        return self

    def all(self) -> list[aiohttp.ClientWebSocketResponse]:
        assert self.phone.ws is not None
        assert self.ws is not None
        return [s for s in (self.phone.ws, self.ws, self.transcript) if s is not None]

    async def closed_by_server(self, within_s: float = 30.0) -> list[int | str | None]:
        """Wait (bounded) until the server closed every socket, reading them all at once;
        their close codes ("open" for one still open when the time was up).

        A code is the one in the close frame the server sent: a server closing a socket from
        another task than its reader drops the connection right after that frame, and the
        client's reply may then fail to write, which aiohttp reports as 1006 over the code it
        received."""
        assert self.ws is not None
        sent: dict[int, int] = {}

        async def drained(ws: aiohttp.ClientWebSocketResponse) -> None:
            while not ws.closed:
                msg = await ws.receive()
                if msg.type is aiohttp.WSMsgType.CLOSE:
                    sent[id(ws)] = msg.data

        readers = [drained(s) for s in (self.ws, self.transcript) if s is not None]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_s):
                await asyncio.gather(*readers)
                await until(
                    lambda: self.phone.ws is not None and self.phone.ws.closed, within_s, "phone"
                )
        return [sent.get(id(s), s.close_code) if s.closed else "open" for s in self.all()]

    async def still_open(self) -> bool:
        await asyncio.sleep(1.5)  # three revocation polls
        return not any(s.closed for s in self.all())

    async def close(self) -> None:
        await self.phone.close()
        for s in (self.ws, self.transcript):
            if s is not None:
                await s.close()
        await self.http.close()


@contextlib.asynccontextmanager
async def opened(server: Server, token: str, call_id: str | None = None) -> AsyncIterator[Sockets]:
    sockets = await Sockets(server, token).open(call_id)
    try:
        yield sockets
    finally:
        await sockets.close()


async def refused(server: Server, token: str) -> bool:
    status, _ = await request(
        server,
        "GET",
        "/restapi/v1.0/account/~/extension/~",
        headers={"Authorization": f"Bearer {token}"},
    )
    return status == 401


@pytest.mark.slow
async def test_revoking_a_token_closes_its_sockets_and_only_its_own(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data", asr=True).start()
    source = tmp_path / "long.wav"
    make_stereo_fixture(source, seconds=30.0)
    sim = start_simulate(server, "--source", str(source), "--speed", "1")
    try:
        calls: list[dict[str, Any]] = []

        async def live() -> None:
            for _ in range(200):
                _, body = await request(server, "GET", "/calls?status=live", headers=server.headers)
                calls[:] = body["records"]
                if calls:
                    return
                await asyncio.sleep(0.1)

        await live()
        assert calls, "the call did not start"
        sam = demo_login(server, "Sam")
        one, two = (await sam.token())["access_token"], (await sam.token())["access_token"]
        async with opened(server, one, calls[0]["id"]) as first, opened(server, two) as second:
            form = {"token": one}
            status, _ = await request(
                server, "POST", "/restapi/oauth/revoke", headers=sam.basic, data=form
            )
            assert status == 200
            codes = await first.closed_by_server()
            said = [line for line in server.log().splitlines() if "socket" in line]
            assert codes == [CLOSE_REVOKED] * 3, said
            assert await refused(server, one)
            # the same user's other session is untouched
            assert await second.still_open()
            assert not await refused(server, two)
    finally:
        sim.kill()
        await sim.ended()


@pytest.mark.slow
async def test_admin_cli_changes_bite_on_a_running_server(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    _, users = await request(
        server, "GET", "/restapi/v1.0/account/~/extension", headers=server.headers
    )
    ids = {u["extensionNumber"]: u["id"] for u in users["records"]}
    receiver = await Receiver().start()
    try:
        # A password change (Blair, ext 103): sockets closed, subscriptions stopped.
        blair = demo_login(server, "Blair")
        token = (await blair.token())["access_token"]
        status, sub = await request(
            server,
            "POST",
            "/restapi/v1.0/subscription",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "eventFilters": ["/restapi/v1.0/account/~/extension/~/presence"],
                "deliveryMode": {"transportType": "WebHook", "address": receiver.url},
            },
        )
        assert status == 200, sub
        async with opened(server, token) as sockets:
            admin_cli(
                server.data_dir,
                "password",
                "--extension",
                str(ids["103"]),
                "--password",
                "new-pw-9",
            )
            assert await sockets.closed_by_server() == [CLOSE_REVOKED] * 2
        assert await refused(server, token)
        blair.password = "new-pw-9"
        fresh = await blair.headers()
        status, listed = await request(server, "GET", "/restapi/v1.0/subscription", headers=fresh)
        assert (status, listed["records"]) == (200, [])

        # Disabling an extension (Alex, ext 102): sockets closed, no new sign-in.
        alex = demo_login(server, "Alex")
        token = (await alex.token())["access_token"]
        async with opened(server, token) as sockets:
            admin_cli(server.data_dir, "extension", "--disable", str(ids["102"]))
            assert await sockets.closed_by_server() == [CLOSE_REVOKED] * 2
        assert await refused(server, token)
        status, body = await request(
            server,
            "POST",
            "/restapi/oauth/token",
            headers=alex.basic,
            data={"grant_type": "password", "username": alex.username, "password": alex.password},
        )
        assert status == 400, body
        assert "Disabled" in body["message"]

        # Revoking a JWT credential: the sessions its grant opened end.
        made = admin_cli(
            server.data_dir, "jwt", "--account", "70000001", "--extension", str(ids["101"])
        )
        creds = server.credentials()
        basic = base64.b64encode(f"{creds['clientId']}:{creds['clientSecret']}".encode()).decode()
        grant = {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": made["jwt"],
        }
        status, body = await request(
            server,
            "POST",
            "/restapi/oauth/token",
            headers={"Authorization": f"Basic {basic}"},
            data=grant,
        )
        assert status == 200, body
        token = body["access_token"]
        password_token = server.headers["Authorization"][7:]  # Sam's other session
        async with opened(server, token) as sockets, opened(server, password_token) as other:
            admin_cli(server.data_dir, "jwt", "--revoke", made["credentialId"])
            assert await sockets.closed_by_server() == [CLOSE_REVOKED] * 2
            assert await other.still_open()
        assert await refused(server, token)
        status, body = await request(
            server,
            "POST",
            "/restapi/oauth/token",
            headers={"Authorization": f"Basic {basic}"},
            data=grant,
        )
        assert status == 400, body
    finally:
        await receiver.stop()


# -- the rules, on a real database and a real socket ----------------------------------------


@contextlib.asynccontextmanager
async def tracked_socket(sockets: OpenSockets, auth: AuthContext) -> AsyncIterator[int | None]:
    """A WebSocket on 127.0.0.1 registered with ``auth`` the way the server's sockets are;
    yields the close code the client saw within 3 s (None: still open)."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async with sockets.track(auth, ws, "test"):
            if not ws.closed:
                await ws.send_str("open")
                await ws.receive()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(f"http://127.0.0.1:{port}/ws") as ws,
        ):
            msg = await ws.receive(timeout=3)
            yield ws.close_code if msg.type is aiohttp.WSMsgType.CLOSE else None
    finally:
        await runner.cleanup()


async def test_a_socket_registered_after_its_session_ended_closes_at_once(
    directory: Directory,
) -> None:
    """The gap between a socket's check and its registration: the watcher has already read
    the revocation and found nothing to close, so the registration itself must see it."""
    d = directory
    token = (await d.identity.issue(d.app, d.ext))["access_token"]
    auth = await d.identity.resolve(token)  # the socket's check passes
    await d.identity.revoke(token)  # ... and the session ends before it is registered
    sockets = OpenSockets(d.identity.session_ended)
    async with tracked_socket(sockets, auth) as code:
        assert code == CLOSE_REVOKED
    # a live session's socket opens and stays open
    live = await d.identity.resolve((await d.identity.issue(d.app, d.ext))["access_token"])
    async with tracked_socket(sockets, live) as code:
        assert code is None


async def test_a_refresh_keeps_the_session_a_password_change_ends_only_older_ones(
    directory: Directory,
) -> None:
    d = directory
    first = await d.identity.issue(d.app, d.ext)
    before = await d.identity.resolve(first["access_token"])
    # a refresh spends the old pair before it issues the new one: the session goes on
    _, session_id = await d.identity.grant_refresh(d.app, first["refresh_token"])
    assert session_id == before.session_id
    assert not await d.identity.session_ended(before)
    await d.identity.set_password(d.ext.id, "a brand new passphrase")
    assert await d.identity.session_ended(before)
    after = await d.identity.resolve((await d.identity.issue(d.app, d.ext))["access_token"])
    assert not await d.identity.session_ended(after)
    # the watcher closes the older session's socket, not the one signed in after the change
    sockets = OpenSockets(d.identity.session_ended)
    rows = await d.identity.revocations_after(0)
    assert [r.reason for r in rows] == ["password"]
    with_before, with_after = object(), object()
    sockets.by_extension[d.ext.id] = {
        _Open(before, with_before, "old"),  # type: ignore[arg-type]
        _Open(after, with_after, "new"),  # type: ignore[arg-type]
    }
    assert [e.ws for e in sockets.matching(rows[0])] == [with_before]
    await d.identity.set_extension_status(d.ext.id, "Disabled")
    assert await d.identity.session_ended(after)

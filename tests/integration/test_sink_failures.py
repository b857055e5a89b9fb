"""A consumer of a call's audio that fails mid-call is isolated: counted, detached, never
called again; a failed recording ends the call through the normal path with the real reason
(its row says so, it leaves the live calls), a failed supervision tap ends that supervision
and the call goes on.

The server runs in this process (the real application on 127.0.0.1, the real simulator as
the sender) so that the recording writer can be made to fail as a full disk makes it fail.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from callscope.app import COMPONENTS, build_app
from callscope.config import Settings
from callscope.errors import RecordingError
from callscope.media.wav import WavWriter
from callscope.supervision import router
from tests.conftest import Server, free_port, make_stereo_fixture
from tests.helpers.login import request
from tests.helpers.phone import Phone, extensions, monitoring_group, supervise
from tests.helpers.runner import call_options, live_session, start_call
from tests.helpers.wait import until

pytestmark = [
    pytest.mark.slow,
    # the server runs in this process: aiohttp's advice on request keys (a server started
    # as `callscope serve` runs without warnings as errors) must not fail its requests
    pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning"),
]

#: 20 ms blocks the recording takes before its disk is full
FULL_AFTER_FRAMES = 100


class FullDisk(WavWriter):
    """A recording on a disk that fills up: what ``os.write`` raises then (ENOSPC), through
    the writer's own error translation; every call after the failure is counted."""

    calls_after_full = 0

    def write_interleaved(self, data: bytes) -> None:
        if self.frames >= FULL_AFTER_FRAMES:
            FullDisk.calls_after_full += 1
            exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            raise RecordingError(f"cannot write recording {self.path}: {exc}") from exc
        super().write_interleaved(data)


@pytest.fixture
async def local_server(tmp_path: Path) -> AsyncIterator[Server]:
    """The real application, served from this process on 127.0.0.1."""
    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "data", port=port, asr_workers=0, ingest_idle_timeout_s=2.0
    )
    app = build_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    app[COMPONENTS].lifecycle.serving()
    server = Server(tmp_path / "data", port=port)
    creds = server.credentials()
    async with aiohttp.ClientSession() as http:
        form = {
            "grant_type": "password",
            "username": creds["username"],
            "password": creds["password"],
        }
        basic = base64.b64encode(f"{creds['clientId']}:{creds['clientSecret']}".encode())
        headers = {"Authorization": f"Basic {basic.decode()}"}
        async with http.post(server.http + "/restapi/oauth/token", data=form, headers=headers) as r:
            server._token = (await r.json())["access_token"]
    try:
        yield server
    finally:
        await runner.cleanup()


async def until_async(
    check: Callable[[], Awaitable[Any]], timeout: float = 30.0, what: str = ""
) -> Any:
    """``until`` for a check that asks the server (awaits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"not met within {timeout} s: {what}")


async def metric(server: Server, line_start: str) -> float:
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.http + "/metrics", headers=server.headers) as r,
    ):
        text = await r.text()
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def call_row(server: Server, call_id: str) -> dict[str, Any]:
    status, row = await request(server, "GET", f"/calls/{call_id}", headers=server.headers)
    assert status == 200, row
    return row


async def test_a_recording_that_fails_mid_call_ends_the_call_with_the_real_reason(
    local_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = local_server
    monkeypatch.setattr("callscope.ingest.live_call.WavWriter", FullDisk)
    FullDisk.calls_after_full = 0
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=20.0)
    result = await asyncio.wait_for(start_call(call_options(server, source, two_way=False)), 30)
    # The server closed the stream (1011) long before the 20 s of audio were sent.
    assert result.close_code == 1011, (result.status, result.close_code, result.close_reason)
    assert result.close_reason == "recording failed"

    async def ended() -> dict[str, Any] | None:
        _, calls = await request(server, "GET", "/calls", headers=server.headers)
        rows = [c for c in calls["records"] if c["status"] != "live"]
        return rows[0] if rows else None

    row = await until_async(ended, what="the call row ends")
    assert row["status"] == "abandoned"
    assert "recording failed" in row["endReason"]
    assert "No space left on device" in row["endReason"]
    # unregister ran: the call left the live calls, the failure was counted once
    assert await metric(server, "callscope_live_calls ") == 0
    assert await metric(server, 'callscope_sink_failures_total{sink="recording"}') == 1
    assert await metric(server, 'callscope_calls_total{status="abandoned"}') == 1
    # the failed sink was detached: never called again, not even by the final flush
    assert FullDisk.calls_after_full == 1


async def test_a_supervision_tap_that_fails_ends_that_supervision_only(
    local_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = local_server
    exts = await extensions(server)
    await monitoring_group(server, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=4.0)
    phone = await Phone(server, server.headers["Authorization"][7:]).connect()
    try:
        call = start_call(call_options(server, source, two_way=False))
        sid = (await live_session(server, exts["102"]))["telephonySessionId"]
        body = {"mode": "Listen", "supervisorDeviceId": phone.device_id}
        status, party = await supervise(server, sid, {**body, "agentExtensionNumber": "102"})
        assert status == 201, party
        await until(lambda: phone.audio, what="supervision audio")

        def broken(*_: Any) -> bytes:
            raise MemoryError("no memory for a listen frame")

        monkeypatch.setattr(router, "listen_frame", broken)
        ended = await until(lambda: phone.first("StreamEnded"), what="the stream ended")
        assert "audio to the device failed" in ended["reason"]
        assert "no memory for a listen frame" in ended["reason"]
        result = await asyncio.wait_for(call, 30)
    finally:
        await phone.close()
    # the call itself went on to its end, recorded whole
    assert result.status == "completed"

    async def ended() -> dict[str, Any] | None:
        row = await call_row(server, sid.removeprefix("s-"))
        return row if row["status"] != "live" else None

    row = await until_async(ended, what="the call row ends")
    assert row["status"] == "completed"
    assert await metric(server, 'callscope_sink_failures_total{sink="supervision"}') == 1
    assert await metric(server, 'callscope_sink_failures_total{sink="recording"}') == 0

"""The supervision audit trail outlives the server that kept it: a supervision open when
the server was killed ends on the trail with its call (which the restart marks
interrupted). The rows are written by the node carrying the call, so a row can be left open
only on a call that ended with that node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, make_stereo_fixture
from tests.helpers.login import request
from tests.helpers.phone import Phone, extensions, supervise
from tests.helpers.runner import live_session, start_simulate
from tests.helpers.wait import until_async

pytestmark = pytest.mark.slow


async def test_a_supervision_open_when_the_server_was_killed_is_ended_on_the_trail(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    source = tmp_path / "long.wav"
    make_stereo_fixture(source, seconds=60.0)
    sim = start_simulate(server, "--source", str(source), "--speed", "1")
    phone = await Phone(server, server.headers["Authorization"][7:]).connect()
    try:
        exts = await extensions(server)
        session = await live_session(server, exts["102"])
        _, live = await request(server, "GET", "/calls?status=live", headers=server.headers)
        call_id = live["records"][0]["id"]
        body = {"supervisorDeviceId": phone.device_id, "agentExtensionNumber": "102"}
        status, party = await supervise(
            server, session["telephonySessionId"], {**body, "mode": "Listen"}
        )
        assert status == 201, party

        async def trail() -> list[dict[str, Any]]:
            _, got = await request(server, "GET", f"/calls/{call_id}/audit", headers=server.headers)
            return got["supervision"]  # type: ignore[no-any-return]

        async def opened() -> list[dict[str, Any]] | None:
            rows = await trail()
            return rows if rows else None

        rows = await until_async(opened, 10, "the supervision on the trail")
        assert [(r["mode"], r["endTime"]) for r in rows] == [("Listen", None)]
        server.kill()  # the supervision is open, kept by this server only
    finally:
        await phone.close()
        sim.kill()
        await sim.ended()
    server.start()
    rows = await trail()
    assert [r["mode"] for r in rows] == ["Listen"]
    assert rows[0]["endTime"] is not None
    assert rows[0]["endTime"] >= rows[0]["startTime"]
    _, call = await request(server, "GET", f"/calls/{call_id}", headers=server.headers)
    assert call["status"] == "interrupted"

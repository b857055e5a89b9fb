"""A stream cannot write lines of its own into the server log, nor drive a terminal."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import aiohttp
import pytest

from callscope.protocols.ringcx import PERSPECTIVES, build_connected, build_media, build_start
from tests.conftest import Server
from tests.security.ingest_helpers import DEMO_PRODUCT, ingest_server, wait_for_call

pytestmark = pytest.mark.slow

FORGED = "2026-01-01 00:00:00,000 ERROR   callscope.ingest: forged line"
#: how every line the server writes begins (cli._setup_logging)
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ +[\w.]+: ")


async def test_hostile_metadata_is_escaped_in_the_log(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = ingest_server(server_factory, tmp_path, "--log-level", "DEBUG")
    query = urllib.parse.urlencode({"callId": f"x\n{FORGED}", "rcAccountId": "70000001"})
    start = {
        "callId": f"x\n{FORGED}",
        "agentId": "\x1b[2J\x1b]0;pwned\x07",
        "ani": "65055\r\n\x1b[2J\u2028\u2028\u2028",
    }
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(
            f"{server.ws}?{query}&{DEMO_PRODUCT}", headers=server.stream_headers
        ) as ws:
            await ws.send_str(build_connected().decode())
            await ws.send_str(build_start(start).decode())
            for seq in range(1, 4):
                for p in PERSPECTIVES:
                    await ws.send_str(build_media(p, seq, b"\x10" * 160).decode())
            # malformed messages are logged with their detail
            await ws.send_str('{"event": "\\n' + FORGED + '"}')
        # the access log (DEBUG) prints the client's decoded path
        async with s.get(server.http + "/nowhere%0A" + urllib.parse.quote(FORGED)) as r:
            assert r.status in (401, 404)
    call = await wait_for_call(server, "abandoned")
    assert call["upgradeParameters"]["callId"] == f"x\n{FORGED}"  # stored as sent
    log = server.log()
    assert "\x1b" not in log
    assert "\u2028" not in log
    assert "\r" not in log
    lines = log.splitlines()
    assert not [line for line in lines if line.startswith(FORGED)]
    # every line the stream's text reached is one record, with the text escaped
    tainted = [line for line in lines if "forged" in line or "pwned" in line]
    assert len(tainted) >= 3  # started, malformed, access
    for line in tainted:
        assert RECORD.match(line), line
    assert any("started: RingCX call x\\n2026-01-01" in line for line in tainted)
    assert any("agent \\x1b[2J" in line for line in lines)

"""Helpers of the security tests that stream to a real server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import Server

#: what the demo streaming profile's streams name (its secret is ``server.stream_headers``):
#: these attacks come from a sender that holds a valid secret
DEMO_PRODUCT = "subaccountId=88800012&productType=Queue&productId=4401"


def ingest_server(factory: type[Server], tmp_path: Path, *extra: str) -> Server:
    return factory(tmp_path / "data", extra_args=["--ingest-idle-timeout-s", "2", *extra]).start()


async def get_json(server: Server, path: str) -> Any:
    async with (
        aiohttp.ClientSession(headers=server.headers) as s,
        s.get(server.http + path) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json()


async def wait_for_call(server: Server, status: str, timeout_s: float = 20) -> dict[str, Any]:
    """The one call with ``status``, once its row says so."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = await get_json(server, f"/calls?status={status}&perPage=10")
        if body["records"]:
            (call,) = body["records"]
            return call  # type: ignore[no-any-return]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no call {status}:\n{server.log()[-3000:]}")

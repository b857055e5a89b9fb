"""Waiting for a call's post-call insights document."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Server
from tests.helpers.login import request

INSIGHTS = "/ai/ringsense/v1/public/accounts/~/domains/pbx"


async def document(server: Server, record_id: str, timeout_s: float = 30) -> dict[str, Any]:
    for _ in range(int(timeout_s * 10)):
        status, body = await request(
            server, "GET", f"{INSIGHTS}/records/{record_id}/insights", headers=server.headers
        )
        if status == 200:
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no insights for {record_id}: {status} {body}")

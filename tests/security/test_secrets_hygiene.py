"""Passwords, keys and tokens are not shown back: settings output, REST links; a token in
the query is no credential outside WebSocket upgrades."""

from __future__ import annotations

import os
import subprocess
import sys

import aiohttp
import pytest

from callscope.logsafe import redacted_url
from tests.conftest import Server

pytestmark = pytest.mark.slow


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callscope", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )


def test_settings_masks_passwords_inside_urls_and_keys() -> None:
    result = cli(
        "settings",
        env={
            "CALLSCOPE_DATABASE_URL": "postgresql+asyncpg://callscope:db-pw-1@db.internal/cs",
            "CALLSCOPE_REDIS_URL": "redis://:redis-pw-2@redis.internal:6379/0",
            "CALLSCOPE_INSIGHTS_LLM_URL": "https://bot:llm-pw-3@llm.internal/v1?api_key=llm-key-4",
            "CALLSCOPE_INSIGHTS_LLM_KEY": "sk-llm-key-5",
        },
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for secret in ("db-pw-1", "redis-pw-2", "llm-pw-3", "llm-key-4", "sk-llm-key-5"):
        assert secret not in out
    # which server is meant stays readable
    assert "database_url = postgresql+asyncpg://callscope:***@db.internal/cs" in out
    assert "redis_url = redis://:***@redis.internal:6379/0" in out
    assert "insights_llm_url = https://bot:***@llm.internal/v1?api_key=***" in out
    assert "insights_llm_key = (set, not shown)" in out


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+asyncpg://u:pw@h/db", "postgresql+asyncpg://u:***@h/db"),
        ("redis://:pw@h", "redis://:***@h"),
        ("rediss://u:p/w?x@h:6380/0", "rediss://u:***@h:6380/0"),  # unescaped / and ? in it
        ("unix://:pw@/run/redis.sock?db=0", "unix://:***@/run/redis.sock?db=0"),
        ("postgresql://h/db?user=u&password=pw", "postgresql://h/db?user=u&password=***"),
        ("https://llm.local/v1", "https://llm.local/v1"),
        ("sqlite+aiosqlite:////srv/callscope.db", "sqlite+aiosqlite:////srv/callscope.db"),
    ],
)
def test_redacted_url(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


async def test_list_links_never_repeat_credentials_from_the_query(shared_server: Server) -> None:
    token = shared_server.login()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    query = f"access_token={token}&secret=profile-secret-6&Access_Token=x-7&perPage=1"
    async with aiohttp.ClientSession(headers=headers) as s:
        for path in ("/calls", "/restapi/v1.0/account/~/extension"):
            async with s.get(f"{shared_server.http}{path}?{query}") as r:
                assert r.status == 200, await r.text()
                text = await r.text()
                body = await r.json()
            for secret in (token, "profile-secret-6", "x-7", "access_token", "secret="):
                assert secret not in text, (path, secret)
            # the other parameters are kept: the links still page
            assert "perPage=1" in body["uri"]
            assert "perPage=1" in body["navigation"]["firstPage"]["uri"]


async def test_a_query_token_is_not_accepted_outside_websocket_upgrades(
    shared_server: Server,
) -> None:
    token = shared_server.login()["access_token"]
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{shared_server.http}/calls?access_token={token}") as r:
            assert r.status == 401
            assert token not in await r.text()
        async with s.get(
            f"{shared_server.http}/calls", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 200  # the token itself is good

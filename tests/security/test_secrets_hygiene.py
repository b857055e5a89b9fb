"""Passwords, keys and tokens are not shown back: settings output, REST links."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from callscope.logsafe import redacted_url

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

"""callscope on PostgreSQL: the same models and Alembic migrations as on SQLite.

Each test makes a database of its own and drops it (``tests/integration/services.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import Server
from tests.helpers.login import request
from tests.helpers.receiver import LIFECYCLE, Receiver, subscribe
from tests.helpers.runner import run_calls
from tests.helpers.wait import until
from tests.integration.services import PG

pytestmark = pytest.mark.slow


async def test_migrations_calls_events_and_a_restart_on_postgresql(
    pg_url: str, server_factory: type[Server], tmp_path: Path
) -> None:
    upgraded = subprocess.run(
        [sys.executable, "-m", "callscope", "db", "upgrade", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "CALLSCOPE_DATABASE_URL": pg_url},
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert "postgresql+asyncpg" in upgraded.stdout
    server = server_factory(tmp_path / "data", extra_args=["--database-url", pg_url]).start()
    receiver = await Receiver().start()
    try:
        _, health = await request(server, "GET", "/health")
        assert health["database"] == "ok"
        await subscribe(server, receiver.url)
        await run_calls(server, "--calls", "3", "--speed", "20", "--max-frames", "100")
        await until(
            lambda: sum(c == LIFECYCLE for c in receiver.sessions().values()) == 3,
            what="every call's telephony events, in order",
        )
        _, calls = await request(server, "GET", "/calls", headers=server.headers)
        assert [c["status"] for c in calls["records"]] == ["completed"] * 3
        assert all(c["frames"]["agent"] == 100 for c in calls["records"])
        # the history's searches and the wallboard's reads run on PostgreSQL too
        ani = calls["records"][0]["ani"]
        for params in (
            {"phoneNumber": f"({ani[:3]}) {ani[3:6]}-{ani[6:]}"},
            {"q": "Alex Agent", "sort": "longest"},
            {"dateFrom": calls["records"][0]["startTime"][:10], "sort": "shortest"},
        ):
            got, found = await request(
                server, "GET", "/calls", headers=server.headers, params=params
            )
            assert got == 200, found
            assert found["records"], params
            assert all(c["alertCount"] == 0 for c in found["records"])
        got, board = await request(server, "GET", "/calls/wallboard", headers=server.headers)
        assert (got, board["calls"], len(board["agents"])) == (200, [], 3)
        got, audit = await request(
            server, "GET", f"/calls/{calls['records'][0]['id']}/audit", headers=server.headers
        )
        assert (got, audit["supervision"], audit["alerts"]) == (200, [], [])
        # the rows are in PostgreSQL (not a SQLite file beside the data)
        db = await asyncpg.connect(database=pg_url.rsplit("/", 1)[1], **PG)
        try:
            stored = await db.fetch("SELECT id, status FROM calls ORDER BY id")
            sessions = await db.fetchval("SELECT count(*) FROM telephony_sessions")
        finally:
            await db.close()
        assert sorted((r["id"], r["status"]) for r in stored) == sorted(
            (c["id"], "completed") for c in calls["records"]
        )
        assert sessions == 3
        assert not (tmp_path / "data" / "callscope.db").exists()
        session_id = calls["records"][0]["telephonySessionId"]
        status, session = await request(
            server,
            "GET",
            f"/restapi/v1.0/account/~/telephony/sessions/{session_id}",
            headers=server.headers,
        )
        assert status == 200, session
        status, wav = await request(
            server, "GET", f"/calls/{calls['records'][0]['id']}/recording", headers=server.headers
        )
        assert status == 200
        assert len(wav) == 44 + 100 * 160 * 4
        # a second start on the same database: nothing re-seeded, nothing lost
        server.stop()
        server.start()
        _, again = await request(server, "GET", "/calls", headers=server.headers)
        assert [c["id"] for c in again["records"]] == [c["id"] for c in calls["records"]]
        _, users = await request(
            server, "GET", "/restapi/v1.0/account/~/extension", headers=server.headers
        )
        assert sorted(u["extensionNumber"] for u in users["records"]) == [
            "101",
            "102",
            "103",
            "104",
        ]
    finally:
        await receiver.stop()

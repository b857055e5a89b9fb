"""The `callscope` command: help texts, settings, db, demo, and the simulator's retry rule."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sqlite3
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web

from callscope.config import settings_table
from tests.conftest import FAST_SCRYPT_ENV, Server, free_port, serve_local
from tests.helpers.runner import command

pytestmark = pytest.mark.slow


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return command(*args, env=FAST_SCRYPT_ENV, timeout=timeout)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ["serve", "simulate", "demo", "db", "settings"]),
        (["serve"], ["--port", "CALLSCOPE_PORT", "--ingest-idle-timeout-s", "--data-dir"]),
        (
            ["simulate"],
            [
                "--calls",
                "--reorder",
                "--duplicate",
                "--drop",
                "--malformed",
                "--vanish",
                "--speed",
                "retried up to 3",
            ],
        ),
        (["demo"], ["--keep-serving", "--speed"]),
        (["db", "upgrade"], ["revision"]),
        (["settings"], ["--markdown"]),
    ],
)
def test_help_texts(args: list[str], expected: list[str]) -> None:
    result = cli(*args, "--help")
    assert result.returncode == 0
    for word in expected:
        assert word in result.stdout


def test_settings_markdown_is_the_readme_table() -> None:
    result = cli("settings", "--markdown")
    assert result.returncode == 0
    assert result.stdout.strip() == settings_table()


def test_bad_setting_exits_2_with_the_fix() -> None:
    result = cli("settings", "--port", "0")
    assert result.returncode == 2
    assert "port 0 is out of range: use 1-65535" in result.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = cli("db", "upgrade", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "callscope.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert {"calls", "streaming_profiles", "accounts", "extensions", "tokens", "parties"} <= tables
    assert {"supervision_sessions", "call_alerts"} <= tables
    assert "sip_credentials" in tables
    assert version == "0011"


def test_upgrade_from_0001_keeps_existing_calls(tmp_path: Path) -> None:
    assert cli("db", "upgrade", "0001", "--data-dir", str(tmp_path)).returncode == 0
    with sqlite3.connect(tmp_path / "callscope.db") as db:
        db.execute(
            "INSERT INTO calls (id, status, started_at, recording_path, frames_agent, "
            "frames_caller, late_frames, duplicate_frames, missing_frames, malformed_messages, "
            "upgrade_params, start_metadata, stop_metadata) VALUES ('c1', 'completed', "
            "'2026-01-01 00:00:00', '/x.wav', 1, 1, 0, 0, 0, 0, '{}', '{}', '{}')"
        )
    result = cli("db", "upgrade", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "callscope.db") as db:
        row = db.execute("SELECT id, status, account_ref FROM calls").fetchone()
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert row == ("c1", "completed", None)
    assert version == "0011"


@pytest.mark.parametrize("command_name", ["demo", "serve"])
def test_a_grpc_port_in_use_stops_the_start_in_one_line(command_name: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        grpc_port = taken.getsockname()[1]
        # a process of its own, not forked (tests/helpers/forkserve.py): a forked child exits
        # before the interpreter would report the tasks a failed start-up left pending
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "callscope",
                command_name,
                "--port",
                str(free_port()),
                "--grpc-port",
                str(grpc_port),
                "--data-dir",
                str(tmp_path),
            ],
            env={**os.environ, **FAST_SCRYPT_ENV},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"callscope: error: gRPC listener: cannot bind 127.0.0.1:{grpc_port}; is the port in use?"
        in result.stderr
    )
    # what had started before the listener failed is stopped, not left pending
    assert "Traceback" not in result.stderr
    assert "Task was destroyed" not in result.stderr


def test_demo_streams_the_bundled_call_and_exits(tmp_path: Path) -> None:
    result = cli(
        "demo",
        "--port",
        str(free_port()),
        # its own free port: the default port + 1 may be taken by a server of another test
        "--grpc-port",
        str(free_port()),
        "--data-dir",
        str(tmp_path),
        "--speed",
        "40",
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 call(s): 1 completed" in result.stdout
    wavs = list((tmp_path / "recordings").glob("*.wav"))
    assert len(wavs) == 1
    assert str(wavs[0]) in result.stdout
    assert wavs[0].stat().st_size > 44 + 76 * 8000 * 4  # the whole 77 s call
    # the transcript is complete and printed, each party's words on its own side
    assert "/transcript (complete)" in result.stdout
    lines = result.stdout.lower()
    assert "agent: thank you for calling northwind internet support" in lines
    assert "customer: hi" in lines
    # the demo supervisor monitors the demo agents, so the dashboard shows their calls
    assert "dashboard: http://127.0.0.1:" in result.stdout
    with sqlite3.connect(tmp_path / "callscope.db") as db:
        members = db.execute(
            "SELECT g.name, e.extension_number, m.monitoring, m.monitored "
            "FROM monitoring_group_members m JOIN monitoring_groups g ON g.id = m.group_id "
            "JOIN extensions e ON e.id = m.extension_id ORDER BY e.extension_number"
        ).fetchall()
    assert members == [
        ("Demo team", "101", 1, 0),
        ("Demo team", "102", 0, 1),
        ("Demo team", "103", 0, 1),
        ("Demo team", "104", 0, 1),
    ]


async def _status_server(status: int) -> tuple[web.AppRunner, int, list[int]]:
    hits: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(1)
        return web.Response(status=status, text=f"answer {status}")

    port = free_port()
    return await serve_local(port, web.get("/ringcx/stream", handler)), port, hits


@pytest.mark.parametrize(("status", "attempts"), [(503, 4), (500, 4), (403, 1), (404, 1)])
async def test_simulator_retries_5xx_three_times_and_never_4xx(
    tmp_path: Path, status: int, attempts: int
) -> None:
    runner, port, hits = await _status_server(status)
    try:
        report = tmp_path / "r.json"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "callscope",
            "simulate",
            "--quiet",
            "--url",
            f"ws://127.0.0.1:{port}/ringcx/stream",
            "--report",
            str(report),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _, err = await proc.communicate()
        assert proc.returncode == 1
        (result,) = json.loads(report.read_text())
        assert result["attempts"] == attempts
        assert len(hits) == attempts
        assert result["status"] == ("refused" if status < 500 else "failed")
        assert f"HTTP {status}" in err.decode()
    finally:
        await runner.cleanup()


def test_admin_commands_make_identities_that_can_log_in(
    server_factory: type[Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    srv = server_factory(data, template=False).start()  # a first boot
    assert "created the demo account 70000001" in srv.log()
    assert "demo-credentials.json" in srv.log()

    def admin(*args: str) -> dict[str, str]:
        result = cli("admin", *args, "--data-dir", str(data))
        assert result.returncode == 0, result.stderr
        out: dict[str, str] = json.loads(result.stdout)
        return out

    admin("account", "--id", "555", "--name", "Acme")
    ext = admin(
        "extension",
        "--account",
        "555",
        "--number",
        "7",
        "--first-name",
        "Ann",
        "--last-name",
        "Admin",
        "--email",
        "ann@acme.test",
        "--admin",
        "--agent-id",
        "9001",
    )
    app = admin("app", "--account", "555", "--name", "acme app")
    jwt = admin("jwt", "--account", "555", "--extension", ext["extensionId"])["jwt"]
    device = admin(
        "device", "--account", "555", "--extension", ext["extensionId"], "--type", "HardPhone"
    )
    assert device["status"] == "Offline"
    admin("password", "--extension", ext["extensionId"], "--password", "s3cret-pass")

    basic = base64.b64encode(f"{app['clientId']}:{app['clientSecret']}".encode()).decode()
    for form in (
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": jwt},
        {"grant_type": "password", "username": "ann@acme.test", "password": "s3cret-pass"},
    ):
        req = urllib.request.Request(
            srv.http + "/restapi/oauth/token",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Authorization": f"Basic {basic}"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            token = json.loads(r.read())
        assert token["owner_id"] == ext["extensionId"]
    req = urllib.request.Request(
        srv.http + "/restapi/v1.0/account/~/extension/~/device",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        devices = json.loads(r.read())["records"]
    assert [(d["id"], d["type"]) for d in devices] == [(device["deviceId"], "HardPhone")]
    bad = cli("admin", "jwt", "--account", "555", "--extension", "1", "--data-dir", str(data))
    assert bad.returncode == 2
    assert "not in account 555" in bad.stderr

"""The server's lifecycle, through real servers: the graceful drain on SIGTERM and on
`callscope drain`, the liveness and readiness probes (with the database and Redis made
unreachable), start-up errors in one line, and keepalive pings that keep an idle-cutting
proxy from dropping a one-way RingCX stream."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import grpc
import numpy as np
import pytest
import redis.asyncio as aioredis

from callscope.media.g711 import lin2ulaw
from tests.conftest import Server, free_port, make_stereo_fixture
from tests.helpers.grpc import init, raw_stream, refused_with
from tests.helpers.runner import Simulation, command, get_json, start_simulate, wait_for_status
from tests.integration.services import PG

pytestmark = pytest.mark.slow


async def probe(server: Server, path: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(server.http + path) as r,
    ):
        return r.status, await r.json()


async def probe_until(
    server: Server, path: str, status: int, timeout: float = 20.0
) -> dict[str, Any]:
    """The body of ``path`` once it answers ``status`` (bounded)."""
    deadline = time.monotonic() + timeout
    seen: tuple[int, dict[str, Any]] | None = None
    while time.monotonic() < deadline:
        seen = await probe(server, path)
        if seen[0] == status:
            return seen[1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never answered {status} (last: {seen}):\n{server.log()[-3000:]}")


def background(server: Server, *args: str) -> Simulation:
    return start_simulate(server, *args)


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return command(*args, timeout=timeout)


# -- graceful drain ----------------------------------------------------------------------


async def test_sigterm_lets_calls_end_refuses_new_streams_and_interrupts_the_rest(
    server_factory: type[Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    # the short call has under 4 s to go when the drain starts: it ends within the 6 s
    server = server_factory(data, grpc=True, extra_args=["--drain-timeout-s", "6"]).start()
    make_stereo_fixture(tmp_path / "short.wav", seconds=4)
    make_stereo_fixture(tmp_path / "long.wav", seconds=120)
    short = background(server, "--source", str(tmp_path / "short.wav"), "--seed", "1")
    long = background(server, "--source", str(tmp_path / "long.wav"), "--seed", "2")
    try:
        await wait_for_status(server, "live", 2)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)

        # readiness fails at once; liveness does not
        ready = await probe_until(server, "/health/ready", 503)
        assert ready["failed"] == ["lifecycle"]
        assert ready["checks"] == {"database": "ok", "lifecycle": "draining"}
        assert await probe(server, "/health/live") == (
            200,
            {"status": "live", "lifecycle": "draining"},
        )
        # a new WebSocket stream: 503 with Retry-After (RingCX retries a 5xx)
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await http.ws_connect(server.ws + "?callId=late", headers=server.stream_headers)
        assert caught.value.status == 503
        assert caught.value.headers is not None
        assert caught.value.headers["Retry-After"] == "5"
        # a new gRPC stream: UNAVAILABLE
        refused = await refused_with(raw_stream(server.grpc_port, init(), server.stream_secret))
        assert refused == grpc.StatusCode.UNAVAILABLE

        # the short call ends on its own; the long one is ended at the drain timeout
        assert await asyncio.to_thread(server.proc.wait, 90) == 0
        out, err = short.communicate(timeout=30)
        assert short.returncode == 0, err
        assert "1 completed" in out
        long.communicate(timeout=30)
    finally:
        for sim in (short, long):
            if sim.poll() is None:
                sim.kill()
                sim.wait(10)
    log = server.log()
    assert "draining (SIGTERM): new streams refused, readiness failing; 2 live stream(s)" in log
    assert "drain timed out after 6 s: ending 1 live stream(s) as interrupted" in log

    again = server_factory(data, port=server.port).start()
    body = await get_json(again, "/calls?perPage=100")
    by_id = {c["ringcxCallId"]: c for c in body["records"]}
    assert sorted(by_id) == ["sim-1-00001", "sim-2-00001"]  # nothing split, nothing late
    completed, interrupted = by_id["sim-1-00001"], by_id["sim-2-00001"]
    assert completed["status"] == "completed"
    assert completed["durationMs"] == 4000
    assert interrupted["status"] == "interrupted"
    assert interrupted["endReason"] == "server shut down mid-call"
    assert 0 < interrupted["durationMs"] < 120_000


async def test_a_second_signal_ends_the_drain_at_once(
    server_factory: type[Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = server_factory(data, extra_args=["--drain-timeout-s", "3600"]).start()
    make_stereo_fixture(tmp_path / "long.wav", seconds=120)
    sim = background(server, "--source", str(tmp_path / "long.wav"))
    try:
        await wait_for_status(server, "live")
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        await probe_until(server, "/health/ready", 503)
        server.proc.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(server.proc.wait, 60) == 0  # not an hour later
        sim.communicate(timeout=30)
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait(10)
    log = server.log()
    assert "SIGINT while draining: ending the live calls now" in log
    assert "drain cut short after" in log
    again = server_factory(data, port=server.port).start()
    (call,) = await wait_for_status(again, "interrupted")
    assert call["endReason"] == "server shut down mid-call"


async def test_drain_command_needs_an_admin_and_stops_the_server(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    agent = server.login(username="alex@demo.callscope.test")["access_token"]
    async with aiohttp.ClientSession() as http:
        async with http.post(server.http + "/admin/drain") as r:
            assert r.status == 401
        async with http.post(
            server.http + "/admin/drain", headers={"Authorization": f"Bearer {agent}"}
        ) as r:
            assert r.status == 403
            assert (await r.json())["errorCode"] == "CMN-408"
    assert (await probe(server, "/health/ready"))[0] == 200  # nothing was drained

    result = await asyncio.to_thread(
        cli,
        "drain",
        "--url",
        server.http,
        "--credentials",
        str(server.data_dir / "demo-credentials.json"),
        "--wait",
    )
    assert result.returncode == 0, result.stderr
    assert f"{server.http}: draining; 0 live stream(s) get up to 30 s" in result.stdout
    assert f"{server.http}: stopped" in result.stdout
    assert server.proc is not None
    assert await asyncio.to_thread(server.proc.wait, 30) == 0
    assert "draining (drain request)" in server.log()

    gone = await asyncio.to_thread(cli, "drain", "--url", server.http, "--token", "x")
    assert gone.returncode == 2
    assert gone.stderr.startswith(f"callscope: error: cannot reach {server.http}")


# -- liveness and readiness --------------------------------------------------------------


async def test_ready_fails_while_the_database_is_unreachable_and_recovers(
    pg_url: str, server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data", extra_args=["--database-url", pg_url]).start()
    assert await probe(server, "/health/ready") == (
        200,
        {"status": "ready", "checks": {"database": "ok", "lifecycle": "serving"}},
    )
    name = pg_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(database="test", **PG)
    try:
        # no new connections, and the server's are cut
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        body = await probe_until(server, "/health/ready", 503)
        assert body == {
            "status": "unready",
            "checks": {"database": "unreachable", "lifecycle": "serving"},
            "failed": ["database"],
        }
        assert (await probe(server, "/health/live"))[0] == 200
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await probe_until(server, "/health/ready", 200)
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()


async def test_ready_fails_while_redis_is_unreachable(
    pg_url: str, server_factory: type[Server], tmp_path: Path
) -> None:
    port = free_port()
    redis_server = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(tmp_path)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    await client.ping()
                    break
                except (OSError, aioredis.RedisError):
                    assert time.monotonic() < deadline, "the test's Redis did not start"
                    await asyncio.sleep(0.1)
        finally:
            await client.aclose()
        server = server_factory(
            tmp_path / "data",
            extra_args=[
                *("--database-url", pg_url, "--redis-url", f"redis://127.0.0.1:{port}/0"),
                *("--node-id", "ready-1", "--node-heartbeat-s", "0.5", "--node-dead-after-s", "3"),
            ],
        ).start()
        assert await probe(server, "/health/ready") == (
            200,
            {
                "status": "ready",
                "checks": {"database": "ok", "redis": "ok", "lifecycle": "serving"},
            },
        )
        redis_server.kill()
        redis_server.wait(10)
        body = await probe_until(server, "/health/ready", 503)
        assert body["failed"] == ["redis"]
        assert body["checks"]["redis"] == "unreachable"
        assert body["checks"]["database"] == "ok"
        assert (await probe(server, "/health/live"))[0] == 200
    finally:
        if redis_server.poll() is None:
            redis_server.kill()
            redis_server.wait(10)


# -- start-up errors ---------------------------------------------------------------------


def _file(tmp: Path) -> Path:
    (tmp / "file").write_text("x")
    return tmp / "file"


def _read_only_dir(tmp: Path) -> Path:
    if os.geteuid() == 0:  # root writes through any mode: /proc takes no new files
        return Path("/proc")
    tmp.joinpath("ro").mkdir(mode=0o500)
    return tmp / "ro"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(
            lambda t: [
                "--database-url",
                f"postgresql+asyncpg://postgres:hunter2@127.0.0.1:{free_port()}/callscope",
            ],
            ["database_url postgresql+asyncpg://postgres:***@127.0.0.1:", "cannot connect"],
            id="closed-port",
        ),
        pytest.param(
            lambda t: [
                "--database-url",
                "postgresql+asyncpg://postgres:hunter2@127.0.0.1:5432/"
                f"callscope_missing_{secrets.token_hex(4)}",
            ],
            ["database_url postgresql+asyncpg://postgres:***@127.0.0.1:5432/", "does not exist"],
            id="missing-database",
        ),
        pytest.param(
            lambda t: ["--data-dir", str(_file(t))],
            ["data_dir ", "is not a directory", "CALLSCOPE_DATA_DIR"],
            id="data-dir-is-a-file",
        ),
        pytest.param(
            lambda t: ["--data-dir", str(_file(t) / "data")],
            ["data_dir ", "cannot be created", "CALLSCOPE_DATA_DIR"],
            id="data-dir-under-a-file",
        ),
        pytest.param(
            lambda t: ["--data-dir", str(_read_only_dir(t))],
            ["data_dir ", "not writable", "CALLSCOPE_DATA_DIR"],
            id="data-dir-not-writable",
        ),
    ],
)
def test_a_start_up_error_is_one_line_and_exit_status_2(
    tmp_path: Path, args: Callable[[Path], list[str]], words: list[str]
) -> None:
    argv = ["--data-dir", str(tmp_path / "data"), "--port", str(free_port()), *args(tmp_path)]
    result = cli("serve", *argv)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # nothing said it was serving, no traceback
    assert lines[0].startswith("callscope: error: ")
    for word in words:
        assert word in lines[0]
    if "--database-url" in argv:
        assert "--database-url or CALLSCOPE_DATABASE_URL" in lines[0]
    assert "hunter2" not in result.stderr


# -- keepalive on the ingest socket ------------------------------------------------------


class IdleCuttingProxy:
    """A TCP proxy that closes a connection once nothing has gone from the server to the
    client for ``idle_s`` (nginx ``proxy_read_timeout``, a cloud load balancer's idle
    timeout)."""

    def __init__(self, upstream_port: int, idle_s: float) -> None:
        self.upstream_port = upstream_port
        self.idle_s = idle_s
        self.port = free_port()
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> IdleCuttingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        last_down = [time.monotonic()]

        async def pump(r: asyncio.StreamReader, w: asyncio.StreamWriter, down: bool) -> None:
            while data := await r.read(65536):
                if down:
                    last_down[0] = time.monotonic()
                w.write(data)
                await w.drain()

        pumps = [
            asyncio.create_task(pump(client_r, up_w, False)),
            asyncio.create_task(pump(up_r, client_w, True)),
        ]
        try:
            while not all(p.done() for p in pumps):
                if time.monotonic() - last_down[0] > self.idle_s:
                    self.cuts += 1
                    break
                await asyncio.wait(pumps, timeout=0.2, return_when=asyncio.ALL_COMPLETED)
        finally:
            for p in pumps:
                p.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for w in (client_w, up_w):
                w.close()
            self._tasks.discard(task)


CALL_S = 70 * 60


@pytest.fixture(scope="module")
def seventy_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 70-minute mono μ-law WAV (the agent speaks a tone; the caller side is silence)."""
    path = tmp_path_factory.mktemp("long") / "seventy-minutes.wav"
    second = lin2ulaw((3000 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype(np.int16))
    body = second * CALL_S
    fmt = (7).to_bytes(2, "little") + (1).to_bytes(2, "little")  # μ-law, mono
    fmt += (8000).to_bytes(4, "little") + (8000).to_bytes(4, "little")
    fmt += (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
    with path.open("wb") as f:
        f.write(b"RIFF" + (4 + 8 + len(fmt) + 8 + len(body)).to_bytes(4, "little") + b"WAVE")
        f.write(b"fmt " + len(fmt).to_bytes(4, "little") + fmt)
        f.write(b"data" + len(body).to_bytes(4, "little") + body)
    return path


@pytest.mark.parametrize("pings", [True, False], ids=["pings", "no-pings"])
async def test_a_seventy_minute_one_way_stream_survives_a_proxy_that_cuts_idle_sockets(
    server_factory: type[Server], tmp_path: Path, seventy_minutes: Path, pings: bool
) -> None:
    interval = "1" if pings else "0"
    server = server_factory(
        tmp_path / "data", extra_args=["--ingest-ping-interval-s", interval]
    ).start()
    proxy = await IdleCuttingProxy(server.port, idle_s=5.0).start()
    try:
        sim = start_simulate(
            # 300× real time (14 s): well past the proxy's 5 s idle cut, pings every 1 s.
            # Without pings the cut comes 5 s in whatever the pace, so that stream goes at
            # 20× (100 s of call before the cut instead of 25 minutes' frames to no purpose)
            server,
            *("--source", str(seventy_minutes), "--speed", "300" if pings else "20"),
            *("--url", f"ws://127.0.0.1:{proxy.port}/ringcx/stream"),
        )
        try:
            await sim.ended(600)
        finally:
            sim.kill()
            await sim.ended()
    finally:
        await proxy.stop()
    if pings:
        assert sim.returncode == 0, sim.stderr[-2000:]
        assert "1 completed" in sim.stdout
        assert proxy.cuts == 0
        (call,) = await wait_for_status(server, "completed")
        assert call["durationMs"] == CALL_S * 1000
        with wave.open(str(server.data_dir / "recordings" / f"{call['id']}.wav")) as w:
            assert w.getnframes() == CALL_S * 8000
    else:  # the test can fail: without pings the proxy cuts the stream
        assert proxy.cuts == 1
        assert sim.returncode == 1
        (call,) = await wait_for_status(server, "abandoned")
        assert call["durationMs"] < CALL_S * 1000

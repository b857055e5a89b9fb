"""Running calls into a server: `callscope simulate` in a process of its own, or one call in
process (``call_options`` and ``start_call``), and reading what the server made of it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from callscope.media.wav import read_wav
from callscope.sim.plan import load_audio
from callscope.sim.runner import CallResult, Progress, SimOptions, run_call
from tests.conftest import EXEC_SERVERS_ENV, Server, simulate_command
from tests.helpers import forkserve
from tests.helpers.login import request


async def run_calls(server: Server, *args: str, timeout_s: float = 60.0) -> None:
    """`callscope simulate` against ``server`` (forked like the servers, see
    tests/helpers/forkserve.py); it must succeed."""
    command = simulate_command(server, *args)
    if os.environ.get(EXEC_SERVERS_ENV):
        proc = await asyncio.create_subprocess_exec(
            *command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
        assert proc.returncode == 0, out.decode()
        return
    argv = command[command.index("simulate") :]  # what follows `python -m callscope`
    code, stdout, stderr = await asyncio.to_thread(
        forkserve.run, argv, dict(os.environ), server.data_dir.parent, timeout_s
    )
    assert code == 0, stdout + stderr


def command(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """`callscope ARGS` (``python -m callscope ARGS`` under CALLSCOPE_TEST_EXEC_SERVERS, else
    forked like the servers, see tests/helpers/forkserve.py, which saves the import of
    callscope: ≈ 1.5 s of a core per command): its exit status, stdout and stderr."""
    env = {**os.environ, **(env or {})}
    if os.environ.get(EXEC_SERVERS_ENV):
        return subprocess.run(
            [sys.executable, "-m", "callscope", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    code, out, err = forkserve.run(list(args), env, Path(tempfile.gettempdir()), timeout)
    return subprocess.CompletedProcess(["callscope", *args], code, out, err)


def call_options(server: Server, source: Path, **kw: Any) -> SimOptions:
    two_way = kw.pop("two_way", True)
    path = "/twilio/stream" if two_way else "/ringcx/stream"
    kw.setdefault("secret", server.stream_secret)
    return SimOptions(
        url=server.http.replace("http", "ws") + path,
        sources=(source,),
        protocol="twilio" if two_way else "ringcx",
        **kw,
    )


def start_call(opts: SimOptions, index: int = 0) -> asyncio.Task[CallResult]:
    audio = load_audio(opts.sources[0])
    return asyncio.create_task(run_call(opts, index, audio, Progress()))


async def live_session(server: Server, agent: dict[str, Any]) -> dict[str, Any]:
    """The agent's live call, once it is listed."""

    async def find() -> dict[str, Any] | None:
        _, calls = await request(
            server,
            "GET",
            f"/restapi/v1.0/account/~/extension/{agent['id']}/active-calls",
            headers=server.headers,
        )
        return calls["records"][0] if calls.get("records") else None

    for _ in range(200):
        found = await find()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no live call for extension {agent['extensionNumber']}")


def recording(server: Server, call_id: str) -> np.ndarray:
    rate, pcm = read_wav(server.data_dir / "recordings" / f"{call_id}.wav")
    assert rate == 8000
    return pcm


def stream_pcm(frames: dict[int, bytes]) -> tuple[int, np.ndarray]:
    """(first frame, contiguous PCM) of what a stream delivered; frames must be gap-free."""
    first, last = min(frames), max(frames)
    assert len(frames) == last - first + 1, "the device lost frames"
    pcm = b"".join(frames[i] for i in range(first, last + 1))
    return first, np.frombuffer(pcm, dtype="<i2")


def call_id_of(session_id: str) -> str:
    return session_id.removeprefix("s-")


async def get_json(server: Server, path: str) -> dict:  # type: ignore[type-arg]
    async with (
        aiohttp.ClientSession(headers=server.headers) as s,
        s.get(server.http + path) as r,
    ):
        assert r.content_type == "application/json"
        return await r.json()  # type: ignore[no-any-return]


async def wait_for_status(
    server: Server, status: str, count: int = 1, timeout: float = 20
) -> list[dict]:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = await get_json(server, f"/calls?status={status}&perPage=1000")
        if len(body["records"]) >= count:
            return body["records"]  # type: ignore[no-any-return]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {count} call(s) with status {status}:\n{server.log()[-3000:]}")

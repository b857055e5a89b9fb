"""Running calls into a server: `callscope simulate` in a process of its own, or one call in
process (``call_options`` and ``start_call``), and reading what the server made of it."""

from __future__ import annotations

import asyncio
import os
import signal
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
from tests.helpers.wait import until


async def run_calls(server: Server, *args: str, timeout_s: float = 60.0) -> None:
    """`callscope simulate` against ``server`` (see :func:`simulate`), off the event loop;
    it must succeed."""
    done = await asyncio.to_thread(simulate, server, *args, timeout=timeout_s)
    assert done.returncode == 0, done.stdout + done.stderr


def _after_python(command: list[str]) -> list[str]:
    """What follows ``python -m callscope`` in a :func:`simulate_command`."""
    return command[command.index("simulate") :]


class Simulation:
    """`callscope simulate` going on beside the test, forked like the servers (or ``python -m
    callscope`` under CALLSCOPE_TEST_EXEC_SERVERS), which spares its import (≈ 0.4 s of a
    core). Driven like a :class:`subprocess.Popen` (``poll``, ``wait``, ``communicate``,
    ``kill``; output as text, kept in files) or, from a coroutine, by ``await ended()``."""

    def __init__(self, command: list[str], tmp: Path) -> None:
        handle, out = tempfile.mkstemp(dir=tmp, prefix="simulate-", suffix=".out")
        os.close(handle)
        self._out = Path(out)
        self._err = self._out.with_suffix(".err")
        self._err.touch()
        self._proc: subprocess.Popen[bytes] | forkserve.ForkedServer
        if os.environ.get(EXEC_SERVERS_ENV):
            with self._out.open("ab") as stdout, self._err.open("ab") as stderr:
                self._proc = subprocess.Popen(command, stdout=stdout, stderr=stderr)
        else:
            argv = _after_python(command)
            self._proc = forkserve.ForkedServer(argv, dict(os.environ), out, str(self._err))

    @property
    def returncode(self) -> int | None:
        return self._proc.poll()

    def poll(self) -> int | None:
        return self._proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self._proc.wait(timeout)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Waits for the end; stdout and stderr."""
        self._proc.wait(timeout)
        return self.stdout, self.stderr

    async def ended(self, timeout: float = 600) -> int:
        """The exit status once the process ended (a cancellable wait, unlike a thread's)."""
        await until(lambda: self._proc.poll() is not None, timeout, "`callscope simulate` ended")
        code = self._proc.poll()
        assert code is not None
        return code

    def send_signal(self, sig: int) -> None:
        if self._proc.poll() is None:
            self._proc.send_signal(sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    @property
    def stdout(self) -> str:
        return self._out.read_text()

    @property
    def stderr(self) -> str:
        return self._err.read_text()


def start_simulate(server: Server, *args: str) -> Simulation:
    """`callscope simulate ARGS` against ``server`` (see :func:`simulate_command`), started;
    later ARGS win over the defaults (``--url``)."""
    return Simulation(simulate_command(server, *args), server.data_dir.parent)


def simulate(server: Server, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """`callscope simulate ARGS` against ``server`` to its end (see :func:`command`)."""
    return command(*_after_python(simulate_command(server, *args)), timeout=timeout)


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

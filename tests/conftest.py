"""Shared helpers: a real `callscope serve` process on a free loopback port."""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest
from aiohttp import web

from callscope.identity.crypto import TEST_LOG2_N_ENV
from callscope.media.g711 import lin2ulaw, ulaw2lin
from callscope.media.wav import WavWriter
from tests.helpers.forkserve import ForkedServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: what the callscope processes the tests start hash new passwords with: scrypt N=2^10, not
#: the production 2^17 (≈ 0.5 s of a core each, and the suite logs in hundreds of times). The
#: hashes name their N, so logins check what was stored. Production parameters are tested in
#: process (tests/security/test_identity_hardening.py) and on a real server with
#: ``Server(production_scrypt=True)`` (tests/security/test_login_rate_limits.py).
FAST_SCRYPT_ENV = {TEST_LOG2_N_ENV: "10"}

#: set (to anything) to start each server as ``python -m callscope serve`` instead of forking it
#: from a process that imported callscope once (tests/helpers/forkserve.py)
EXEC_SERVERS_ENV = "CALLSCOPE_TEST_EXEC_SERVERS"

#: every started server by port, so helpers can find the token for a URL
SERVERS: dict[int, Server] = {}

#: a first boot's data directory by ``production_scrypt`` (see ``Server.template``), made once
#: per test worker
_TEMPLATES: dict[bool, Path] = {}


def _first_boot(production_scrypt: bool) -> Path:
    """The data directory a server left after its first boot (the schema migrated, the demo
    account seeded) and a clean stop: copied, it spares each later server of this worker
    both (≈ 0.5 s of a core each, and a run starts some two hundred servers)."""
    made = _TEMPLATES.get(production_scrypt)
    if made is None:
        root = Path(tempfile.mkdtemp(prefix="callscope-first-boot-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        first = Server(root / "data", production_scrypt=production_scrypt, template=False)
        first.start(timeout_s=60)
        if first.stop() != 0:
            raise RuntimeError(f"the first-boot server did not stop cleanly:\n{first.log()}")
        made = _TEMPLATES[production_scrypt] = first.data_dir
    return made


@dataclass
class Server:
    """A `callscope serve` subprocess. ``start`` waits for /health; ``kill`` is SIGKILL."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    #: run transcription workers (off unless a test is about transcripts: each worker loads
    #: the speech model, ≈ 1 s and 150 MB)
    asr: bool = False
    #: with ``asr``, also decode partial results (each is a whole whisper decode, most of a
    #: transcribed test's CPU): only for a test about partials or a realistic walk-through
    partials: bool = False
    #: allow WebHook receivers on 127.0.0.1 (the tests' receivers are there); the security
    #: tests turn it off to see the default, which refuses non-public targets
    webhook_private: bool = True
    #: also listen for RingCX gRPC dialogs (plaintext, on loopback) on ``grpc_port``
    grpc: bool = False
    grpc_port: int = field(default_factory=free_port)
    #: the server speaks HTTPS (--http-tls): how to trust it
    https: ssl.SSLContext | None = None
    #: hash passwords at the production cost (see FAST_SCRYPT_ENV)
    production_scrypt: bool = False
    #: begin a new data directory as a copy of a first boot's (``_first_boot``) instead of
    #: migrating and seeding it again; only for SQLite in ``data_dir``. False for a test of
    #: the first boot itself (migrations and seeding are also tested on their own)
    template: bool = True
    proc: subprocess.Popen[bytes] | ForkedServer | None = None
    log_path: Path | None = None
    _token: str | None = None

    @property
    def http(self) -> str:
        return f"{'https' if self.https else 'http'}://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ringcx/stream"

    @property
    def grpc_url(self) -> str:
        return f"grpc://127.0.0.1:{self.grpc_port}"

    def start(self, timeout_s: float = 30.0) -> Server:
        if os.environ.get("CALLSCOPE_TEST_NO_SERVERS"):
            raise RuntimeError("`make quick` starts no server: move this test out of tests/unit")
        if self._from_template():
            shutil.copytree(_first_boot(self.production_scrypt), self.data_dir)
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        with self.log_path.open("ab") as log:
            self.proc = self._spawn(log)
        SERVERS[self.port] = self
        self._token = None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(
                    self.http + "/health", timeout=1, context=self.https
                ) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not become healthy:\n{self.log()}")

    def _from_template(self) -> bool:
        return (
            self.template
            and not self.data_dir.exists()
            and not any(a.startswith(("--database-url", "--data-dir")) for a in self.extra_args)
            and "CALLSCOPE_DATABASE_URL" not in os.environ
        )

    def _spawn(self, log: BinaryIO) -> subprocess.Popen[bytes] | ForkedServer:
        argv = [
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *(["--grpc-port", str(self.grpc_port)] if self.grpc else []),
            *self.extra_args,
        ]
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            **({} if self.asr else {"CALLSCOPE_ASR_WORKERS": "0"}),
            **({} if self.partials else {"CALLSCOPE_ASR_PARTIAL_INTERVAL_MS": "0"}),
            **({} if self.production_scrypt else FAST_SCRYPT_ENV),
            "CALLSCOPE_EVENTS_WEBHOOK_ALLOW_PRIVATE": str(self.webhook_private).lower(),
        }
        if not os.environ.get(EXEC_SERVERS_ENV):
            assert self.log_path is not None
            return ForkedServer(argv, env, str(self.log_path))
        return subprocess.Popen(
            [sys.executable, "-m", "callscope", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def credentials(self) -> dict[str, Any]:
        """The demo account the server created on its first start."""
        data: dict[str, Any] = json.loads((self.data_dir / "demo-credentials.json").read_text())
        return data

    @property
    def stream_secret(self) -> str:
        """The demo streaming profile's secret (QUEUE 4401 of sub-account 88800012)."""
        secret: str = self.credentials()["streaming"]["secret"]
        return secret

    @property
    def stream_headers(self) -> dict[str, str]:
        return {"X-Streaming-Secret": self.stream_secret}

    def login(self, username: str | None = None, password: str | None = None) -> dict[str, Any]:
        """Password grant for the demo app; returns the token response."""
        creds = self.credentials()
        return self._grant(
            {
                "grant_type": "password",
                "username": username or creds["username"],
                "password": password or creds["password"],
            }
        )

    def _grant(self, fields: dict[str, str]) -> dict[str, Any]:
        creds = self.credentials()
        basic = base64.b64encode(f"{creds['clientId']}:{creds['clientSecret']}".encode()).decode()
        form = urllib.parse.urlencode(fields).encode()
        req = urllib.request.Request(
            self.http + "/restapi/oauth/token",
            data=form,
            headers={"Authorization": f"Basic {basic}"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            body: dict[str, Any] = json.loads(r.read())
        return body

    @property
    def headers(self) -> dict[str, str]:
        """Bearer headers of the demo supervisor (an admin), fetched once."""
        if self._token is None:
            self._token = self.login()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise
        return self.proc.returncode if self.proc else 0


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[type[Server]]:
    started: list[Server] = []

    class _Server(Server):
        def start(self, timeout_s: float = 30.0) -> Server:
            started.append(self)
            return super().start(timeout_s)

    yield _Server
    for s in started:
        s.kill()


@pytest.fixture
def server(server_factory: type[Server], tmp_path: Path) -> Server:
    return server_factory(tmp_path / "data", extra_args=["--ingest-idle-timeout-s", "2"]).start()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for every test (of a worker) that leaves nothing another test reads: a
    refused request, a read of the demo account, a user or subscription of its own with
    fresh ids. A test that counts calls, lists everything or changes the demo account takes
    ``server`` (a fresh one) instead."""
    srv = Server(
        tmp_path_factory.mktemp("shared") / "data", extra_args=["--ingest-idle-timeout-s", "2"]
    ).start()
    yield srv
    srv.kill()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the tests of one module that read or refuse but store nothing another
    test of it reads (refused streams count against the address's ingest budget: a module
    that refuses many keeps them to itself this way)."""
    srv = Server(
        tmp_path_factory.mktemp("module") / "data", extra_args=["--ingest-idle-timeout-s", "2"]
    ).start()
    yield srv
    srv.kill()


async def serve_local(port: int, *routes: web.RouteDef) -> web.AppRunner:
    """A small aiohttp app on 127.0.0.1:``port`` (a webhook receiver or a stub of another
    service); ``cleanup()`` the runner to stop it."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def simulate_command(server: Server, *args: str) -> list[str]:
    """`callscope simulate` against ``server``, without a progress display, presenting the
    demo streaming profile's secret (from the server's demo-credentials.json)."""
    return [
        sys.executable,
        "-m",
        "callscope",
        "simulate",
        "--quiet",
        "--url",
        server.ws,
        "--credentials",
        str(server.data_dir / "demo-credentials.json"),
        *args,
    ]


def make_stereo_fixture(path: Path, seconds: float = 4.0, seed: int = 3) -> np.ndarray:
    """A stereo call-like signal (tones and noise bursts per side), already μ-law exact.

    Generated, not recorded: no licence applies. Returns the int16 samples, shape (n, 2).
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * 8000) // 160 * 160
    t = np.arange(n) / 8000
    agent = 6000 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 0.7 * t) > 0)
    caller = 5000 * np.sin(2 * np.pi * 620 * t + 0.3) * (np.sin(2 * np.pi * 0.7 * t) <= 0)
    agent = agent + rng.normal(0, 300, n)
    caller = caller + rng.normal(0, 300, n)
    pcm = np.stack([agent, caller], axis=1).clip(-32000, 32000).astype(np.int16)
    exact = ulaw2lin(lin2ulaw(pcm.reshape(-1))).reshape(-1, 2)
    w = WavWriter(path)
    w.write_stereo(exact[:, 0], exact[:, 1])
    w.close()
    return exact

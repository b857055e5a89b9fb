"""`callscope serve` forked from a process that imported callscope once.

A server process started with ``python -m callscope serve`` spends most of its start-up
importing (aiohttp, SQLAlchemy, Alembic, grpc, numpy: 1-3 s of a core on a loaded machine);
a test run starts a hundred of them. Here a multiprocessing fork server imports
:mod:`callscope.cli` and :mod:`callscope.app` once per test worker and forks each server
from it: the child runs the same ``callscope.cli.main(["serve", ...])`` that the command
runs, in a process of its own, with its own environment, its output in its log file.

:class:`ForkedServer` answers what the tests ask of a :class:`subprocess.Popen`
(``pid``, ``poll``, ``wait``, ``send_signal``, ``terminate``, ``kill``, ``returncode``).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

#: what the fork server imports before it forks anything; the last boots one server there
#: (tests/helpers/warmup.py), so that every forked server starts with its caches filled
PRELOAD = [
    "callscope.cli",
    "callscope.app",
    "tests.helpers.forkserve",
    "pytest",
    "tests.helpers.warmup",
]

_context: ForkServerContext | None = None
_started: list[ForkedServer] = []


def _fork_server() -> ForkServerContext:
    global _context  # one fork server per test worker, made on first use
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
        atexit.register(_kill_all)  # before multiprocessing's own exit joins them
    return _context


def _kill_all() -> None:
    for server in _started:
        server.kill()
        server.wait(10)


def _serve(argv: list[str], env: dict[str, str], out_path: str, err_path: str) -> None:
    """The child: the files as stdout and stderr, the given environment, then the CLI."""
    for fd, path in ((1, out_path), (2, err_path)):
        file = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(file, fd)
        os.close(file)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.environ.clear()
    os.environ.update(env)
    from callscope.cli import main

    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


class ForkedServer:
    """A forked `callscope` process, driven like a :class:`subprocess.Popen`."""

    def __init__(
        self, argv: list[str], env: dict[str, str], log_path: str, err_path: str | None = None
    ) -> None:
        self.args = argv
        self._process: BaseProcess = _fork_server().Process(
            target=_serve, args=(argv, env, log_path, err_path or log_path), name="callscope"
        )
        self._process.start()
        _started.append(self)

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def run(argv: list[str], env: dict[str, str], tmp: Path, timeout_s: float) -> tuple[int, str, str]:
    """A short `callscope` command (``admin``, ...) forked like a server: its exit status,
    stdout and stderr (kept in ``tmp``)."""
    handle, out = tempfile.mkstemp(dir=tmp, prefix="cli-", suffix=".out")
    os.close(handle)
    err = out[: -len(".out")] + ".err"
    proc = ForkedServer(argv, env, out, err)
    try:
        code = proc.wait(timeout_s)
    finally:
        proc.kill()
    try:
        return code, Path(out).read_text(), Path(err).read_text()
    finally:
        os.unlink(out)
        os.unlink(err)

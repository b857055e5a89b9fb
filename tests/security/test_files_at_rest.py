"""Recordings, the database and credentials are readable by the server's user only."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from callscope.protocols.ringcx import (
    PERSPECTIVES,
    build_connected,
    build_media,
    build_start,
    build_stop,
)
from callscope.store.files import private_dir, private_file
from tests.conftest import Server
from tests.security.ingest_helpers import DEMO_PRODUCT, wait_for_call

pytestmark = pytest.mark.slow


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    """A permissive umask for what is created (and spawned) inside: modes must not rely on it."""
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


async def _one_call(server: Server) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(
            server.ws + f"?callId=at-rest&rcAccountId=70000001&{DEMO_PRODUCT}",
            headers=server.stream_headers,
        ) as ws,
    ):
        await ws.send_str(build_connected().decode())
        await ws.send_str(build_start({"callId": "at-rest"}).decode())
        for seq in range(1, 11):
            for p in PERSPECTIVES:
                await ws.send_str(build_media(p, seq, b"\x10" * 160).decode())
        for _ in PERSPECTIVES:
            await ws.send_str(build_stop(0.2, "2026-01-01T00:00:00Z").decode())
        await ws.receive(timeout=20)
    return await wait_for_call(server, "completed")


async def test_a_fresh_server_keeps_its_files_private(
    server_factory: type[Server], tmp_path: Path
) -> None:
    data = tmp_path / "srv" / "data"  # the parent is missing too
    with umask(0o000):
        server = server_factory(data, extra_args=[])
        (tmp_path / "srv").mkdir(mode=0o755)  # the log file lives next to the data dir
        server.start()
    call = await _one_call(server)
    assert mode(data) == 0o700
    assert mode(data / "recordings") == 0o700
    assert mode(data / "recordings" / f"{call['id']}.wav") == 0o600
    assert mode(data / "demo-credentials.json") == 0o600
    db = data / "callscope.db"
    assert mode(db) == 0o600
    for extra in ("callscope.db-wal", "callscope.db-shm"):  # SQLite in WAL mode, live
        assert mode(data / extra) == 0o600, extra
    others = {p.name: oct(mode(p)) for p in data.rglob("*") if p.is_file() and mode(p) & 0o077}
    assert others == {}
    assert "data directory" not in server.log()  # nothing to warn about


async def test_an_open_data_dir_is_left_as_made_and_warned_about(
    server_factory: type[Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)  # the operator's choice
    server = server_factory(data, extra_args=[]).start()
    assert mode(data) == 0o755
    lines = [line for line in server.log().splitlines() if "data directory" in line]
    assert len(lines) == 1
    assert " WARNING " in lines[0]
    assert "mode 0755" in lines[0]
    assert "chmod 700" in lines[0]
    # what the server creates inside is private all the same
    assert mode(data / "recordings") == 0o700
    assert mode(data / "callscope.db") == 0o600


def test_private_dir_and_file_ignore_the_umask(tmp_path: Path) -> None:
    with umask(0o000):
        assert private_dir(tmp_path / "a" / "b")
        private_file(tmp_path / "a" / "b" / "f")
    assert mode(tmp_path / "a") == 0o700
    assert mode(tmp_path / "a" / "b") == 0o700
    assert mode(tmp_path / "a" / "b" / "f") == 0o600
    # an existing directory or file is not touched
    (tmp_path / "a").chmod(0o750)
    (tmp_path / "a" / "b" / "f").chmod(0o640)
    assert not private_dir(tmp_path / "a")
    private_file(tmp_path / "a" / "b" / "f")
    assert mode(tmp_path / "a") == 0o750
    assert mode(tmp_path / "a" / "b" / "f") == 0o640

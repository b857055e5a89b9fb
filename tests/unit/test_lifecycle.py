"""The server's lifecycle without a server: phases, the drain's wait, ingest keepalive
pings, and the start-up checks of the data directory and the database."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from callscope.config import Settings
from callscope.errors import ConfigError, InvalidState
from callscope.ingest import IngestService
from callscope.lifecycle import Lifecycle, Phase, drain
from callscope.metrics import Registry
from callscope.store.db import check_database
from callscope.store.files import check_data_dir


def test_a_drain_moves_serving_to_draining_once_and_then_to_stopping() -> None:
    life = Lifecycle()
    assert (life.phase, life.draining) == (Phase.STARTING, False)
    life.serving()
    assert life.request_drain("SIGTERM") is True
    assert (life.phase, life.draining, life.drain_reason) == (Phase.DRAINING, True, "SIGTERM")
    assert life.drain_requested.is_set()
    assert life.request_drain("drain request") is False  # asked again: nothing changes
    assert life.drain_reason == "SIGTERM"
    life.stopping()
    life.stopping()  # idempotent
    assert (life.phase, life.draining) == (Phase.STOPPING, True)
    assert life.request_drain("SIGINT") is False


def test_moves_a_phase_does_not_allow_raise_invalid_state() -> None:
    life = Lifecycle()
    life.request_drain("SIGTERM")  # before serving: a start can be drained
    with pytest.raises(InvalidState, match="cannot go from draining to serving"):
        life.serving()
    done = Lifecycle()
    done.stopping()
    with pytest.raises(InvalidState, match="cannot go from stopping to serving"):
        done.serving()


class FakeStreams:
    def __init__(self, n: int) -> None:
        self.connections: set[int] = set(range(n))
        self.idle = asyncio.Event()
        if not n:
            self.idle.set()

    def end_all(self) -> None:
        self.connections.clear()
        self.idle.set()


def draining() -> Lifecycle:
    life = Lifecycle()
    life.serving()
    life.request_drain("test")
    return life


async def test_drain_returns_at_once_when_nothing_is_live() -> None:
    assert await asyncio.wait_for(drain(draining(), FakeStreams(0), 3600), 5) == 0


async def test_drain_returns_when_the_last_stream_ends() -> None:
    streams = FakeStreams(2)
    task = asyncio.create_task(drain(draining(), streams, 3600, report_every_s=0.01))
    await asyncio.sleep(0.05)
    assert not task.done()
    streams.end_all()
    assert await asyncio.wait_for(task, 5) == 0


async def test_drain_gives_up_at_its_timeout_and_reports_what_is_left() -> None:
    assert await asyncio.wait_for(drain(draining(), FakeStreams(3), 0.05), 5) == 3
    assert await asyncio.wait_for(drain(draining(), FakeStreams(3), 0), 5) == 3


async def test_a_second_signal_cuts_the_drain_short() -> None:
    life = draining()
    task = asyncio.create_task(drain(life, FakeStreams(1), 3600))
    await asyncio.sleep(0.05)
    life.cut_short()
    assert await asyncio.wait_for(task, 5) == 1


class FakeCall:
    def __init__(self, last_ping: float, *, ping: bool = True, finished: bool = False) -> None:
        self.last_ping = last_ping
        self.finished = finished
        self.pinged = 0
        self.ping = self._ping if ping else None

    def _ping(self) -> Coroutine[Any, Any, None]:
        async def go() -> None:
            self.pinged += 1

        return go()


async def test_keepalive_pings_each_websocket_stream_on_its_own_interval() -> None:
    service = IngestService(Settings(), calls=None, registry=Registry())  # type: ignore[arg-type]
    due, recent, grpc, ended = (
        FakeCall(100.0),
        FakeCall(109.5),
        FakeCall(0.0, ping=False),
        FakeCall(0.0, finished=True),
    )
    service.connections.update([due, recent, grpc, ended])  # type: ignore[list-item]
    service._keepalive(110.0, 10.0)
    await asyncio.sleep(0)  # the pings are tasks
    assert (due.pinged, recent.pinged, ended.pinged) == (1, 0, 0)
    assert (due.last_ping, recent.last_ping) == (110.0, 109.5)
    service._keepalive(115.0, 10.0)  # not due again yet
    await asyncio.sleep(0)
    assert due.pinged == 1


def test_an_ingest_service_refuses_new_streams_once_its_server_drains() -> None:
    service = IngestService(Settings(), calls=None, registry=Registry())  # type: ignore[arg-type]
    assert service.accepting
    service.lifecycle.request_drain("SIGTERM")
    assert not service.accepting


def test_data_dir_is_created_private_and_proved_writable(tmp_path: Path) -> None:
    data = tmp_path / "a" / "data"
    check_data_dir(data)
    assert (data / "recordings").is_dir()
    assert oct(data.stat().st_mode & 0o777) == oct(0o700)
    assert sorted(os.listdir(data)) == ["recordings"]  # the write probe is gone


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p.write_text("x") and p, "is not a directory"),
        (lambda p: p.write_text("x") and p / "sub", "cannot be created"),
        (lambda p: (p.mkdir(), (p / "recordings").write_text("x")) and p, "not writable"),
    ],
)
def test_an_unusable_data_dir_names_itself(tmp_path: Path, make: Any, match: str) -> None:
    path = make(tmp_path / "data")
    with pytest.raises(ConfigError, match=match) as caught:
        check_data_dir(path)
    assert str(path) in str(caught.value)


async def test_database_check_passes_on_a_usable_database(tmp_path: Path) -> None:
    await check_database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")


async def test_database_check_names_an_unparsable_url_without_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        await check_database("nodriver://admin:hunter2@db.example/calls")
    message = str(caught.value)
    assert message.startswith("nodriver://admin:***@db.example/calls: cannot connect (")
    assert "hunter2" not in message
    assert "\n" not in message

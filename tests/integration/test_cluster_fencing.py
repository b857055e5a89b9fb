"""A node cut off from Redis — but not from PostgreSQL or its callers — fences itself.

Nodes A and B share one PostgreSQL database and one Redis; A reaches Redis through a TCP
proxy the test can cut (a black hole: nothing passes, nothing is refused) and mend. With a
RingCX stream, a gRPC dialog and a supervisor's web phone on A, A's Redis is cut: before B
may take A for dead, A ends its calls as a crash would (``interrupted``), tells each sender
why, closes the web phone and refuses new streams and phones. B then reaps A and finds
nothing left to end: each session's Disconnected is written once, by A, with the next
sequence. Once Redis is back, A takes streams again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import urllib.parse
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callscope.sim.runner import CallResult, SimOptions
from tests.conftest import Server, free_port, make_stereo_fixture
from tests.helpers.login import request
from tests.helpers.phone import Phone, extensions, monitoring_group, supervise
from tests.helpers.receiver import LIFECYCLE, Receiver, subscribe
from tests.helpers.runner import call_options, live_session, run_calls, start_call
from tests.helpers.wait import until, until_async
from tests.integration.services import REDIS_URL

pytestmark = pytest.mark.slow

DEAD_AFTER_S = 6.0  # A fences itself after half of it without a heartbeat through (a loaded
# machine may stall a node for a second or two: that must not fence it before the test cuts it)


class RedisLink:
    """A TCP proxy from one node to the shared Redis. :meth:`cut` makes it a black hole
    (connections stay open, bytes and new connections wait, as on a partitioned network);
    :meth:`mend` lets everything through again.

    It runs on an event loop of its own, in a thread: work on the test's loop (the
    simulated call it sends) must not stall the node's heartbeats and fence it early."""

    def __init__(self, upstream: str = REDIS_URL) -> None:
        url = urllib.parse.urlsplit(upstream)
        self.upstream = (url.hostname or "127.0.0.1", url.port or 6379)
        self.port = free_port()
        self.open = asyncio.Event()  # used on the link's own loop only
        self.open.set()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="redis-link", daemon=True
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def _on_link_loop(self, coro: Coroutine[Any, Any, None]) -> None:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    async def start(self) -> RedisLink:
        self._thread.start()
        await self._on_link_loop(self._listen())
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.open.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.open.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def _switch(self, on: bool) -> None:
        """Open or cut the link, done on its loop before this returns."""

        async def switch() -> None:
            if on:
                self.open.set()
            else:
                self.open.clear()

        asyncio.run_coroutine_threadsafe(switch(), self._loop).result(5)

    def cut(self) -> None:
        self._switch(False)

    def mend(self) -> None:
        self._switch(True)

    async def _close(self) -> None:
        self.open.set()
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def stop(self) -> None:
        await self._on_link_loop(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join, 5)
        self._loop.close()


def node_args(name: str, pg_url: str, prefix: str, redis_url: str) -> list[str]:
    return [
        *("--database-url", pg_url, "--redis-url", redis_url, "--redis-prefix", prefix),
        *("--node-id", name, "--node-heartbeat-s", "1"),
        *("--node-dead-after-s", str(DEAD_AFTER_S), "--ingest-idle-timeout-s", "30"),
    ]


async def health(server: Server) -> tuple[int, dict[str, Any]]:
    return await request(server, "GET", "/health")  # type: ignore[no-any-return]


async def call_by_session(server: Server, session_id: str) -> dict[str, Any]:
    _, call = await request(
        server, "GET", f"/calls/{session_id.removeprefix('s-')}", headers=server.headers
    )
    return call  # type: ignore[no-any-return]


def events_of(receiver: Receiver, session_id: str) -> list[dict[str, Any]]:
    """The session's telephony events as delivered, each once (delivery is at-least-once:
    a notification may come twice with its ``uuid``)."""
    seen: set[str] = set()
    out = []
    for n in receiver.telephony(session_id):
        if n["uuid"] not in seen:
            seen.add(n["uuid"])
            out.append(n["body"])
    return out


def assert_ended_once(events: list[dict[str, Any]]) -> None:
    """Sequences strictly increase; exactly one event disconnects the parties, and it is the
    last: every party in it is Disconnected and none was before."""
    sequences = [e["sequence"] for e in events]
    assert sequences == sorted(set(sequences)), sequences
    disconnecting = [
        i
        for i, e in enumerate(events)
        if any(p["status"]["code"] == "Disconnected" for p in e["parties"])
    ]
    assert disconnecting == [len(events) - 1], [
        [p["status"]["code"] for p in e["parties"]] for e in events
    ]
    last = events[-1]["parties"]
    assert {p["status"]["code"] for p in last} == {"Disconnected"}
    assert {p["status"]["reason"] for p in last} == {"InternalError"}  # as a crash


async def test_a_node_cut_off_from_redis_fences_itself_before_it_is_reaped(
    pg_url: str, redis_prefix: str, server_factory: type[Server], tmp_path: Path
) -> None:
    link = await RedisLink().start()
    receiver = await Receiver().start()
    data = tmp_path / "data"  # one data directory: the recordings are on shared storage
    a = server_factory(
        data, grpc=True, extra_args=node_args("node-a", pg_url, redis_prefix, link.url)
    )
    b = server_factory(data, extra_args=node_args("node-b", pg_url, redis_prefix, REDIS_URL))
    # started off the event loop: A's Redis proxy runs on it
    await asyncio.to_thread(a.start)
    await asyncio.to_thread(b.start)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=60.0)
    phone: Phone | None = None
    calls: list[asyncio.Task[CallResult]] = []
    try:
        exts = await extensions(b)
        await monitoring_group(b, {"101": ["Monitoring"], "102": ["Monitored"]}, exts)
        await subscribe(b, receiver.url)
        phone = await Phone(a, a.headers["Authorization"][7:]).connect()
        # on A: a RingCX stream (agent 102), a gRPC dialog (agent 103), a supervisor
        calls.append(start_call(call_options(a, source, two_way=False)))
        grpc = SimOptions(
            sources=(source,), transport="grpc", url=a.grpc_url, secret=a.stream_secret
        )
        calls.append(start_call(grpc, index=1))
        ws_sid = (await live_session(b, exts["102"]))["telephonySessionId"]
        grpc_sid = (await live_session(b, exts["103"]))["telephonySessionId"]
        status, party = await supervise(
            a,
            ws_sid,
            {
                "mode": "Listen",
                "supervisorDeviceId": phone.device_id,
                "agentExtensionNumber": "102",
            },
        )
        assert status == 201, party
        await until(lambda: phone and phone.first("StreamStarted"), what="the supervisor listens")
        await until(
            lambda: all(len(events_of(receiver, s)) >= 3 for s in (ws_sid, grpc_sid)),
            what="Setup, Proceeding, Answered of both calls",
        )

        link.cut()

        # the senders are told why, at once (RingCX: WebSocket close 1001; gRPC UNAVAILABLE)
        ws_call, grpc_call = await asyncio.wait_for(asyncio.gather(*calls), DEAD_AFTER_S + 15)
        assert ws_call.status == "failed"
        assert (ws_call.close_code, ws_call.close_reason) == (
            1001,
            "node cut off from its cluster: reconnect",
        )
        assert grpc_call.status == "failed"
        # the node answers UNAVAILABLE, and logs what it answered: a grpc.aio sender whose
        # write was on its way when that status arrived sees INTERNAL "Internal error from
        # Core" instead (grpc/grpc#36066, a client bug), so then the node's own word is read
        said = "gRPC dialog ended by this node: UNAVAILABLE (node cut off from its cluster"
        assert said in a.log(), a.log()[-3000:]
        if grpc_call.detail != "INTERNAL: Internal error from Core":
            assert grpc_call.detail.startswith("UNAVAILABLE"), grpc_call.detail
        # the supervisor's stream ends and its web phone is closed, to connect elsewhere
        assert phone.task is not None
        await asyncio.wait_for(phone.task, 15)
        assert phone.of("StreamEnded")
        assert phone.ws is not None
        assert phone.ws.close_code == 1001
        # while fenced, A refuses new streams and web phones, and says so to a balancer
        status, body = await health(a)
        assert (status, body["status"], body["cluster"]["fenced"]) == (503, "fenced", True)
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(a.ws, headers=a.stream_headers)
            assert refused.value.status == 503
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(
                    a.http + "/supervision/device",
                    params={"access_token": a.headers["Authorization"][7:]},
                )
            assert refused.value.status == 503

        # B takes A for dead, and finds nothing A had not ended itself
        await until_async(lambda: _only_b_alive(b), timeout=DEAD_AFTER_S + 20, what="B reaps A")

        async def reaped() -> bool:  # the count goes up once the reap has been done
            _, metrics = await request(b, "GET", "/metrics")
            return "callscope_cluster_nodes_reaped_total 1" in metrics

        await until_async(reaped, timeout=20, what="B's reap of A done")
        for sid in (ws_sid, grpc_sid):
            call = await call_by_session(b, sid)
            assert call["status"] == "interrupted"
            assert "node node-a was cut off from the cluster" in call["endReason"], call
            assert "stopped mid-call" not in call["endReason"]  # not marked again by B
        assert "marked interrupted" not in b.log()

        # Redis is back: A takes streams again
        link.mend()
        await until_async(
            lambda: _healthy(a), timeout=DEAD_AFTER_S + 20, what="A back in the cluster"
        )
        await run_calls(a, "--speed", "20", "--max-frames", "50")

        async def completed() -> list[dict[str, Any]]:  # stored just after the stream closes
            _, done = await request(a, "GET", "/calls?status=completed", headers=a.headers)
            return list(done["records"])

        records = await until_async(completed, what="the new call completed on A")
        assert len(records) == 1
        last_sid = records[0]["telephonySessionId"]
        # delivered in order: once the new call's Disconnected is in, any Disconnected
        # written before it (by B's reap) would be too
        await until(
            lambda: len(events_of(receiver, last_sid)) == len(LIFECYCLE),
            what="the new call's events",
        )
        for sid in (ws_sid, grpc_sid):
            assert_ended_once(events_of(receiver, sid))
        ws_events = events_of(receiver, ws_sid)
        assert {p["id"] for p in ws_events[-1]["parties"]} >= {party["id"]}  # the supervisor
    finally:
        for task in calls:
            task.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        if phone is not None:
            with contextlib.suppress(Exception):
                await phone.close()
        await receiver.stop()
        await link.stop()


async def _only_b_alive(b: Server) -> bool:
    _, body = await health(b)
    return bool(body["cluster"]["nodesAlive"] == ["node-b"])


async def _healthy(server: Server) -> bool:
    status, _ = await health(server)
    return status == 200

"""The gRPC load of ``bench/ingest.py --transport grpc``: RingCX dialogs streamed in real time.

Each call is one client-streaming ``Stream`` RPC, as RingCX sends it (spec §11.4; the
simulator's ``callscope.sim.grpcsim`` is the model): ``dialog_init``, the caller's and the
agent's ``segment_start`` (PCMU, 8000 Hz, ``ptime`` 100), then every 100 ms one
``segment_media`` chunk per segment (``seq`` counting from 1, the bundled demo call looped):
20 messages per second per call, a fifth of a WebSocket stream's 100. At the end each call
sends ``segment_stop`` for both segments and half-closes; the server answers ``Empty``.

Cheap on purpose, so the generator is not the limit: the media messages carry no
``session_id`` (the receiver accepts an empty one) and the same segment ids on every call, so
chunk *k*'s serialized ``StreamEvent`` is the same bytes for every call and is built once.
The RPCs are spread over a few channels (``channels``), each its own HTTP/2 connection
(a local subchannel pool); every call has its own task, which sleeps until its next chunk is
due and writes the two messages (grpc.aio allows one write in flight per call). Starts are
phase-spread: call *i* sends at ``t0 + φ(i) + k × 100 ms`` with φ a golden-ratio sequence
over the 100 ms, whatever the ramp's timing.

Figures the generator keeps: ``sent`` (messages handed to grpc, counted before the write),
``lateness`` (how far past its due time a task woke from its sleep: this process's own loop
lag), and ``held`` (chunks that fell due while their call's previous write was still
pending: usually HTTP/2 flow control holding the sender back because the server reads slower
than real time, which the server's lag then shows; ``gen_cpu_%`` near 100 says when it is
this process instead). ``bench/ingest.py`` runs it on uvloop when installed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import grpc
from google.protobuf import empty_pb2

from callscope.protocols import ringcx_streaming_pb2 as pb
from callscope.sim.grpcsim import CHUNK_FRAMES, METHOD, REFUSED
from callscope.sim.plan import CallAudio

__all__ = ["CHUNK_S", "MARK_GRACE_S", "OK_ENDING", "GrpcGenerator"]

CHUNK_S: Final = 0.1
#: a chunk sent this long before a scrape should have reached a server that keeps up
MARK_GRACE_S: Final = 0.03
#: how a call that ended as it should is tallied by :meth:`GrpcGenerator.end_calls`
OK_ENDING: Final = "OK"
#: fractional part of the golden ratio: phases i·φ mod 1 spread evenly for any count
_PHI: Final = 0.6180339887498949
_SEGMENTS: Final = ("seg-contact", "seg-agent")
NET_TIMEOUT_S: Final = 10.0
#: the account and product of the demo streaming profile (as the simulator's defaults)
ACCOUNT_ID, SUB_ACCOUNT_ID, RC_ACCOUNT_ID, QUEUE_ID = "88800010", "88800012", "70000001", "4401"


def opening(index: int, call_id: str) -> list[bytes]:
    """``dialog_init`` and both ``segment_start`` of one call (built once per call)."""
    session = f"sess-{call_id}"
    fmt = pb.AudioFormat(codec=pb.PCMU, rate=8000, ptime=100)
    init = pb.StreamEvent(
        session_id=session,
        dialog_init=pb.DialogInitEvent(
            account=pb.Account(
                id=ACCOUNT_ID, sub_account_id=SUB_ACCOUNT_ID, rc_account_id=RC_ACCOUNT_ID
            ),
            dialog=pb.Dialog(
                id=call_id,
                type=pb.INBOUND,
                ani=f"650555{index % 10000:04d}",
                dnis="6505550900",
                language="en-US",
            ),
        ),
    )
    contact = pb.StreamEvent(
        session_id=session,
        segment_start=pb.SegmentStartEvent(
            segment_id=_SEGMENTS[0],
            product=pb.Product(id=QUEUE_ID, type=pb.QUEUE),
            participant=pb.Participant(id=f"contact-{index}", type=pb.CONTACT, name="Customer"),
            audio_format=fmt,
        ),
    )
    agent_id = str(5501 + index % 3)
    agent = pb.StreamEvent(
        session_id=session,
        segment_start=pb.SegmentStartEvent(
            segment_id=_SEGMENTS[1],
            participant=pb.Participant(id=agent_id, type=pb.AGENT, name=f"Agent {agent_id}"),
            audio_format=fmt,
        ),
    )
    return [m.SerializeToString() for m in (init, contact, agent)]


def closing() -> list[bytes]:
    """``segment_stop`` of the agent, then of the caller (the same bytes for every call)."""
    return [
        pb.StreamEvent(segment_stop=pb.SegmentStopEvent(segment_id=sid)).SerializeToString()
        for sid in reversed(_SEGMENTS)
    ]


@dataclass(slots=True)
class Dialog:
    index: int
    rpc: Any  # grpc.aio.StreamUnaryCall
    task: asyncio.Task[None] | None = None
    ended: bool = False  # the RPC ended before the generator ended it


@dataclass
class GrpcGenerator:
    """N dialogs, each streaming in real time from its own task."""

    audio: CallAudio
    target: str  # host:port, plaintext
    secret: str
    channels: int = 4
    calls: list[Dialog] = field(default_factory=list)
    t0: float = 0.0
    sent: int = 0
    held: int = 0
    dropped_calls: int = 0
    failed_connects: int = 0
    errors: list[str] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    _cache: list[tuple[bytes, bytes]] = field(default_factory=list)
    _channels: list[grpc.aio.Channel] = field(default_factory=list)
    _stubs: list[Any] = field(default_factory=list)
    _running: bool = False
    _next_index: int = 0

    @property
    def stalls(self) -> int:
        return self.held

    # -- messages --

    def _extend_cache(self, chunks: int) -> None:
        """Chunk k (seq k + 1) of the caller and of the agent, serialized, for k < chunks."""
        n = self.audio.frames // CHUNK_FRAMES
        sources = (self.audio.caller, self.audio.agent)

        def chunk(sid: str, payload: bytes, seq: int) -> bytes:
            content = pb.AudioContent(payload=payload, seq=seq, duration=100)
            event = pb.SegmentMediaEvent(segment_id=sid, audio_content=content)
            return pb.StreamEvent(segment_media=event).SerializeToString()

        for k in range(len(self._cache), chunks):
            part = slice((k % n) * CHUNK_FRAMES, (k % n + 1) * CHUNK_FRAMES)
            caller, agent = (
                chunk(sid, b"".join(source[part]), k + 1)
                for sid, source in zip(_SEGMENTS, sources, strict=True)
            )
            self._cache.append((caller, agent))

    # -- lifecycle --

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.t0 = loop.time()
        self._extend_cache(256)
        options = [
            ("grpc.max_send_message_length", 64 * 1024),
            # each channel its own connection (channels to one target share one by default)
            ("grpc.use_local_subchannel_pool", 1),
        ]
        self._channels = [
            grpc.aio.insecure_channel(self.target, options=options) for _ in range(self.channels)
        ]
        self._stubs = [
            ch.stream_unary(
                METHOD,
                request_serializer=None,  # the messages are serialized already
                response_deserializer=empty_pb2.Empty.FromString,
            )
            for ch in self._channels
        ]
        self._running = True

    async def open_calls(self, count: int, over_s: float) -> None:
        """Open ``count`` more calls, spread over ``over_s`` seconds."""
        for j in range(count):
            self._open_one(self._next_index)
            self._next_index += 1
            if j < count - 1:
                await asyncio.sleep(over_s / count)
        # the server refuses a stream (auth, limits) within a moment: count those as failed
        await asyncio.sleep(0.5)

    def _open_one(self, index: int) -> None:
        stub = self._stubs[index % len(self._stubs)]
        rpc = stub(metadata=(("authorization", f"Bearer {self.secret}"),))
        call = Dialog(index, rpc)
        call.task = asyncio.create_task(self._stream(call), name=f"dialog-{index + 1}")
        self.calls.append(call)

    async def _stream(self, call: Dialog) -> None:
        loop = asyncio.get_running_loop()
        rpc = call.rpc
        try:
            for data in opening(call.index, f"bench-grpc-{call.index + 1:05d}"):
                await rpc.write(data)
            # the first chunk slot at or after now, on this call's phase
            phase = (call.index * _PHI) % 1.0 * CHUNK_S
            k0 = int((loop.time() - self.t0 - phase) // CHUNK_S) + 1
            base = self.t0 + phase + k0 * CHUNK_S
            cache, k = self._cache, 0
            while self._running:
                due = base + k * CHUNK_S
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                    self.lateness.append(loop.time() - due)
                elif k:
                    self.held += 1  # the previous write returned after this chunk was due
                if not self._running:
                    break
                if k >= len(cache):
                    self._extend_cache(k + 64)
                    cache = self._cache
                caller, agent = cache[k]
                self.sent += 2
                await rpc.write(caller)
                await rpc.write(agent)
                k += 1
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError) as exc:
            call.ended = True
            self.calls.remove(call)  # as the WebSocket generator prunes closed calls
            # writes are buffered: a refusal (bad secret, limits) may surface after a chunk
            code = exc.code() if isinstance(exc, grpc.aio.AioRpcError) else await _code(rpc)
            if code in REFUSED:
                self.failed_connects += 1
            else:
                self.dropped_calls += 1
            if len(self.errors) < 5:
                self.errors.append(f"call {call.index + 1}: {await _status(rpc, exc)}")

    async def mark(self, *, aligned: bool = True) -> tuple[int, int]:
        """(messages sent now, messages sent ``settle`` earlier): what a server that keeps up
        has read by now. Calls send at every phase, so there is no quiet moment to align on:
        the count is taken, then ``MARK_GRACE_S`` is given for the last ones to arrive."""
        settled = self.sent
        if aligned:
            await asyncio.sleep(MARK_GRACE_S)
        return self.sent, settled

    def take_lateness(self) -> list[float]:
        out, self.lateness = self.lateness, []
        return out

    # -- end --

    async def stop_media(self) -> None:
        self._running = False
        tasks = [c.task for c in self.calls if c.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=NET_TIMEOUT_S)
            for t in pending:
                t.cancel()

    async def end_calls(self) -> Counter[str]:
        """Both segment_stop on every call, half-close, and wait for the answers; tallies
        how calls ended (``OK``: the server answered Empty)."""
        stops = closing()

        async def end(call: Dialog) -> str:
            rpc = call.rpc
            try:
                if not call.ended:
                    for data in stops:
                        await rpc.write(data)
                    await rpc.done_writing()
                await rpc
                return OK_ENDING
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError) as exc:
                return await _status(rpc, exc)

        endings: Counter[str] = Counter()
        tasks = [asyncio.create_task(end(c)) for c in self.calls]
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=NET_TIMEOUT_S)
            endings.update(t.result() for t in done)
            endings["open"] += len(pending)
            for t in pending:
                t.cancel()
        return +endings

    def abort_all(self) -> None:
        self._running = False
        for c in self.calls:
            if c.task is not None and not c.task.done():
                c.task.cancel()
            with contextlib.suppress(Exception):
                c.rpc.cancel()

    async def close(self) -> None:
        for ch in self._channels:
            with contextlib.suppress(Exception):
                await ch.close(grace=None)


async def _code(rpc: Any) -> grpc.StatusCode | None:
    with contextlib.suppress(Exception):
        code: grpc.StatusCode = await rpc.code()
        return code
    return None


async def _status(rpc: Any, exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    with contextlib.suppress(Exception):
        return f"{(await rpc.code()).name}: {await rpc.details()}"
    return str(exc)

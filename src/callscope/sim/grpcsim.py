"""Simulated RingCX calls over gRPC (spec §11.4): one ``Stream`` RPC per dialog, as RingCX
sends it.

A dialog is planned from a stereo source (left = agent, right = caller), in 100 ms PCMU
chunks (``ptime`` 100, ``seq`` counting per segment from 1): ``dialog_init``, the caller's
``segment_start`` (with the product and the audio format) and media, then the agent's
segment, interleaved media, ``segment_stop`` of the agent, then of the caller. Options:

* ``bot_s`` — a BOT segment speaks first (the agent channel's first seconds, on the caller
  side of the recording, as RingCX mixes it), then the agent segment starts;
* ``transfer_at_s`` — the agent segment stops and a new AGENT segment (``transfer_to``)
  starts in the same dialog;
* ``hold_at_s`` / ``hold_s`` — ``segment_info`` hold on the caller's segment; the whole
  stream pauses (RingCX "may pause" streaming on hold) until ``unhold``;
* faults on chunks: ``reorder`` (sent 1-2 chunks late), ``duplicate``, ``drop``;
* ``vanish_after_s`` — the RPC is cancelled mid-call.

The secret goes in the ``authorization`` metadata as ``Bearer <secret>``. URLs:
``grpc://host:port`` (plaintext, loopback servers and tests) or ``grpcs://host:port`` (TLS;
``ca_file`` for a private CA).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import grpc
from google.protobuf import empty_pb2

from callscope.errors import SimulatorError
from callscope.protocols import ringcx_streaming_pb2 as pb
from callscope.sim.plan import CallAudio

if TYPE_CHECKING:
    from callscope.sim.runner import CallResult, Progress, SimOptions

__all__ = ["CHUNK_FRAMES", "METHOD", "DialogPlan", "plan_dialog", "run_dialog"]

METHOD = "/ringcentral.ringcx.streaming.v1beta2.Streaming/Stream"
#: 20 ms μ-law frames per 100 ms chunk (RingCX's default ptime)
CHUNK_FRAMES = 5
CHUNK_S = 0.1
#: gRPC statuses that mean "refused" (not retried by RingCX, nothing was stored)
REFUSED = {
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


@dataclass(slots=True)
class DialogPlan:
    """Serialized messages, each with the chunk tick it is due at."""

    messages: list[tuple[int, bytes, bool]]  # (tick, StreamEvent bytes, is media)
    dropped: dict[str, list[int]]
    reordered: int = 0
    duplicated: int = 0


def _event(session_id: str, **kw: Any) -> bytes:
    return pb.StreamEvent(session_id=session_id, **kw).SerializeToString()


def plan_dialog(
    opts: SimOptions, index: int, audio: CallAudio, call_id: str, rng: random.Random
) -> DialogPlan:
    """Every message of one dialog, in the order RingCX sends them (faults applied)."""
    session = f"sess-{call_id}"
    frames = audio.frames if opts.max_frames is None else min(audio.frames, opts.max_frames)
    chunks = frames // CHUNK_FRAMES
    agent_id = str(opts.agent_ids[index % len(opts.agent_ids)])
    fmt = pb.AudioFormat(codec=pb.PCMU, rate=8000, ptime=100)
    campaign = opts.product_type.upper() == "CAMPAIGN"
    product = pb.Product(id=str(opts.product_id), type=pb.CAMPAIGN if campaign else pb.QUEUE)
    out: list[tuple[int, bytes, bool]] = []
    dropped: dict[str, list[int]] = {}
    plan = DialogPlan(out, dropped)

    def add(tick: int, **kw: Any) -> None:
        out.append((tick, _event(session, **kw), False))

    add(
        0,
        dialog_init=pb.DialogInitEvent(
            account=pb.Account(
                id=opts.account_id,
                sub_account_id=opts.subaccount_id,
                rc_account_id=opts.rc_account_id,
            ),
            dialog=pb.Dialog(
                id=call_id,
                type=pb.OUTBOUND if campaign else pb.INBOUND,
                ani=f"650555{index % 10000:04d}",
                dnis="6505550900",
                language="en-US",
                attributes={"simulated": "true", "index": str(index)},
            ),
        ),
    )
    add(
        0,
        segment_start=pb.SegmentStartEvent(
            segment_id="seg-contact",
            product=product,
            participant=pb.Participant(id=f"contact-{index}", type=pb.CONTACT, name="Customer"),
            audio_format=fmt,
        ),
    )
    bot_chunks = round((opts.bot_s or 0) / CHUNK_S)
    hold = (
        (round(opts.hold_at_s / CHUNK_S), round((opts.hold_at_s + opts.hold_s) / CHUNK_S))
        if opts.hold_at_s is not None
        else None
    )
    transfer = round(opts.transfer_at_s / CHUNK_S) if opts.transfer_at_s is not None else None
    agents = [("seg-agent-1", agent_id)]
    if transfer is not None:
        to = str(opts.transfer_to or opts.agent_ids[(index + 1) % len(opts.agent_ids)])
        agents.append(("seg-agent-2", to))
    seq = {"seg-contact": 0, "seg-bot": 0, "seg-agent-1": 0, "seg-agent-2": 0}
    if bot_chunks:
        add(
            0,
            segment_start=pb.SegmentStartEvent(
                segment_id="seg-bot",
                participant=pb.Participant(id="ivr", type=pb.BOT, name="Virtual agent"),
                audio_format=fmt,
            ),
        )
    agent_segment: str | None = None

    def start_agent(tick: int, segment: str, who: str) -> None:
        add(
            tick,
            segment_start=pb.SegmentStartEvent(
                segment_id=segment,
                participant=pb.Participant(id=who, type=pb.AGENT, name=f"Agent {who}"),
                audio_format=fmt,
            ),
        )

    media: list[tuple[int, str, bytes]] = []
    for k in range(chunks):
        if k == bot_chunks and bot_chunks:
            add(k, segment_stop=pb.SegmentStopEvent(segment_id="seg-bot"))
        if k == bot_chunks:
            agent_segment = agents[0][0]
            start_agent(k, *agents[0])
        if transfer is not None and k == transfer and agent_segment == agents[0][0]:
            add(k, segment_stop=pb.SegmentStopEvent(segment_id=agent_segment))
            agent_segment = agents[1][0]
            start_agent(k, *agents[1])
        if hold is not None and k == hold[0]:
            add(k, segment_info=pb.SegmentInfoEvent(segment_id="seg-contact", event="hold"))
        if hold is not None and k == hold[1]:
            add(k, segment_info=pb.SegmentInfoEvent(segment_id="seg-contact", event="unhold"))
        part = slice(k * CHUNK_FRAMES, (k + 1) * CHUNK_FRAMES)
        left, right = b"".join(audio.agent[part]), b"".join(audio.caller[part])
        if hold is not None and hold[0] <= k < hold[1]:
            continue  # the stream pauses while the caller is on hold: nothing is sent
        media.append((k, "seg-contact", right))
        if k < bot_chunks:
            media.append((k, "seg-bot", left))
        elif agent_segment is not None:
            media.append((k, agent_segment, left))
        _flush_media(plan, media, seq, session, rng, opts)
        media.clear()
    if agent_segment is not None:
        add(chunks, segment_stop=pb.SegmentStopEvent(segment_id=agent_segment))
    elif bot_chunks:
        add(chunks, segment_stop=pb.SegmentStopEvent(segment_id="seg-bot"))
    add(chunks, segment_stop=pb.SegmentStopEvent(segment_id="seg-contact"))
    out.sort(key=lambda m: m[0])  # stable: same-tick order kept
    return plan


def _flush_media(
    plan: DialogPlan,
    media: list[tuple[int, str, bytes]],
    seq: dict[str, int],
    session: str,
    rng: random.Random,
    opts: SimOptions,
) -> None:
    f = opts.faults
    for tick, segment, payload in media:
        seq[segment] += 1
        n = seq[segment]
        message = _event(
            session,
            segment_media=pb.SegmentMediaEvent(
                segment_id=segment,
                audio_content=pb.AudioContent(payload=payload, seq=n, duration=100),
            ),
        )
        if f.drop and rng.random() < f.drop:
            plan.dropped.setdefault(segment, []).append(n)
            continue
        late = 0
        if f.reorder and rng.random() < f.reorder:
            late = rng.randint(1, 2)
            plan.reordered += 1
        plan.messages.append((tick + late, message, True))
        if f.duplicate and rng.random() < f.duplicate:
            plan.messages.append((tick + rng.randint(0, 2), message, True))
            plan.duplicated += 1


def _channel(opts: SimOptions) -> grpc.aio.Channel:
    url = urlsplit(opts.url)
    if url.scheme not in ("grpc", "grpcs") or not url.hostname or not url.port:
        raise SimulatorError(
            f"--url {opts.url}: a gRPC target is grpc://host:port (plaintext) or "
            "grpcs://host:port (TLS)"
        )
    target = f"{url.hostname}:{url.port}"
    options = [("grpc.max_send_message_length", 64 * 1024)]
    if url.scheme == "grpc":
        return grpc.aio.insecure_channel(target, options=options)
    roots = Path(opts.ca_file).read_bytes() if opts.ca_file else None
    creds = grpc.ssl_channel_credentials(root_certificates=roots)
    return grpc.aio.secure_channel(target, creds, options=options)


async def run_dialog(
    opts: SimOptions, index: int, audio: CallAudio, progress: Progress, result: CallResult
) -> CallResult:
    """Send one dialog; fills ``result`` (completed, vanished, refused or failed)."""
    rng = random.Random(opts.seed * 1_000_003 + index)
    plan = plan_dialog(opts, index, audio, result.call_id, rng)
    result.dropped = plan.dropped
    result.reordered, result.duplicated = plan.reordered, plan.duplicated
    step = CHUNK_S / opts.speed
    vanish_tick = round(opts.vanish_after_s / CHUNK_S) if opts.vanish_after_s is not None else None
    metadata = (("authorization", f"Bearer {opts.secret}"),) if opts.secret else ()
    vanished = asyncio.Event()

    async def messages() -> Any:
        t0 = time.monotonic()
        for tick, data, is_media in plan.messages:
            due = t0 + tick * step
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                result.max_slip_s = max(result.max_slip_s, -delay)
            if vanish_tick is not None and tick >= vanish_tick:
                vanished.set()  # the RPC is cancelled, as a killed sender's would be
                await asyncio.Event().wait()
            if call.done():
                # the server ended the dialog (refused, fenced, drained): no more writes. A
                # write after the server's status replaces that status by INTERNAL "Internal
                # error from Core" in grpc.aio (grpc/grpc#36066); this leaves only the writes
                # already on their way when the status arrives to that race
                return
            result.frames_sent += is_media
            progress.frames += 1
            yield data

    channel = _channel(opts)
    try:
        stub = channel.stream_unary(
            METHOD,
            request_serializer=lambda b: b,
            response_deserializer=empty_pb2.Empty.FromString,
        )
        call = stub(messages(), metadata=metadata)
        vanish = asyncio.create_task(vanished.wait())
        try:
            done, _ = await asyncio.wait(
                {vanish, asyncio.ensure_future(call)}, return_when=asyncio.FIRST_COMPLETED
            )
            if vanish in done:
                call.cancel()
                result.status, result.detail = "vanished", "cancelled mid-call"
            else:
                await call
                result.status = "completed"
        except grpc.aio.AioRpcError as exc:
            result.status = "refused" if exc.code() in REFUSED else "failed"
            result.detail = f"{exc.code().name}: {exc.details()}"
        finally:
            vanish.cancel()
            call.cancel()
    finally:
        await channel.close(grace=None)
        progress.done += 1
    return result

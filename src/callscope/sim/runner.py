"""Runs simulated RingCX calls against a server: pacing, retries, vanish, progress, summary."""

from __future__ import annotations

import asyncio
import binascii
import functools
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import numpy.typing as npt
import orjson

from callscope.errors import SimulatorError, UpgradeFailed, UpgradeRefused
from callscope.media.g711 import ulaw2lin
from callscope.media.wav import WavWriter
from callscope.protocols.ringcx import build_connected, build_media, build_start, build_stop
from callscope.protocols.twilio import (
    build_platform_mark,
    build_stream_connected,
    build_stream_media,
    build_stream_start,
    build_stream_stop,
    build_transfer,
)
from callscope.sim.plan import CallAudio, Faults, MediaBuilder, Plan, build_plan, load_audio
from callscope.sim.wsclient import WebSocketClient, connect

__all__ = ["CallResult", "Heard", "SimOptions", "default_source", "run_simulation"]

PROTOCOLS = ("ringcx", "twilio")
#: websocket (RingCX's WebSocket generation, or the two-way stream) or grpc (RingCX today)
TRANSPORTS = ("websocket", "grpc")

logger = logging.getLogger("callscope.sim")

FRAME_S = 0.020
#: RingCX: "If the websocket initiation fails with a 5xx error, we will attempt to retry up to
#: 3 attempts" — a 4xx is final.
UPGRADE_RETRIES = 3
#: how long a call waits for the server's Close after its own (the server answers once the
#: call is stored; many calls ending at once on a loaded machine take a few seconds)
CLOSE_WAIT_S = 30.0


def default_source() -> Path:
    """The scripted demo call shipped with the package (stereo μ-law, agent left)."""
    return Path(str(files("callscope.sim") / "data" / "call_password_reset.wav"))


@dataclass(frozen=True, kw_only=True)
class SimOptions:
    url: str = "ws://127.0.0.1:8080/ringcx/stream"
    calls: int = 1
    sources: tuple[Path, ...] = ()
    speed: float = 1.0
    faults: Faults = field(default_factory=Faults)
    vanish_after_s: float | None = None
    secret: str | None = None
    seed: int = 1
    ramp_s: float = 0.0
    max_frames: int | None = None
    account_id: str = "88800010"
    subaccount_id: str = "88800012"
    rc_account_id: str = "70000001"
    product_type: str = "Queue"
    product_id: int = 4401
    agent_ids: tuple[int, ...] = (5501, 5502, 5503)
    retry_backoff_s: float = 0.5
    #: ringcx (one-way, Connected/Start/Media/Stop) or twilio (two-way Media Streams set)
    protocol: str = "ringcx"
    #: two-way only: the platform transfers the call to ``transfer_to`` after this many seconds
    transfer_at_s: float | None = None
    #: RingCX agent id the call is transferred to (default: the next agent of agent_ids)
    transfer_to: int | None = None
    #: websocket or grpc (RingCX gRPC dialogs, callscope.sim.grpcsim)
    transport: str = "websocket"
    #: grpc: the caller is put on hold this many seconds in, for ``hold_s`` seconds
    hold_at_s: float | None = None
    hold_s: float = 3.0
    #: grpc: a BOT segment speaks for this many seconds before the agent's starts
    bot_s: float | None = None
    #: grpcs://: the CA certificate (PEM) the server's certificate chains to
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if self.calls < 1:
            raise SimulatorError("--calls must be at least 1")
        if self.speed <= 0:
            raise SimulatorError("--speed must be > 0 (1 = real time)")
        if self.protocol not in PROTOCOLS:
            raise SimulatorError(f"--protocol must be one of {', '.join(PROTOCOLS)}")
        if self.transport not in TRANSPORTS:
            raise SimulatorError(f"--transport must be one of {', '.join(TRANSPORTS)}")
        grpc = self.transport == "grpc"
        if grpc and self.protocol != "ringcx":
            raise SimulatorError("--transport grpc streams RingCX dialogs: drop --protocol")
        if self.transfer_at_s is not None:
            if self.protocol != "twilio" and not grpc:
                raise SimulatorError(
                    "--transfer-at needs --protocol twilio or --transport grpc: a RingCX "
                    "WebSocket stream cannot announce a transfer"
                )
            if self.transfer_at_s < 0:
                raise SimulatorError("--transfer-at is seconds into the call (≥ 0)")
        if not grpc and (self.hold_at_s is not None or self.bot_s is not None):
            raise SimulatorError("--hold-at and --bot need --transport grpc")
        if self.hold_at_s is not None and (self.hold_at_s < 0 or self.hold_s <= 0):
            raise SimulatorError("--hold-at is seconds into the call (≥ 0), --hold-for > 0")
        if self.bot_s is not None and self.bot_s <= 0:
            raise SimulatorError("--bot is the seconds the bot speaks first (> 0)")


class Heard:
    """What each simulated party heard from the server on a two-way stream.

    The server's ``media`` on track ``inbound`` is played to the agent, on ``outbound`` (or
    with no track) to the customer. Each 20 ms frame is placed at the call time it arrived
    (a later frame that lands on a taken slot goes to the next free one); silence elsewhere.
    ``mark`` is answered as a platform does once the audio before it has played.
    """

    LEGS = ("agent", "customer")

    def __init__(self, step_s: float) -> None:
        self.step_s = step_s
        self.t0 = time.monotonic()
        self.frames: dict[str, dict[int, bytes]] = {leg: {} for leg in self.LEGS}
        self.arrivals: dict[str, list[float]] = {leg: [] for leg in self.LEGS}
        self.marks = 0
        self.clears = 0
        self.bad = 0

    def on_message(self, raw: bytes, ws: WebSocketClient, stream_sid: str) -> None:
        now = time.monotonic()
        try:
            msg = orjson.loads(raw)
            event = msg["event"]
            if event == "media":
                media = msg["media"]
                leg = "agent" if media.get("track") == "inbound" else "customer"
                payload = binascii.a2b_base64(media["payload"])
                slot = int((now - self.t0) / self.step_s)
                frames = self.frames[leg]
                for i in range(0, len(payload), 160):
                    while slot in frames:
                        slot += 1
                    frames[slot] = payload[i : i + 160]
                    self.arrivals[leg].append(now)
            elif event == "mark":
                ws.send_text(build_platform_mark(stream_sid, str(msg["mark"]["name"])))
                self.marks += 1
            elif event == "clear":
                self.clears += 1
        except (ValueError, KeyError, TypeError, binascii.Error):
            self.bad += 1

    def count(self, leg: str) -> int:
        return len(self.frames[leg])

    def pcm(self, leg: str) -> npt.NDArray[np.int16]:
        """The leg's heard audio as 8 kHz PCM16 (silence where nothing was sent)."""
        frames = self.frames[leg]
        if not frames:
            return np.zeros(0, dtype=np.int16)
        ulaw = bytearray(b"\xff" * 160 * (max(frames) + 1))
        for slot, data in frames.items():
            ulaw[slot * 160 : slot * 160 + len(data)] = data
        return ulaw2lin(bytes(ulaw))

    def write(self, directory: Path, call_id: str) -> list[Path]:
        """``<call>-agent-heard.wav`` and ``<call>-customer-heard.wav`` (mono, 8 kHz)."""
        paths = []
        for leg in self.LEGS:
            path = directory / f"{call_id}-{leg}-heard.wav"
            writer = WavWriter(path, channels=1)
            writer.write_interleaved(self.pcm(leg).astype("<i2").tobytes())
            writer.close()
            paths.append(path)
        return paths


@dataclass
class CallResult:
    index: int
    call_id: str
    source: str
    status: str = "pending"  # completed | vanished | refused | failed
    detail: str = ""
    attempts: int = 0
    frames_sent: int = 0
    frames_planned: int = 0
    dropped: dict[str, list[int]] = field(default_factory=dict)
    reordered: int = 0
    duplicated: int = 0
    malformed: int = 0
    close_code: int | None = None
    close_reason: str = ""
    max_slip_s: float = 0.0
    protocol: str = "ringcx"
    transferred_to: int | None = None
    heard_frames: dict[str, int] = field(default_factory=dict)
    heard: Heard | None = field(default=None, repr=False)
    #: monotonic send time of each tick (two-way calls), for latency measurements
    tick_times: list[float] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("heard", "tick_times")}


def _call_query(opts: SimOptions, index: int, call_id: str) -> dict[str, str]:
    return {
        "callId": call_id,
        "sessionId": str(index + 1),
        "ani": f"650555{index % 10000:04d}",
        "dnis": "6505550900",
        "accountId": opts.account_id,
        "subaccountId": opts.subaccount_id,
        "rcAccountId": opts.rc_account_id,
        "agentId": str(opts.agent_ids[index % len(opts.agent_ids)]),
        "productType": opts.product_type,
        "productId": str(opts.product_id),
    }


def _next_agent(opts: SimOptions, index: int) -> int:
    return opts.agent_ids[(index + 1) % len(opts.agent_ids)]


async def _connect_with_retries(opts: SimOptions, url: str, result: CallResult) -> WebSocketClient:
    headers = {"X-Streaming-Secret": opts.secret} if opts.secret else {}
    for attempt in range(UPGRADE_RETRIES + 1):
        result.attempts = attempt + 1
        try:
            return await connect(url, headers=headers)
        except UpgradeFailed:
            if attempt == UPGRADE_RETRIES:
                raise
            await asyncio.sleep(opts.retry_backoff_s * 2**attempt)
    raise AssertionError("unreachable")


class Progress:
    """Counts frames sent for the progress display; the display reads it."""

    def __init__(self) -> None:
        self.frames = 0
        self.done = 0
        #: each call's result as it is being made (by index), for live measurements
        self.calls: dict[int, CallResult] = {}


async def run_call(
    opts: SimOptions, index: int, audio: CallAudio, progress: Progress
) -> CallResult:
    call_id = f"sim-{opts.seed}-{index + 1:05d}"
    if opts.transport == "grpc":
        from callscope.sim.grpcsim import run_dialog

        frames = audio.frames if opts.max_frames is None else min(audio.frames, opts.max_frames)
        result = CallResult(index, call_id, audio.name, frames_planned=frames // 5 * 2)
        result.protocol = "grpc"
        progress.calls[index] = result
        return await run_dialog(opts, index, audio, progress, result)
    rng = random.Random(opts.seed * 1_000_003 + index)
    two_way = opts.protocol == "twilio"
    stream_sid = f"MZ{opts.seed:08x}{index:024x}"
    media: MediaBuilder = (
        functools.partial(build_stream_media, stream_sid) if two_way else build_media
    )
    plan: Plan = build_plan(audio, opts.faults, rng, media=media)
    ticks = plan.ticks[: opts.max_frames] if opts.max_frames else plan.ticks
    result = CallResult(
        index, call_id, audio.name, frames_planned=len(ticks) * 2, protocol=opts.protocol
    )
    result.dropped = plan.dropped
    progress.calls[index] = result
    result.reordered, result.duplicated, result.malformed = (
        plan.reordered,
        plan.duplicated,
        plan.malformed,
    )
    query = _call_query(opts, index, call_id)
    sep = "&" if "?" in opts.url else "?"
    # A two-way stream names its call in start.customParameters (Twilio allows no query).
    url = opts.url if two_way else opts.url + sep + urlencode(query)
    try:
        ws = await _connect_with_retries(opts, url, result)
    except UpgradeRefused as exc:
        result.status, result.detail = "refused", str(exc)
        progress.done += 1
        return result
    except UpgradeFailed as exc:
        result.status, result.detail = "failed", str(exc)
        progress.done += 1
        return result
    meta: dict[str, Any] = {
        k: query[k] for k in ("callId", "ani", "dnis", "accountId", "subaccountId", "rcAccountId")
    }
    meta.update(
        sessionId=index + 1,
        agentId=int(query["agentId"]),
        productType=opts.product_type,
        productId=opts.product_id,
    )
    step = FRAME_S / opts.speed
    transfer_tick: int | None = None
    if two_way:
        heard = result.heard = Heard(step)
        ws.on_text = functools.partial(heard.on_message, ws=ws, stream_sid=stream_sid)
        ws.send_text(build_stream_connected())
        ws.send_text(build_stream_start(stream_sid, call_id, query))
        if opts.transfer_at_s is not None:
            transfer_tick = round(opts.transfer_at_s / FRAME_S)
    else:
        ws.send_text(build_connected())
        ws.send_text(build_start(meta))
    t0 = time.monotonic()
    if result.heard is not None:
        result.heard.t0 = t0
    try:
        for k, messages in enumerate(ticks):
            due = t0 + k * step
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                result.max_slip_s = max(result.max_slip_s, -delay)
            if ws.is_closed:
                break
            if opts.vanish_after_s is not None and k * FRAME_S >= opts.vanish_after_s:
                ws.abort()
                result.status, result.detail = "vanished", f"cut after {k * FRAME_S:.1f} s"
                return result
            if k == transfer_tick:
                to = opts.transfer_to or _next_agent(opts, index)
                ws.send_text(build_transfer(stream_sid, str(to)))
                result.transferred_to = to
            for opcode, payload, is_frame in messages:
                ws.send_raw(opcode, payload)
                result.frames_sent += is_frame
            if two_way:
                result.tick_times.append(time.monotonic())
            progress.frames += len(messages)
            await ws.drain()
        if not ws.is_closed:
            if two_way:
                ws.send_text(build_stream_stop(stream_sid, call_id))
            else:
                end = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
                duration = round(len(ticks) * FRAME_S, 3)
                ws.send_text(build_stop(duration, end))
                ws.send_text(build_stop(duration, end))
            await ws.drain()
        # a server finishing many calls at once may take a while to answer the Close
        await ws.close(1000, "call ended", timeout_s=CLOSE_WAIT_S)
    except (ConnectionError, OSError) as exc:
        result.status, result.detail = "failed", f"connection lost: {exc}"
        ws.abort()
        return result
    except asyncio.CancelledError:
        ws.abort()  # a cancelled call vanishes, as a killed sender would
        raise
    finally:
        progress.done += 1
        if result.heard is not None:
            result.heard_frames = {leg: result.heard.count(leg) for leg in Heard.LEGS}
    result.close_code, result.close_reason = ws.close_code, ws.close_reason
    if ws.close_code in (1000, None) and result.status == "pending":
        result.status = "completed"
    else:
        result.status = "refused" if ws.close_code in (1003, 1008) else "failed"
        result.detail = f"server closed {ws.close_code}: {ws.close_reason}"
    return result


async def run_simulation(opts: SimOptions, *, show_progress: bool = True) -> list[CallResult]:
    """Run ``opts.calls`` concurrent calls; returns one result per call."""
    sources = opts.sources or (default_source(),)
    audios = [load_audio(p) for p in sources]
    progress = Progress()
    tasks = []
    for i in range(opts.calls):
        if opts.ramp_s and i:
            await asyncio.sleep(opts.ramp_s / opts.calls)
        tasks.append(asyncio.create_task(run_call(opts, i, audios[i % len(audios)], progress)))
    if not show_progress:
        return list(await asyncio.gather(*tasks))
    return await _with_progress(tasks, progress, opts, audios)


async def _with_progress(
    tasks: list[asyncio.Task[CallResult]],
    progress: Progress,
    opts: SimOptions,
    audios: list[CallAudio],
) -> list[CallResult]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import (
        Progress as RichProgress,
    )

    per_message = 5 if opts.transport == "grpc" else 1  # a gRPC chunk is 5 frames (100 ms)
    frames = [len(audios[i % len(audios)].agent) for i in range(opts.calls)]
    if opts.max_frames:
        frames = [min(n, opts.max_frames) for n in frames]
    total_msgs = sum(n // per_message * 2 for n in frames)
    with RichProgress(
        TextColumn("[bold]streaming[/] {task.fields[calls]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("messages"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("calls", total=total_msgs, calls=f"0/{opts.calls} calls done")
        while not all(t.done() for t in tasks):
            bar.update(
                task,
                completed=min(progress.frames, total_msgs),
                calls=f"{progress.done}/{opts.calls} calls done",
            )
            await asyncio.sleep(0.2)
        bar.update(task, completed=total_msgs)
    return [t.result() for t in tasks]


def summary_line(results: list[CallResult], elapsed_s: float) -> str:
    by: dict[str, int] = {}
    for r in results:
        by[r.status] = by.get(r.status, 0) + 1
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(by.items()))
    sent = sum(r.frames_sent for r in results)
    dropped = sum(len(v) for r in results for v in r.dropped.values())
    return (
        f"{len(results)} call(s): {statuses} · {sent:,} media frames sent in {elapsed_s:.1f} s · "
        f"faults: {dropped} dropped, {sum(r.reordered for r in results)} reordered, "
        f"{sum(r.duplicated for r in results)} duplicated, "
        f"{sum(r.malformed for r in results)} malformed"
    )

"""Runs simulated RingCX calls against a server: pacing, retries, vanish, progress, summary."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from callscope.errors import SimulatorError, UpgradeFailed, UpgradeRefused
from callscope.protocols.ringcx import build_connected, build_start, build_stop
from callscope.sim.plan import CallAudio, Faults, Plan, build_plan, load_audio
from callscope.sim.wsclient import WebSocketClient, connect

__all__ = ["CallResult", "SimOptions", "default_source", "run_simulation"]

logger = logging.getLogger("callscope.sim")

FRAME_S = 0.020
#: RingCX: "If the websocket initiation fails with a 5xx error, we will attempt to retry up to
#: 3 attempts" — a 4xx is final.
UPGRADE_RETRIES = 3


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

    def __post_init__(self) -> None:
        if self.calls < 1:
            raise SimulatorError("--calls must be at least 1")
        if self.speed <= 0:
            raise SimulatorError("--speed must be > 0 (1 = real time)")


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

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


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


async def run_call(
    opts: SimOptions, index: int, audio: CallAudio, progress: Progress
) -> CallResult:
    rng = random.Random(opts.seed * 1_000_003 + index)
    call_id = f"sim-{opts.seed}-{index + 1:05d}"
    plan: Plan = build_plan(audio, opts.faults, rng)
    ticks = plan.ticks[: opts.max_frames] if opts.max_frames else plan.ticks
    result = CallResult(index, call_id, audio.name, frames_planned=len(ticks) * 2)
    result.dropped = plan.dropped
    result.reordered, result.duplicated, result.malformed = (
        plan.reordered,
        plan.duplicated,
        plan.malformed,
    )
    query = _call_query(opts, index, call_id)
    sep = "&" if "?" in opts.url else "?"
    url = opts.url + sep + urlencode(query)
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
    ws.send_text(build_connected())
    ws.send_text(build_start(meta))
    step = FRAME_S / opts.speed
    t0 = time.monotonic()
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
            for opcode, payload, is_frame in messages:
                ws.send_raw(opcode, payload)
                result.frames_sent += is_frame
            progress.frames += len(messages)
            await ws.drain()
        if not ws.is_closed:
            end = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            duration = round(len(ticks) * FRAME_S, 3)
            ws.send_text(build_stop(duration, end))
            ws.send_text(build_stop(duration, end))
            await ws.drain()
        await ws.close(1000, "call ended")
    except (ConnectionError, OSError) as exc:
        result.status, result.detail = "failed", f"connection lost: {exc}"
        ws.abort()
        return result
    finally:
        progress.done += 1
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

    total_msgs = sum(len(audios[i % len(audios)].agent) * 2 for i in range(opts.calls))
    if opts.max_frames:
        total_msgs = min(total_msgs, opts.max_frames * 2 * opts.calls)
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

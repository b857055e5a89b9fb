"""The in-order Media fast path (callscope.ingest.fastpath) leaves a call exactly as the
general path does: the same streams fed both ways give the same blocks, counters, malformed
tallies, refusals and activity times, whatever the stream does — and it takes the in-order
frames itself."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from callscope.config import Settings
from callscope.ingest.fastpath import in_order_media
from callscope.ingest.service import IngestService, LiveCall, UpgradeParams
from callscope.media.pipeline import StereoBlock
from callscope.metrics import Registry
from callscope.protocols.ringcx import (
    Perspective,
    StreamRefused,
    build_media,
    build_start,
    build_stop,
)
from callscope.protocols.twilio import TwilioReceiver

CONFERENCE, AGENT = Perspective.CONFERENCE, Perspective.PARTICIPANT


def frame(seq: int, perspective: Perspective) -> bytes:
    """A frame whose bytes say which one it is (so a swap or a loss shows in the blocks)."""
    return bytes((seq * 7 + int(perspective) * 91 + i) % 256 for i in range(160))


def media(perspective: Perspective, seq: int, payload: bytes | None = None) -> str:
    return build_media(perspective, seq, payload or frame(seq, perspective)).decode()


def in_order(first: int, last: int) -> list[str]:
    return [media(p, s) for s in range(first, last + 1) for p in (CONFERENCE, AGENT)]


def start() -> str:
    return build_start({"callId": "c1", "sessionId": "s1"}).decode()


class Fed:
    """One LiveCall and everything it leaves behind."""

    def __init__(self, *, max_concealed_s: float = 600.0) -> None:
        settings = Settings(ingest_max_concealed_s=max_concealed_s)
        service = IngestService(settings, calls=None, registry=Registry())  # type: ignore[arg-type]

        async def close(_code: int, _reason: str) -> None:
            return None

        self.call = LiveCall(service, UpgradeParams.from_query({}), close)
        self.blocks: list[tuple[int, bytes]] = []

        def keep(block: StereoBlock) -> None:
            self.blocks.append((block.start_frame, block.interleaved.tobytes()))

        self.call.add_sink(keep, name="recording")
        self.fast_taken = 0

    def feed(self, messages: list[str], *, fast: bool) -> None:
        handle: Callable[[str, float], Any] | None = in_order_media(self.call) if fast else None
        for i, text in enumerate(messages):
            now = 1000.0 + i * 0.01
            if handle is not None and handle(text, now):
                self.fast_taken += 1
                continue
            try:
                self.call.on_text(text, now)
            except StreamRefused:
                break

    def state(self) -> dict[str, Any]:
        pipe = self.call.pipeline
        return {
            "blocks": self.blocks,
            "counters": pipe.counters(),
            "written": pipe.written_frames,
            "refusal": pipe.refusal,
            "malformed": dict(self.call.malformed),
            "jumps": self.call.jumps,
            "last_activity": self.call.last_activity,
            "next": [b.next_seq for b in pipe.buffers],
            "pending": [b.pending_frames for b in pipe.buffers],
            "conceal_ok": pipe._conceal_ok,
        }


def both_ways(messages: list[str], **kw: Any) -> tuple[Fed, Fed]:
    """Run in the event loop (a refused call schedules its own end); that end is not run."""
    general, fast = Fed(**kw), Fed(**kw)
    general.feed(messages, fast=False)
    fast.feed(messages, fast=True)
    for fed in (general, fast):
        if fed.call._ending is not None:
            fed.call._ending.cancel()
    assert fast.state() == general.state()
    return general, fast


async def test_an_in_order_stream_goes_the_fast_way_and_is_recorded_the_same() -> None:
    general, fast = both_ways([start(), *in_order(1, 200)])
    assert fast.fast_taken == 2 * 200 - 1  # all but the first frame (it anchors the epoch)
    assert len(general.blocks) >= 99
    assert general.state()["written"] >= 198


def _odd(p: Perspective, seq: int, roll: float) -> str:
    """A message the fast path must leave to the general one."""
    if roll < 0.18:
        return media(p, seq, b"\xff" * 80)  # a short payload (padded)
    if roll < 0.19:
        return '{"event":"Media","perspective":"Conference","sequenceId":"²"}'
    if roll < 0.20:
        return "{not json"
    if roll < 0.21:
        return json.dumps({"event": "Media", "perspective": "Nobody", "sequenceId": "1"})
    body = {"event": "Media", "perspective": p.wire_name, "sequenceId": str(seq)}
    if roll < 0.22:
        return json.dumps({**body, "sequenceId": seq, "media": "/////w=="})  # an int
    return json.dumps({**body, "media": "not base64!"})


def _shuffled(seed: int) -> list[str]:
    rnd = random.Random(seed)
    msgs = [start()]
    seq = {CONFERENCE: 1, AGENT: 1}
    held: list[str] = []
    for _ in range(400):
        p = rnd.choice((CONFERENCE, AGENT))
        roll = rnd.random()
        if roll < 0.05:
            seq[p] += rnd.randint(2, 6)  # a gap
        elif roll < 0.08:
            seq[p] += 400  # a jump far ahead (re-anchored once confirmed)
        elif roll < 0.12 and seq[p] > 3:
            msgs.append(media(p, seq[p] - 2))  # a duplicate or a late frame
        elif roll < 0.16:
            held.append(media(p, seq[p]))  # sent later: out of order
            seq[p] += 1
            continue
        elif roll < 0.23:
            msgs.append(_odd(p, seq[p], roll))
        msgs.append(media(p, seq[p]))
        seq[p] += 1
        if held and rnd.random() < 0.5:
            msgs.append(held.pop(0))
    return msgs + held


@pytest.mark.parametrize("seed", range(12))
async def test_a_stream_with_gaps_reorders_duplicates_jumps_and_bad_messages(seed: int) -> None:
    general, fast = both_ways(_shuffled(seed))
    assert general.state()["written"] > 0
    assert fast.fast_taken > 0


async def test_one_perspective_stopped_then_frames_of_both() -> None:
    stop_one = json.dumps({"event": "Stop", "perspective": "Participant"})
    messages = [
        start(),
        *in_order(1, 20),
        stop_one,
        *in_order(21, 40),
        build_stop(1.0, "x").decode(),
    ]
    both_ways(messages)


async def test_a_call_refused_for_too_much_concealment_stays_refused() -> None:
    # a sender that skips ahead on every other frame: concealment passes its bound
    messages = [start()]
    for s in range(1, 300):
        messages += [media(CONFERENCE, s * 3), media(AGENT, s * 3)]
    general, _ = both_ways(messages, max_concealed_s=2.0)
    assert general.state()["refusal"] is not None


async def test_no_fast_path_before_start_or_for_a_two_way_stream() -> None:
    messages = [*in_order(1, 5), start(), *in_order(6, 30)]
    both_ways(messages)
    fed = Fed()
    fed.call.receiver = TwilioReceiver()
    assert in_order_media(fed.call) is None


async def test_a_channel_left_behind_is_concealed_and_the_bound_checked_as_before() -> None:
    # the agent's side goes quiet: the pipeline skips it ahead (concealing) to keep the
    # channels within max_skew; the next frames must weigh that concealment as before
    messages = [start(), *in_order(1, 5)]
    messages += [media(CONFERENCE, s) for s in range(6, 200)]
    messages += in_order(200, 260)
    general, _ = both_ways(messages, max_concealed_s=1.0)
    assert general.state()["refusal"] is not None

"""Two perspectives → time-aligned stereo blocks (frames in, blocks out)."""

from __future__ import annotations

import numpy as np
import pytest

from callscope.media.g711 import ulaw2lin
from callscope.media.pipeline import CallMediaPipeline, StereoBlock
from callscope.protocols.ringcx import Perspective

P, C = Perspective.PARTICIPANT, Perspective.CONFERENCE


def frame(tag: int) -> bytes:
    return bytes([tag % 256]) * 160


def collect(**kwargs: int) -> tuple[CallMediaPipeline, list[StereoBlock], list[tuple[float, int]]]:
    blocks: list[StereoBlock] = []
    lags: list[tuple[float, int]] = []
    pipe = CallMediaPipeline(
        sinks=[blocks.append], lag_observer=lambda v, n: lags.append((v, n)), **kwargs
    )
    return pipe, blocks, lags


def joined(blocks: list[StereoBlock]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.concatenate([b.agent for b in blocks]),
        np.concatenate([b.caller for b in blocks]),
    )


def test_aligned_frames_come_out_decoded_per_channel() -> None:
    pipe, blocks, _ = collect(batch_frames=2)
    for seq in range(1, 5):
        pipe.push(P, seq, frame(seq), 0.0)
        pipe.push(C, seq, frame(100 + seq), 0.0)
    pipe.finish(1.0)
    agent, caller = joined(blocks)
    assert np.array_equal(agent, ulaw2lin(b"".join(frame(s) for s in range(1, 5))))
    assert np.array_equal(caller, ulaw2lin(b"".join(frame(100 + s) for s in range(1, 5))))
    assert [b.start_frame for b in blocks] == [0, 2]
    assert pipe.written_frames == 4


def test_a_channel_that_ran_ahead_waits_for_its_peer() -> None:
    pipe, blocks, _ = collect(batch_frames=1, max_skew_frames=50)
    for seq in range(1, 11):
        pipe.push(P, seq, frame(seq), 0.0)
    assert blocks == []  # the caller side has not arrived yet
    for seq in range(1, 11):
        pipe.push(C, seq, frame(50 + seq), 0.0)
    agent, caller = joined(blocks)
    assert len(agent) == len(caller) == 10 * 160
    assert np.array_equal(caller[:160], ulaw2lin(frame(51)))


def test_a_silent_peer_is_concealed_after_max_skew_and_alignment_holds() -> None:
    pipe, blocks, _ = collect(batch_frames=1, max_skew_frames=5)
    for seq in range(1, 21):
        pipe.push(P, seq, frame(seq), 0.0)
    written = pipe.written_frames
    assert written == 15  # 20 agent frames, at most 5 held back
    assert pipe.buffers[1].missing == 15
    # the caller's frame 3 arrives now: too late, its slot was written as silence
    pipe.push(C, 3, frame(203), 0.0)
    assert pipe.buffers[1].late == 1
    # the caller's frame 16 is still in time and lands at frame index 15
    pipe.push(C, 16, frame(216), 0.0)
    pipe.finish(0.0)
    agent, caller = joined(blocks)
    assert np.array_equal(caller[15 * 160 : 16 * 160], ulaw2lin(frame(216)))
    assert not caller[: 15 * 160].any()
    assert np.array_equal(agent[15 * 160 : 16 * 160], ulaw2lin(frame(16)))


def test_after_one_perspective_stops_the_other_continues_against_silence() -> None:
    pipe, blocks, _ = collect(batch_frames=1)
    pipe.push(P, 1, frame(1), 0.0)
    pipe.push(C, 1, frame(2), 0.0)
    pipe.end_channel(C, 0.0)
    pipe.push(P, 2, frame(3), 0.0)
    pipe.push(P, 3, frame(4), 0.0)
    pipe.finish(0.0)
    agent, caller = joined(blocks)
    assert len(agent) == 3 * 160
    assert not caller[160:].any()
    assert pipe.push(C, 2, frame(5), 0.0).name == "LATE"


def test_short_frames_are_padded_and_long_ones_cut() -> None:
    pipe, blocks, _ = collect(batch_frames=1)
    pipe.push(P, 1, b"\x01" * 80, 0.0)
    pipe.push(C, 1, b"\x02" * 200, 0.0)
    pipe.finish(0.0)
    agent, caller = joined(blocks)
    assert len(agent) == len(caller) == 160
    assert np.array_equal(agent[:80], ulaw2lin(b"\x01" * 80))
    assert not agent[80:].any()
    assert pipe.wrong_size == 2


def test_lag_is_measured_against_the_real_time_schedule() -> None:
    pipe, _, lags = collect(batch_frames=2)
    # frame 1 arrives on schedule at t=0 (it anchors the schedule: frame 2 is due at 0.02);
    # frame 2 arrives at t=0.3, so the block (frames 1-2) is written at 0.3 and its oldest
    # frame is 0.3 s old
    for seq in (1, 2):
        pipe.push(P, seq, frame(seq), 0.0 if seq == 1 else 0.3)
        pipe.push(C, seq, frame(seq), 0.0 if seq == 1 else 0.3)
    assert len(lags) == 1
    value, count = lags[0]
    assert count == 2
    assert value == pytest.approx(0.3)


def test_bad_batch_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="batch_frames"):
        CallMediaPipeline(batch_frames=10, max_skew_frames=5)

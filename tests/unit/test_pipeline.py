"""Two perspectives → time-aligned stereo blocks (frames in, blocks out)."""

from __future__ import annotations

import numpy as np
import pytest

from callscope.media.g711 import ulaw2lin
from callscope.media.jitter import PushResult
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


def test_jumps_cannot_conceal_more_than_received_audio_and_elapsed_time() -> None:
    # Jumps of 200 frames (each under max_gap, so filled) at a message a millisecond: 4 s of
    # silence per 20 ms message. Past received + elapsed + slack the pipeline refuses.
    pipe, blocks, _ = collect(batch_frames=2, max_gap_frames=250, conceal_slack_frames=500)
    results = [pipe.push(P, 1 + i * 200, frame(i), i * 0.001) for i in range(200)]
    pipe.finish(1.0)
    assert PushResult.REFUSED in results
    assert results[-1] is PushResult.REFUSED
    assert pipe.refusal is not None
    assert "silence" in pipe.refusal
    # the bound, overshot by at most one gap and the skew
    assert pipe.buffers[0].missing <= 500 + 4 + 250 + 50
    assert pipe.written_frames <= 500 + 4 + 250 + 50 + 10
    assert sum(b.frames for b in blocks) == pipe.written_frames


def test_a_call_may_conceal_at_most_max_concealed_frames() -> None:
    pipe, _, _ = collect(max_gap_frames=250, max_concealed_frames=1000)
    seq, t, refused = 1, 0.0, None
    for i in range(100):
        # paired jumps re-anchor; in real time (lots of wall clock per jump) only the
        # absolute cap applies
        seq += 10_000
        t += 3600.0
        for s in (seq, seq + 1):
            for p in (P, C):
                result = pipe.push(p, s, frame(i), t)
                if result is PushResult.REFUSED and refused is None:
                    refused = i
    assert refused is not None
    assert refused <= 5
    assert pipe.refusal is not None
    assert "more than 20 s" in pipe.refusal
    assert max(b.missing for b in pipe.buffers) <= 1000 + 250 + 50


def test_a_silent_peer_in_a_fast_replay_is_not_refused() -> None:
    # A sender faster than real time with one side absent conceals as much as it sends.
    pipe, _, _ = collect(conceal_slack_frames=0)
    for seq in range(1, 3001):
        assert pipe.push(P, seq, frame(seq), 0.0) is PushResult.ACCEPTED
    pipe.finish(0.0)
    assert pipe.refusal is None
    assert pipe.buffers[1].missing == 3000 - 50  # the last max_skew: silence of an ended side


def test_real_time_gaps_are_allowed_as_the_clock_runs() -> None:
    # A sender that loses most of its frames in real time: concealment follows the clock.
    pipe, _, _ = collect(conceal_slack_frames=0, max_gap_frames=250)
    for i in range(200):
        seq = 1 + i * 100  # 2 s apart on the sender's schedule, 2 s apart on ours
        for p in (P, C):
            assert pipe.push(p, seq, frame(i), i * 2.0) is not PushResult.REFUSED
    assert pipe.refusal is None


def test_bad_batch_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="batch_frames"):
        CallMediaPipeline(batch_frames=10, max_skew_frames=5)

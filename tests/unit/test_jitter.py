"""Jitter buffer properties (hypothesis) and its late/duplicate/missing accounting."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callscope.media.jitter import JitterBuffer, PushResult

WINDOW = 10


def payload(seq: int) -> bytes:
    return seq.to_bytes(4, "big")


def run(order: list[int], *, window: int = WINDOW) -> tuple[JitterBuffer, list[bytes | None]]:
    jb = JitterBuffer(window_frames=window, max_gap_frames=1000)  # ids ≤ 400: no jumps here
    out: list[bytes | None] = []
    for seq in order:
        jb.push(seq, payload(seq), out)
        assert jb.pending_frames <= window  # bounded memory
    jb.flush(out)
    return jb, out


@st.composite
def bounded_shuffle(draw: st.DrawFn) -> tuple[list[int], set[int], int]:
    """Sequence ids 1..n, some dropped, some duplicated, displaced by less than the window."""
    n = draw(st.integers(1, 300))
    seed = draw(st.integers(0, 2**32))
    rng = random.Random(seed)
    dropped = {s for s in range(1, n + 1) if rng.random() < draw(st.floats(0, 0.3))}
    keyed = []
    for s in range(1, n + 1):
        if s in dropped:
            continue
        keyed.append((s + rng.uniform(0, WINDOW), s))
        if rng.random() < 0.1:
            keyed.append((s + rng.uniform(0, WINDOW), s))  # a duplicate copy
    keyed.sort()
    return [s for _, s in keyed], dropped, n


@settings(max_examples=300, deadline=None)
@given(bounded_shuffle())
def test_bounded_reordering_is_undone_and_drops_become_silence_in_place(
    case: tuple[list[int], set[int], int],
) -> None:
    order, dropped, _ = case
    jb, out = run(order)
    highest = max(order) if order else 0
    assert len(out) == highest
    for i, frame in enumerate(out, start=1):
        if i in dropped:
            assert frame is None
        else:
            assert frame == payload(i)
    assert jb.missing == len([s for s in dropped if s <= highest])
    assert jb.duplicate == len(order) - len(set(order))
    assert jb.late == 0
    assert jb.received == len(set(order))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 400), max_size=600), st.integers(1, 30))
def test_any_arrival_order_releases_each_slot_once_in_order(order: list[int], window: int) -> None:
    jb, out = run(order, window=window)
    # one output slot per sequenceId from 1 to the highest accepted, in order
    assert len(out) == jb.next_seq - 1
    real = [i for i, f in enumerate(out, start=1) if f is not None]
    for i in real:
        assert out[i - 1] == payload(i)
    assert jb.missing == len(out) - len(real)
    # every copy is accounted for exactly once
    assert jb.received + jb.duplicate + jb.late == len(order)
    assert len(real) == jb.received


def test_in_order_frames_pass_straight_through() -> None:
    jb = JitterBuffer(window_frames=3)
    out: list[bytes | None] = []
    for s in range(1, 6):
        assert jb.push(s, payload(s), out) is PushResult.ACCEPTED
        assert out[-1] == payload(s)
    assert jb.pending_frames == 0


def test_a_gap_waits_for_the_window_then_becomes_silence_and_a_late_copy_is_late() -> None:
    jb = JitterBuffer(window_frames=3)
    out: list[bytes | None] = []
    jb.push(1, payload(1), out)
    jb.push(3, payload(3), out)
    jb.push(4, payload(4), out)
    assert out == [payload(1)]  # 2 is still awaited
    jb.push(5, payload(5), out)  # 5 - 3 + 1 = 3 > 2: give 2 up
    assert out == [payload(1), None, payload(3), payload(4), payload(5)]
    assert jb.missing == 1
    assert jb.push(2, payload(2), out) is PushResult.LATE
    assert jb.late == 1
    assert jb.push(2, payload(2), out) is PushResult.DUPLICATE
    assert jb.push(4, payload(4), out) is PushResult.DUPLICATE
    assert jb.duplicate == 2


def test_a_pending_duplicate_is_counted() -> None:
    jb = JitterBuffer(window_frames=5)
    out: list[bytes | None] = []
    jb.push(2, payload(2), out)
    assert jb.push(2, payload(2), out) is PushResult.DUPLICATE
    assert out == []


def test_a_huge_forward_jump_is_refused_not_filled_with_silence() -> None:
    jb = JitterBuffer(window_frames=5, max_gap_frames=100)
    out: list[bytes | None] = []
    jb.push(1, payload(1), out)
    assert jb.push(10_000, payload(10_000), out) is PushResult.JUMP
    assert out == [payload(1)]
    assert jb.push(2, payload(2), out) is PushResult.ACCEPTED
    jb.flush(out)
    assert out == [payload(1), payload(2)]  # the stray frame is never written


def test_a_gap_up_to_max_gap_is_filled_in_full() -> None:
    jb = JitterBuffer(window_frames=5, max_gap_frames=100)
    out: list[bytes | None] = []
    jb.push(1, payload(1), out)
    assert jb.push(101, payload(101), out) is PushResult.ACCEPTED
    jb.flush(out)
    assert out == [payload(1), *[None] * 99, payload(101)]


def test_every_message_jumping_writes_no_silence_at_all() -> None:
    # The disk-filling attack: each Media message a million sequenceIds further on.
    jb = JitterBuffer(window_frames=10, max_gap_frames=250)
    out: list[bytes | None] = []
    results = [jb.push(1 + i * 1_000_000, payload(i), out) for i in range(200)]
    jb.flush(out)
    assert results[0] is PushResult.ACCEPTED
    assert set(results[1:]) == {PushResult.JUMP}
    assert out == [payload(0)]
    assert jb.missing == 0


def test_a_confirmed_jump_reanchors_and_fills_at_most_max_gap() -> None:
    jb = JitterBuffer(window_frames=5, max_gap_frames=100)
    out: list[bytes | None] = []
    for s in (1, 2, 3):
        jb.push(s, payload(s), out)
    assert jb.push(50_001, payload(50_001), out) is PushResult.JUMP
    assert jb.push(50_002, payload(50_002), out) is PushResult.REANCHORED
    assert jb.push(50_003, payload(50_003), out) is PushResult.ACCEPTED
    jb.flush(out)
    assert out == [
        payload(1), payload(2), payload(3), *[None] * 100,
        payload(50_001), payload(50_002), payload(50_003),
    ]  # fmt: skip
    assert (jb.missing, jb.reanchors, jb.received) == (100, 1, 6)
    # the old timeline is over: its stragglers are not written
    assert jb.push(4, payload(4), out) is PushResult.DUPLICATE


def test_a_jump_confirmed_out_of_order_anchors_at_the_lower_id() -> None:
    jb = JitterBuffer(window_frames=5, max_gap_frames=100)
    out: list[bytes | None] = []
    jb.push(1, payload(1), out)
    jb.push(3, payload(3), out)  # 2 awaited: pending
    assert jb.push(9_002, payload(9_002), out) is PushResult.JUMP
    assert jb.push(9_001, payload(9_001), out) is PushResult.REANCHORED
    jb.flush(out)
    assert out == [payload(1), None, payload(3), *[None] * 100, payload(9_001), payload(9_002)]


def test_paired_jumps_fill_one_max_gap_each() -> None:
    jb = JitterBuffer(window_frames=10, max_gap_frames=250)
    out: list[bytes | None] = []
    for i in range(1, 11):
        jb.push(i * 1_000_000, payload(i), out)
        jb.push(i * 1_000_000 + 1, payload(i), out)
    jb.flush(out)
    assert jb.reanchors == 10
    assert jb.missing == 10 * 250
    assert len(out) == 10 * 250 + 20


def test_skip_to_conceals_up_to_the_target() -> None:
    jb = JitterBuffer(window_frames=5)
    out: list[bytes | None] = []
    jb.push(1, payload(1), out)
    jb.push(3, payload(3), out)
    jb.skip_to(5, out)
    assert out == [payload(1), None, payload(3), None]
    assert jb.next_seq == 5
    assert jb.missing == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window_frames": 0}, "window_frames"),
        ({"window_frames": 10, "max_gap_frames": 5}, "max_gap"),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        JitterBuffer(**kwargs)

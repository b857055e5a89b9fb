"""The decode scheduler: finals are never dropped, partials are shed first, packing fits."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from callscope.transcription.scheduler import DecodeScheduler, Job


def job(channel: int, segment: int, seconds: float, *, final: bool, at: float = 0.0) -> Job:
    n = int(seconds * 8000)
    return Job((1, channel), segment, 0, n // 8, np.zeros(n, np.int16), final, at)


def test_finals_come_out_in_order_and_pack_into_one_window() -> None:
    s = DecodeScheduler(window_s=28.0, gap_s=1.0)
    for i in range(6):
        s.add(job(i, 1, 3.0, final=True))
    batch = s.take(0.0)
    assert [j.channel[1] for j in batch] == [0, 1, 2, 3, 4, 5]  # 6 × (3 + 1) = 24 s ≤ 28 s
    assert not s


def test_a_full_window_leaves_the_rest_for_the_next_batch() -> None:
    s = DecodeScheduler(window_s=28.0, gap_s=1.0)
    for i in range(10):
        s.add(job(i, 1, 4.0, final=True))
    first = s.take(0.0)
    assert len(first) == 5  # 5 × (4 + 1) = 25; a sixth would need 30
    assert s.finals_pending == 5
    assert s.finals_queued_s == 20.0


def test_without_packing_a_batch_is_one_piece() -> None:
    s = DecodeScheduler(pack=False)
    for i in range(3):
        s.add(job(i, 1, 1.0, final=True))
    assert [len(s.take(0.0)) for _ in range(4)] == [1, 1, 1, 0]


def test_a_newer_partial_replaces_the_queued_one() -> None:
    s = DecodeScheduler()
    s.add(job(0, 1, 1.0, final=False, at=1.0))
    s.add(job(0, 1, 2.0, final=False, at=2.0))
    assert s.partials_pending == 1
    assert s.partials_dropped == 1
    (taken,) = s.take(2.1)
    assert taken.seconds == 2.0


def test_the_final_supersedes_its_partial() -> None:
    s = DecodeScheduler()
    s.add(job(0, 1, 1.0, final=False))
    s.add(job(0, 1, 1.5, final=True))
    batch = s.take(0.0)
    assert [j.final for j in batch] == [True]
    assert s.partials_dropped == 1


def test_partials_only_get_room_when_no_final_waits() -> None:
    s = DecodeScheduler(window_s=10.0, gap_s=1.0)
    for i in range(4):
        s.add(job(i, 1, 4.0, final=True))
    s.add(job(9, 1, 1.0, final=False))
    first = s.take(0.0)
    assert all(j.final for j in first)  # 2 finals fill the window; 2 more wait
    second = s.take(0.0)
    assert all(j.final for j in second)
    third = s.take(0.5)
    assert [j.final for j in third] == [False]  # now the partial's turn


def test_a_stale_partial_is_dropped_not_decoded() -> None:
    s = DecodeScheduler(partial_max_age_s=2.0)
    s.add(job(0, 1, 1.0, final=False, at=0.0))
    assert s.take(5.0) == []
    assert s.partials_dropped == 1


def test_partials_fill_the_room_finals_leave() -> None:
    s = DecodeScheduler(window_s=28.0, gap_s=1.0)
    s.add(job(0, 1, 3.0, final=True))
    s.add(job(1, 1, 2.0, final=False))
    batch = s.take(0.0)
    assert [j.final for j in batch] == [True, False]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 7),  # channel
            st.floats(0.2, 15.0),  # seconds of speech
            st.booleans(),  # final?
            st.integers(0, 3),  # how many takes happen after this arrival
        ),
        min_size=1,
        max_size=80,
    )
)
def test_under_any_load_every_final_is_decoded_exactly_once(
    arrivals: list[tuple[int, float, bool, int]],
) -> None:
    s = DecodeScheduler(window_s=28.0, gap_s=1.0, partial_max_age_s=2.0)
    now = 0.0
    added: list[Job] = []
    taken: list[Job] = []
    partials_added = 0
    for n, (channel, seconds, final, takes) in enumerate(arrivals):
        j = job(channel, n, seconds, final=final, at=now)
        s.add(j)
        if final:
            added.append(j)
        else:
            partials_added += 1
        for _ in range(takes):
            now += 0.7
            taken += s.take(now)
    while s:
        now += 0.7
        taken += s.take(now)
    finals = [j for j in taken if j.final]
    assert sorted(map(id, finals)) == sorted(map(id, added))
    assert finals == sorted(finals, key=added.index)  # in arrival order
    partials_taken = len(taken) - len(finals)
    assert partials_taken + s.partials_dropped == partials_added
    assert s.finals_pending == 0


def test_a_busy_decoder_takes_no_partials_and_they_go_stale() -> None:
    s = DecodeScheduler(partial_max_age_s=2.0)
    s.add(job(0, 1, 1.0, final=False, at=0.0))
    s.add(job(1, 1, 1.0, final=True, at=0.0))
    assert [j.final for j in s.take(0.1, partials=False)] == [True]
    assert s.take(0.2, partials=False) == []
    assert s.partials_pending == 1  # waits while the decoder is busy ...
    assert s.take(3.0) == []  # ... and is dropped once stale
    assert s.partials_dropped == 1

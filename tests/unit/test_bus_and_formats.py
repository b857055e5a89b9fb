"""The in-process bus (prefix routing, slow subscribers shed partials first), WebVTT output,
and how a packed decode's words go back to their pieces."""

from __future__ import annotations

import asyncio

import pytest

from callscope.api.transcripts import webvtt, with_recent_finals
from callscope.events.bus import Bus, BusOverflow
from callscope.transcription.engines import unpack_words


def test_events_reach_subscribers_whose_prefix_matches() -> None:
    async def go() -> None:
        bus = Bus()
        one = bus.subscribe("acc1.calls.c1.")
        every = bus.subscribe("acc1.")
        other = bus.subscribe("acc2.")
        bus.publish("acc1.calls.c1.transcript", {"event": "transcript.final", "seq": 1})
        bus.publish("acc1.calls.c2.transcript", {"event": "transcript.final", "seq": 1})
        assert (await one.get())["seq"] == 1
        assert [await every.get(), await every.get()] == [
            {"event": "transcript.final", "seq": 1},
            {"event": "transcript.final", "seq": 1},
        ]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(other.get(), 0.05)
        one.close()
        assert bus.subscribers == 2

    asyncio.run(go())


def test_a_slow_subscriber_loses_partials_first() -> None:
    async def go() -> None:
        bus = Bus()
        sub = bus.subscribe("a.", maxsize=3)
        bus.publish("a.x", {"event": "transcript.partial", "n": 1})
        bus.publish("a.x", {"event": "transcript.final", "n": 2})
        bus.publish("a.x", {"event": "transcript.final", "n": 3})
        bus.publish("a.x", {"event": "transcript.final", "n": 4})  # full: the partial goes
        bus.publish("a.x", {"event": "transcript.partial", "n": 5})  # full: dropped on arrival
        got = [(await sub.get())["n"] for _ in range(3)]
        assert got == [2, 3, 4]
        assert sub.dropped == 2
        assert not sub.overflowed

    asyncio.run(go())


def test_a_subscriber_that_would_lose_a_final_is_told_so() -> None:
    async def go() -> None:
        bus = Bus()
        sub = bus.subscribe("a.", maxsize=2)
        for n in range(3):
            bus.publish("a.x", {"event": "transcript.final", "n": n})
        assert sub.overflowed
        assert bus.subscribers == 0
        assert [(await sub.get())["n"] for _ in range(2)] == [0, 1]  # what it had, then:
        with pytest.raises(BusOverflow):
            await sub.get()

    asyncio.run(go())


def test_webvtt_has_one_voiced_cue_per_utterance() -> None:
    text = webvtt(
        [
            {"seq": 1, "speaker": "agent", "startMs": 400, "endMs": 6240, "text": "Hello <there>"},
            {
                "seq": 2,
                "speaker": "customer",
                "startMs": 3_723_004,
                "endMs": 3_723_004,
                "text": "Hi",
            },
        ]
    )
    assert text.splitlines() == [
        "WEBVTT",
        "",
        "1",
        "00:00:00.400 --> 00:00:06.240",
        "<v agent>Hello &lt;there&gt;</v>",
        "",
        "2",
        "01:02:03.004 --> 01:02:03.005",
        "<v customer>Hi</v>",
    ]


def _utterance(seq: int, start_ms: int) -> dict[str, object]:
    return {
        "seq": seq,
        "speaker": "agent" if seq % 2 else "customer",
        "partyId": f"p-{seq}",
        "startMs": start_ms,
        "endMs": start_ms + 900,
        "text": f"words {seq}",
        "confidence": 0.8,
    }


def test_a_transcript_read_elsewhere_adds_the_finals_not_stored_yet() -> None:
    stored = [_utterance(1, 0), _utterance(2, 1000)]
    finals = [
        {"event": "transcript.final", "callId": "c", "segment": 0, "latencyMs": 5, **u}
        for u in (_utterance(2, 1000), _utterance(4, 2500), _utterance(3, 2000))
    ]
    merged = with_recent_finals(stored, finals)
    assert [u["seq"] for u in merged] == [1, 2, 3, 4]  # once each, in time order
    assert merged[3] == _utterance(4, 2500)  # only the utterance's own fields
    assert with_recent_finals(stored, []) == stored


def test_packed_words_go_back_to_the_piece_they_fall_in() -> None:
    spans = [(0.0, 2.0), (3.0, 4.5), (5.5, 7.0)]  # pieces with 1 s gaps between them
    words = [
        (0.1, 0.5, " Hello", 0.9),
        (0.6, 1.9, " world.", 0.7),
        (2.9, 3.4, " Second", 0.8),  # starts in the gap: its midpoint is in piece 2
        (3.5, 4.4, " piece.", 0.6),
    ]
    out = unpack_words(words, spans)
    assert [r[0].text if r else None for r in out] == ["Hello world.", "Second piece.", None]
    first, second = out[0][0], out[1][0]
    assert (first.start_s, first.end_s, first.confidence) == (0.1, 1.9, 0.8)
    assert second.start_s == 0.0  # clamped to the piece
    assert second.end_s == pytest.approx(1.4)

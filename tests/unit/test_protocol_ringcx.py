"""The RingCX receiver core, fed messages only (seeds/ringcx-call-streaming.txt, spec §11.3)."""

from __future__ import annotations

import base64

import orjson
import pytest

from callscope.errors import InvalidState, StreamRefused
from callscope.protocols.ringcx import (
    Connected,
    Malformed,
    Media,
    Perspective,
    ReceiverState,
    RingCXReceiver,
    Start,
    Stop,
    build_connected,
    build_media,
    build_start,
    build_stop,
)

START = {
    "event": "Start",
    "metadata": {
        "callId": "20260504150205001",
        "sessionId": 1,
        "ani": "6505550123",
        "dnis": "6505550900",
        "accountId": "88800010",
        "subaccountId": "88800012",
        "rcAccountId": "70000001",
        "agentId": 5502,
        "productType": "Queue",
        "productId": 4401,
        "contentType": "audio/x-mulaw",
        "sampleRateHertz": 8000,
    },
}


def dumps(obj: object) -> str:
    return orjson.dumps(obj).decode()


def media(
    perspective: str = "Participant", seq: object = "1", payload: bytes = b"\xff" * 160
) -> str:
    return dumps(
        {
            "event": "Media",
            "perspective": perspective,
            "sequenceId": seq,
            "media": base64.b64encode(payload).decode(),
        }
    )


def started() -> RingCXReceiver:
    r = RingCXReceiver()
    assert isinstance(r.receive_text(build_connected()), Connected)
    assert isinstance(r.receive_text(dumps(START)), Start)
    return r


def assert_malformed(event: object, kind: str) -> None:
    assert isinstance(event, Malformed), event
    assert event.kind == kind, event


def test_full_sequence_of_the_documented_messages() -> None:
    r = RingCXReceiver()
    c = r.receive_text(
        dumps({"event": "Connected", "protocol": "AgentSession", "version": "1.0.0"})
    )
    assert c == Connected("AgentSession", "1.0.0")
    s = r.receive_text(dumps(START))
    assert isinstance(s, Start)
    m = s.metadata
    assert (m.call_id, m.session_id, m.ani, m.dnis) == (
        "20260504150205001", "1", "6505550123", "6505550900",
    )  # fmt: skip
    assert (m.account_id, m.subaccount_id, m.rc_account_id) == ("88800010", "88800012", "70000001")
    assert (m.agent_id, m.product_type, m.product_id) == ("5502", "Queue", "4401")
    assert r.state is ReceiverState.STREAMING

    ev = r.receive_text(media("Participant", "1", b"\x01" * 160))
    assert ev == Media(Perspective.PARTICIPANT, 1, b"\x01" * 160)
    ev = r.receive_text(media("Conference", "1", b"\x02" * 160))
    assert ev == Media(Perspective.CONFERENCE, 1, b"\x02" * 160)

    stop = {"event": "Stop", "metadata": {"duration": 184, "end_time": "2026-05-04T15:05:09Z"}}
    first = r.receive_text(dumps(stop))
    assert isinstance(first, Stop)
    assert (first.duration, first.end_time) == (184.0, "2026-05-04T15:05:09Z")
    assert first.closed is Perspective.PARTICIPANT
    assert first.all_stopped is False
    second = r.receive_text(dumps(stop))
    assert isinstance(second, Stop)
    assert second.closed is Perspective.CONFERENCE
    assert second.all_stopped is True
    assert r.state is ReceiverState.STOPPED


def test_bytes_input_and_integer_sequence_ids_are_accepted() -> None:
    r = started()
    ev = r.receive_text(media(seq=7).encode())
    assert isinstance(ev, Media)
    assert ev.sequence_id == 7


def test_connected_is_optional() -> None:
    r = RingCXReceiver()
    assert isinstance(r.receive_text(dumps(START)), Start)


def test_audio_content_type_key_is_accepted() -> None:
    # The RingCX guide's Python sample reads `audioContentType` (spec §11.3).
    meta = dict(START["metadata"])  # type: ignore[arg-type]
    meta["audioContentType"] = meta.pop("contentType")
    r = RingCXReceiver()
    assert isinstance(r.receive_text(dumps({"event": "Start", "metadata": meta})), Start)


@pytest.mark.parametrize(
    ("content_type", "rate"),
    [("audio/L16", 8000), ("audio/x-mulaw", 16000), (None, 8000), ("audio/x-alaw", 8000)],
)
def test_start_with_other_audio_is_refused_with_a_reason(content_type: object, rate: int) -> None:
    meta = dict(START["metadata"])  # type: ignore[arg-type]
    meta["contentType"] = content_type
    meta["sampleRateHertz"] = rate
    r = RingCXReceiver()
    with pytest.raises(StreamRefused) as info:
        r.receive_text(dumps({"event": "Start", "metadata": meta}))
    assert "audio/x-mulaw at 8000 Hz" in info.value.reason
    assert info.value.close_code == 1003
    assert r.state is ReceiverState.REFUSED
    with pytest.raises(InvalidState):
        r.receive_text(media())


def test_stop_naming_its_perspective_closes_that_one() -> None:
    r = started()
    ev = r.receive_text(dumps({"event": "Stop", "perspective": "Conference", "metadata": {}}))
    assert isinstance(ev, Stop)
    assert ev.named is Perspective.CONFERENCE
    assert ev.closed is Perspective.CONFERENCE
    assert isinstance(r.receive_text(media("Participant", "2")), Media)
    assert_malformed(r.receive_text(media("Conference", "2")), "after_stop")
    last = r.receive_text(dumps({"event": "Stop"}))
    assert isinstance(last, Stop)
    assert last.closed is Perspective.PARTICIPANT
    assert last.all_stopped


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('"Media"', "bad_json"),
        (dumps({"event": "Mystery"}), "unknown_event"),
        (dumps({"no": "event"}), "unknown_event"),
        (media(perspective="Sideways"), "bad_perspective"),
        (media(seq="-1"), "bad_sequence"),
        (media(seq="1.5"), "bad_sequence"),
        (media(seq=""), "bad_sequence"),
        (media(seq=None), "bad_sequence"),
        (media(seq=True), "bad_sequence"),
        (media(seq="9" * 30), "bad_sequence"),
        (dumps({"event": "Media", "perspective": "Participant", "sequenceId": "1", "media": "@@"}), "bad_base64"),
        (dumps({"event": "Media", "perspective": "Participant", "sequenceId": "1", "media": 5}), "bad_base64"),
        (dumps({"event": "Media", "perspective": "Participant", "sequenceId": "1", "media": ""}), "bad_base64"),
        (dumps({"event": "Media", "perspective": "Participant", "sequenceId": "1", "media": "abc"}), "bad_base64"),
        (media(payload=b"\x00" * 1601), "oversize"),
        ("x" * 20_000, "oversize"),
        (dumps(START), "out_of_order"),
        (dumps({"event": "Stop", "metadata": {"duration": "long"}}), "bad_stop"),
        (dumps({"event": "Stop", "metadata": {"end_time": 5}}), "bad_stop"),
        (dumps({"event": "Stop", "metadata": [1]}), "bad_stop"),
    ],
)  # fmt: skip
def test_malformed_messages_are_reported_and_the_stream_goes_on(message: str, kind: str) -> None:
    r = started()
    assert_malformed(r.receive_text(message), kind)
    assert r.state is ReceiverState.STREAMING
    assert isinstance(r.receive_text(media(seq="2")), Media)


@pytest.mark.parametrize(
    ("seq", "expected"),
    [("1", 1), ("007", 7), ("9" * 18, 10**18 - 1), (12, 12), (2**62, 2**62)],
)
def test_sequence_ids_as_strings_or_integers_up_to_the_bound(seq: object, expected: int) -> None:
    # the usual decimal string is parsed inline; other forms take the general path
    m = started().receive_text(media(seq=seq))
    assert isinstance(m, Media)
    assert m.sequence_id == expected


@pytest.mark.parametrize("seq", ["9" * 19, 2**62 + 1, -1])
def test_sequence_ids_past_the_bound_are_malformed(seq: object) -> None:
    assert_malformed(started().receive_text(media(seq=seq)), "bad_sequence")


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (media(), "out_of_order"),
        (dumps({"event": "Stop"}), "out_of_order"),
        (dumps({"event": "Start"}), "bad_start"),
        (dumps({"event": "Start", "metadata": {**START["metadata"], "ani": ["x"]}}), "bad_field"),  # type: ignore[dict-item]
    ],
)
def test_malformed_before_start(message: str, kind: str) -> None:
    r = RingCXReceiver()
    assert_malformed(r.receive_text(message), kind)
    assert r.state is ReceiverState.AWAITING_START
    assert isinstance(r.receive_text(dumps(START)), Start)


def test_media_after_both_stops_is_malformed() -> None:
    r = started()
    r.receive_text(dumps({"event": "Stop"}))
    r.receive_text(dumps({"event": "Stop"}))
    assert_malformed(r.receive_text(media()), "out_of_order")


def test_unknown_start_keys_are_kept() -> None:
    meta = {**START["metadata"], "queueName": "Support"}  # type: ignore[dict-item]
    r = RingCXReceiver()
    ev = r.receive_text(dumps({"event": "Start", "metadata": meta}))
    assert isinstance(ev, Start)
    assert ev.metadata.extra == {"queueName": "Support"}


def test_builders_produce_what_the_receiver_reads() -> None:
    r = RingCXReceiver()
    assert isinstance(r.receive_text(build_connected()), Connected)
    ev = r.receive_text(build_start({"callId": "abc", "agentId": 7}))
    assert isinstance(ev, Start)
    assert ev.metadata.call_id == "abc"
    payload = bytes(range(160))
    m = r.receive_text(build_media(Perspective.CONFERENCE, 42, payload))
    assert m == Media(Perspective.CONFERENCE, 42, payload)
    s = r.receive_text(build_stop(1.5, "2026-01-01T00:00:00Z"))
    assert isinstance(s, Stop)
    assert s.duration == 1.5


def test_receiver_rejects_a_tiny_message_limit() -> None:
    with pytest.raises(ValueError, match="max_message_chars"):
        RingCXReceiver(max_message_chars=10)
